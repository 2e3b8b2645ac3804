"""Settings are read from the environment once, each variable as pydantic read it when Settings was a pydantic
model (idgate.settings says why it no longer is), and every wrong variable is named at once."""

from __future__ import annotations

from typing import Annotated

import pytest
from pydantic import Field, TypeAdapter, ValidationError

from idgate.settings import Settings, SettingsError, parse_flag, parse_integer, variable_of

REQUIRED = {"SESSIONS_TABLE": "sessions", "KEYS_TABLE": "keys"}
INTEGERS = ["5", " 5 ", "05", "+5", "5.0", "5.00", " +5.0 ", "1_0", "-0", "0", "60", "61", "-3"]
NOT_INTEGERS = ["", " ", "x", "5.5", "5.", "1__0", "_1", "1_", "0x5", "1e1", "\u0665", "5 5", "++5"]
FLAGS = ["1", "0", "true", "True", "TRUE", "false", "yes", "no", "on", "off", "t", "f", "y", "n", "Y", "oN"]
NOT_FLAGS = ["", " true", "true ", "2", "yess", "nope", "-1"]


@pytest.mark.parametrize("text", INTEGERS + NOT_INTEGERS)
def test_an_integer_setting_is_read_as_pydantic_read_it(text: str) -> None:
    # Given pydantic's reading of the same text, for a field bounded as POLL_INTERVAL_SECONDS is
    pydantic = TypeAdapter(Annotated[int, Field(ge=1, le=60)])
    try:
        expected: int | None = pydantic.validate_python(text)
    except ValidationError:
        expected = None
    # When idgate reads it
    try:
        read: int | None = parse_integer(text, low=1, high=60)
    except ValueError:
        read = None
    # Then both read the same number, or both refuse it
    assert read == expected


@pytest.mark.parametrize("text", FLAGS + NOT_FLAGS)
def test_a_flag_setting_is_read_as_pydantic_read_it(text: str) -> None:
    try:
        expected: bool | None = TypeAdapter(bool).validate_python(text)
    except ValidationError:
        expected = None
    try:
        read: bool | None = parse_flag(text)
    except ValueError:
        read = None
    assert read == expected


def test_defaults_fill_what_the_environment_leaves_out() -> None:
    settings = Settings.from_environ(REQUIRED)
    assert (settings.sessions_table, settings.keys_table) == ("sessions", "keys")
    assert settings.poll_interval_seconds == 5
    assert settings.retention_days == 30
    assert settings.event_bus_name == "default"
    assert settings.allow_unredacted_images is False
    assert settings.tracing is False
    assert settings.other_variables == {}


def test_each_variable_sets_its_setting() -> None:
    settings = Settings.from_environ(
        {
            **REQUIRED,
            "POLL_INTERVAL_SECONDS": "7",
            "ALLOW_UNREDACTED_IMAGES": "true",
            "POWERTOOLS_TRACE_DISABLED": "false",
            "RETURN_URL_ALLOWED_HOSTS": " Shop.example.com, ,app.example.com",
            "PUBLIC_API_URL": "https://id.example.com/",
        }
    )
    assert settings.poll_interval_seconds == 7
    assert settings.allow_unredacted_images is True
    assert settings.tracing is True
    assert settings.return_url_hosts == {"shop.example.com", "app.example.com"}
    assert settings.public_api_url == "https://id.example.com"
    assert variable_of("poll_interval_seconds") == "POLL_INTERVAL_SECONDS"


def test_the_other_variables_are_the_providers_and_never_shown() -> None:
    settings = Settings.from_environ(
        {**REQUIRED, "OKID_BASE_URL": "https://okid", "OKID_": "x", "AWS_REGION": "r", "_HANDLER": "h"}
    )
    assert settings.other_variables == {"OKID_BASE_URL": "https://okid", "OKID_": "x"}
    assert settings.variables_of("okid") == {"BASE_URL": "https://okid"}
    assert "okid" not in repr(settings)


def test_every_wrong_variable_is_named_with_its_problem_at_once() -> None:
    # Given an environment without the tables, with a number out of its bounds and a flag that is none
    environ = {"POLL_INTERVAL_SECONDS": "0", "ALLOW_UNREDACTED_IMAGES": "maybe", "RETENTION_DAYS": "x"}
    # When the settings are read, then they fail, naming each variable and what is wrong with it
    with pytest.raises(SettingsError) as raised:
        Settings.from_environ(environ)
    assert raised.value.problems == {
        "SESSIONS_TABLE": "missing",
        "KEYS_TABLE": "missing",
        "RETENTION_DAYS": "must be an integer, not 'x'",
        "POLL_INTERVAL_SECONDS": "must be at least 1, not 0",
        "ALLOW_UNREDACTED_IMAGES": "must be one of true, false (or 1, 0, yes, no, on, off), not 'maybe'",
    }
    message = str(raised.value)
    assert message.startswith("5 invalid setting(s) in the environment:\n  SESSIONS_TABLE: missing\n")


def test_the_settings_are_immutable() -> None:
    settings = Settings.from_environ(REQUIRED)
    with pytest.raises(AttributeError):
        settings.poll_interval_seconds = 9  # type: ignore[misc]
