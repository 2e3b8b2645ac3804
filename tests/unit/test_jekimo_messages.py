"""What the Jekimo client's errors say, to whom reads them: an API error's message (the integrator), a
failed look's message (the operator, in the logs and the state machine's record of a failed step). Each
names Jekimo and what about its answer or the request was wrong (tests/support/messages.py)."""

from __future__ import annotations

from typing import Any

import pytest

from idgate.errors import ProviderFailed, ProviderRejected, ProviderUnavailable, ValidationFailed
from idgate.providers.base import StartRequest
from idgate.providers.jekimo import JekimoOptions, JekimoProvider
from tests.support.http_server import json_answer, scripted_server
from tests.support.messages import says
from tests.support.providers import provider_context
from tests.support.sessions import open_session

TOKEN = {"token": "t" * 64, "timestamp": 1_764_499_200}


def provider_for(base_url: str) -> JekimoProvider:
    return JekimoProvider.from_context(
        provider_context("jekimo", {"api_key": "key"}, variables={"BASE_URL": f"{base_url}/app.php/v1.1"})
    )


def start_with(answer: dict[str, Any]) -> str:
    with scripted_server(json_answer(answer)) as server, pytest.raises(ProviderFailed) as failure:
        provider_for(server.url).start(StartRequest("s", None, JekimoOptions()))
    return failure.value.message


def check_with(answer: dict[str, Any], *, two_factor: bool = False) -> str:
    session = open_session("jekimo", provider_token="t" * 64, options={"two_factor": two_factor})
    with (
        scripted_server(json_answer(answer)) as server,
        pytest.raises((ProviderUnavailable, ProviderRejected)) as failure,
    ):
        provider_for(server.url).observe(session)
    return str(failure.value)


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        ({"error": "Invalid API key"}, ("Jekimo", "start a verification")),
        ({"token": "t" * 64}, ("Jekimo", "unreadable", "timestamp")),
        ({**TOKEN, "qrcode": "not-a-link"}, ("Jekimo", "no link for the user")),
    ],
    ids=["refused", "unreadable", "no-link"],
)
def test_a_failed_start_tells_the_integrator_what_jekimo_answered(
    answer: dict[str, Any], words: tuple[str, ...]
):
    says(start_with(answer), *words)


@pytest.mark.parametrize(
    ("answer", "two_factor", "words"),
    [
        ({"error": "token expired"}, False, ("Jekimo", "refused the check")),
        ({"status": "OK", "pin": "seven"}, False, ("unreadable", "Jekimo check answer")),
        ({"status": "MAYBE"}, False, ("unknown", "Jekimo status")),
        ({"status": "OK", "risk": True}, True, ("Jekimo", "nothing of the PIN")),
    ],
    ids=["refused", "unreadable", "unknown-status", "pin-unknown"],
)
def test_a_failed_look_tells_the_operator_what_jekimo_answered(
    answer: dict[str, Any], two_factor: bool, words: tuple[str, ...]
):
    says(check_with(answer, two_factor=two_factor), *words)


def test_a_session_without_its_token_says_so():
    session = open_session("jekimo", provider_token=None)
    with pytest.raises(ProviderRejected) as refused:
        provider_for("http://127.0.0.1:9").observe(session)
    says(str(refused.value), "session", "no Jekimo token")


def test_two_factor_without_an_email_tells_the_integrator_what_it_needs():
    with pytest.raises(ValidationFailed) as refused:
        provider_for("http://127.0.0.1:9").parse_options({"two_factor": True}, email=None)
    says(refused.value.message, "two_factor", "email", "PIN")


def test_an_email_in_the_options_is_told_where_it_belongs():
    with pytest.raises(ValidationFailed) as refused:
        provider_for("http://127.0.0.1:9").parse_options({"email": "a@b.co"}, email=None)
    says(refused.value.message, "email", "top level", "options")
