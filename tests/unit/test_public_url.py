"""The base of the providers' webhook URLs is `PublicApiUrl` or https on the API's own domain, never a
scheme or a host that a caller chose."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from idgate.http_api import api_base_url
from idgate.public_url import api_base_url as base_url
from idgate.public_url import checked_public_api_url, is_host_name
from idgate.settings import Settings, SettingsError

EVENT = Path(__file__).resolve().parents[2] / "events" / "api-create-session.json"
REQUIRED = {"SESSIONS_TABLE": "sessions", "KEYS_TABLE": "keys"}


@pytest.mark.parametrize(
    ("configured", "used"),
    [
        ("https://api.example.com", "https://api.example.com"),
        ("https://api.example.com/", "https://api.example.com"),
        ("https://id.example.com:8443/idgate/", "https://id.example.com:8443/idgate"),
        ("http://127.0.0.1:3000", "http://127.0.0.1:3000"),  # the local stack
        ("http://localhost:3000/", "http://localhost:3000"),
        ("http://[::1]:3000", "http://[::1]:3000"),
        ("", ""),
    ],
)
def test_a_public_api_url_is_https_or_http_on_a_loopback_host(configured: str, used: str) -> None:
    assert checked_public_api_url(configured) == used
    assert Settings.from_environ({**REQUIRED, "PUBLIC_API_URL": configured}).public_api_url == used


@pytest.mark.parametrize(
    "configured",
    [
        "javascript://evil.example/%0Aalert(1)",
        "http://api.example.com",  # http off the machine
        "http://127.0.0.1.evil.example:3000",
        "ftp://api.example.com",
        "api.example.com",
        "//api.example.com",
        "https://",
        "https://user:pass@api.example.com",
        "https://api.example.com?next=evil",
        "https://api.example.com/#frag",
        "https://api.example.com?",
        "https://api example.com",
        "https://api.example.com\n.evil",
        "https://api.example.com:99999",
        "https://api.example.com/a b",
    ],
)
def test_anything_else_stops_the_function_at_its_first_use_of_the_settings(configured: str) -> None:
    with pytest.raises(ValueError, match=r"must|not a URL"):
        checked_public_api_url(configured)
    with pytest.raises(SettingsError, match=r"PUBLIC_API_URL: (must|not a URL)"):
        Settings.from_environ({**REQUIRED, "PUBLIC_API_URL": configured})


def test_the_configured_url_wins_over_the_domain_the_api_was_called_on() -> None:
    assert base_url("https://id.example.com", "abc123.execute-api.eu-west-1.amazonaws.com") == (
        "https://id.example.com"
    )


@pytest.mark.parametrize(
    "domain", ["abc123.execute-api.eu-west-1.amazonaws.com", "api.example.com", "api.example.com:8443"]
)
def test_without_one_it_is_https_on_the_apis_domain(domain: str) -> None:
    assert is_host_name(domain)
    assert base_url("", domain) == f"https://{domain}"


@pytest.mark.parametrize(
    "domain",
    [
        "",
        "evil.example/path",
        "javascript://evil.example",
        "javascript:alert(1)",
        "user@evil.example",
        "evil.example\r\nX-Injected: 1",
        "evil.example ",
        "evil..example",
        "-evil.example",
        ".example",
        "evil.example:",
        "evil.example:99999",
        "evil.example?x",
        "[::1]",
    ],
)
def test_a_domain_name_that_is_not_a_host_name_is_refused(domain: str) -> None:
    assert not is_host_name(domain)
    with pytest.raises(ValueError, match="PublicApiUrl"):
        base_url("", domain)


def resolved_base_url(public_api_url: str, headers: dict[str, str], domain: str) -> Any:
    """What a handler builds for a request with these headers and this request-context domain."""
    app = APIGatewayHttpResolver()

    @app.post("/v1/sessions")
    def create() -> dict[str, str]:
        try:
            return {"base": api_base_url(app, public_api_url)}
        except ValueError:
            return {"base": "refused"}

    event = json.loads(EVENT.read_text())
    event["headers"].update(headers)
    event["requestContext"]["domainName"] = domain
    return json.loads(app.resolve(event, None)["body"])["base"]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "forged",
    [
        {"x-forwarded-proto": "javascript"},
        {"x-forwarded-proto": "http"},
        {"host": "evil.example", "x-forwarded-host": "evil.example"},
        {"forwarded": "proto=http;host=evil.example"},
    ],
)
def test_a_handler_ignores_forged_scheme_and_host_headers(forged: dict[str, str]) -> None:
    assert resolved_base_url("", forged, "api.example.com") == "https://api.example.com"
    assert resolved_base_url("https://id.example.com", forged, "api.example.com") == "https://id.example.com"


def test_a_handler_refuses_a_forged_domain_name_unless_the_url_is_configured() -> None:
    forged = "javascript://evil.example/%0a"
    assert resolved_base_url("", {}, forged) == "refused"
    assert resolved_base_url("https://id.example.com", {}, forged) == "https://id.example.com"
