"""The Datakeen IDify client, over real HTTP: against the sandbox (the documented contract) and against a
scripted server for the answers the sandbox does not give."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import requests

from devstack.sandboxes.datakeen import DatakeenSandbox
from idgate.domain import Reason, Session, Status
from idgate.errors import ProviderFailed, ProviderRejected, ValidationFailed
from idgate.providers import datakeen_result
from idgate.providers.base import NewVerification, StartRequest, WebhookRequest
from idgate.providers.datakeen import DatakeenOptions, DatakeenProvider
from tests.support.clock import FakeClock
from tests.support.datakeen import LOGIN, PASSWORD, USERNAME, provider_for
from tests.support.http_server import json_answer, scripted_server, serve_sandbox
from tests.support.sessions import open_session


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime.now(UTC).timestamp())


@pytest.fixture
def sandbox(clock: FakeClock) -> Iterator[tuple[DatakeenSandbox, str]]:
    with serve_sandbox(
        lambda url: DatakeenSandbox(USERNAME, PASSWORD, url, token_ttl_seconds=600, clock=clock)
    ) as served:
        yield served


def start(provider: DatakeenProvider, **options: Any) -> NewVerification:
    parsed = provider.parse_options(options, email=None)
    return provider.start(
        StartRequest("ses_1", None, parsed, "https://idgate.example/v1/webhooks/datakeen/t")
    )


def session_for(started: NewVerification, **options: Any) -> Session:
    return open_session("datakeen", started, options=options)


def act(started: NewVerification, outcome: dict[str, Any]) -> None:
    answer = requests.post(started.verification_url, json={"webhook": False, **outcome}, timeout=5)
    assert answer.status_code == 200, answer.text


# ---- starting -----------------------------------------------------------------------------------


def test_start_gives_datakeens_link_its_qr_code_and_an_hour_of_life(sandbox):
    _, url = sandbox
    started = start(provider_for(url))
    assert started.verification_url.startswith(f"{url}/client/test?sessionId=")
    assert len(started.provider_ref) == 24
    assert started.verification_url.endswith(started.provider_ref)
    assert started.qr_image is not None
    assert started.qr_image.startswith("data:image/png;base64,")
    assert started.provider_token is None
    expected = datetime.now(UTC) + timedelta(hours=1)
    assert abs((started.expires_at - expected).total_seconds()) < 5


def test_a_shorter_session_life_comes_from_the_providers_setting(sandbox):
    _, url = sandbox
    started = start(provider_for(url, SESSION_TTL_SECONDS="600"))
    expected = datetime.now(UTC) + timedelta(seconds=600)
    assert abs((started.expires_at - expected).total_seconds()) < 5


def test_start_sends_the_documented_body_with_the_basic_token():
    login = json_answer({"status": 200, "data": {"token": "tok-1"}})
    created = json_answer(
        {"status": 200, "message": "Magic Link", "data": {"link": "https://l/x", "sessionId": "a" * 24}}
    )
    with scripted_server(login, created) as server:
        provider = provider_for(server.url)
        options = DatakeenOptions(
            first_name="Jean",
            last_name="Dupont",
            birth_date="1970-01-31",
            return_url="https://shop.example.com/",
        )
        provider.start(StartRequest("ses_1", "order-1", options, "https://idgate.example/hook/t"))
    auth, session = server.requests
    assert (auth.path, json.loads(auth.body)) == (
        "/backend/auth",
        {"username": USERNAME, "password": PASSWORD},
    )
    assert session.path == "/backend/api/v1/session"
    assert session.headers["authorization"] == "Basic tok-1"
    assert json.loads(session.body) == {
        "QR": True,
        "webhookURL": "https://idgate.example/hook/t",
        "firstName": "Jean",
        "lastName": "Dupont",
        "birthDate": "31/01/1970",
        "callbackURL": "https://shop.example.com/",
    }


@pytest.mark.parametrize(
    "data",
    [
        None,
        {"sessionId": "a" * 24},
        {"link": "https://l/x"},
        {"link": "https://l/x", "sessionId": "../x"},
        {"link": 5, "sessionId": "a" * 24},
    ],
)
def test_a_session_answer_without_a_link_and_a_session_id_is_a_bad_response(data: Any):
    answer = json_answer({"status": 200, "message": "Magic Link", "data": data})
    with scripted_server(LOGIN, answer) as server, pytest.raises(ProviderFailed) as raised:
        start(provider_for(server.url))
    assert (raised.value.status, raised.value.code) == (502, "provider_bad_response")
    assert raised.value.message


def test_a_token_refused_mid_run_is_renewed_once_and_the_call_retried(sandbox, clock):
    _, url = sandbox
    provider = provider_for(url)  # believes its token is good for 24 h; the sandbox's lasts 600 s
    started = start(provider)
    clock.advance(601)
    assert provider.observe(session_for(started)).status is Status.PENDING


def test_a_refused_login_fails_the_start_and_ends_a_follow_up(sandbox):
    _, url = sandbox
    with pytest.raises(ProviderFailed) as at_start:
        start(provider_for(url, password="wrong"))
    assert at_start.value.code == Reason.PROVIDER_AUTH_FAILED.value
    with pytest.raises(ProviderRejected) as later:
        provider_for(url, password="wrong").observe(open_session("datakeen", provider_ref="c" * 24))
    assert later.value.reason == Reason.PROVIDER_AUTH_FAILED


# ---- options ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"min_age": "18"}, "options.min_age"),
        ({"min_age": 0}, "options.min_age"),
        ({"first_name": ""}, "options.first_name"),
        ({"last_name": "x" * 101}, "options.last_name"),
        ({"first_name": "Jean\nDupont"}, "options.first_name"),
        ({"birth_date": "31/01/1970"}, "options.birth_date"),
        ({"birth_date": "1970-02-30"}, "options.birth_date"),
        ({"birth_date": "2999-01-01"}, "options.birth_date"),
        ({"colour": "blue"}, "options.colour"),
    ],
)
def test_options_are_validated_strictly(options, field):
    with pytest.raises(ValidationFailed) as failure:
        provider_for("http://127.0.0.1:9").parse_options(options, email=None)
    assert failure.value.details["fields"][0]["field"] == field


def test_a_return_url_must_be_https_on_an_allowed_host():
    provider = provider_for("http://127.0.0.1:9")
    with pytest.raises(ValidationFailed) as failure:
        provider.parse_options({"return_url": "https://evil.example/"}, email=None)
    assert failure.value.code == "return_url_not_allowed"


def test_only_an_active_template_of_the_account_is_accepted(sandbox):
    _, url = sandbox
    provider = provider_for(url)
    listed = provider.resource("templates")["templates"]
    assert {"id", "name", "default", "status"} <= set(listed[0])
    active = next(t["id"] for t in listed if t["status"] == "active")
    inactive = next(t["id"] for t in listed if t["status"] != "active")
    assert provider.parse_options({"template_id": active}, email=None).template_id == active
    for unknown in (inactive, "0" * 24):
        with pytest.raises(ValidationFailed) as failure:
            provider.parse_options({"template_id": unknown}, email=None)
        assert failure.value.code == "unknown_template"


def test_names_and_birth_date_are_never_part_of_what_is_stored():
    options = DatakeenOptions(first_name="Jean", last_name="Dupont", birth_date="1970-01-31", min_age=18)
    assert options.model_dump(mode="json", exclude_none=True) == {"min_age": 18}


# ---- results ------------------------------------------------------------------------------------


def test_an_approval_is_approved_with_datakeens_state(sandbox):
    _, url = sandbox
    provider = provider_for(url)
    started = start(provider)
    assert provider.observe(session_for(started)).status is Status.PENDING
    act(started, {"outcome": "approved"})
    seen = provider.observe(session_for(started))
    assert (seen.status, seen.provider_status, seen.reasons, seen.data) == (
        Status.APPROVED,
        "ai_approved",
        (),
        {},
    )


def test_a_rejection_is_declined_with_a_reason_per_failing_control_family(sandbox):
    _, url = sandbox
    provider = provider_for(url)
    started = start(provider)
    act(started, {"outcome": "rejected"})
    seen = provider.observe(session_for(started))
    assert (seen.status, seen.provider_status) == (Status.DECLINED, "ai_rejected")
    assert seen.reasons[0] == "document_invalid"
    assert set(seen.reasons) <= {family for family, _ in datakeen_result.CONTROL_FAMILIES}


def test_a_review_then_the_reviewers_decision(sandbox):
    _, url = sandbox
    provider = provider_for(url)
    started = start(provider)
    act(started, {"outcome": "review"})
    assert provider.observe(session_for(started)).status is Status.REVIEW
    act(started, {"outcome": "rejected"})
    seen = provider.observe(session_for(started))
    assert (seen.status, seen.provider_status, seen.reasons) == (
        Status.DECLINED,
        "user_rejected",
        (Reason.PROVIDER_DECLINED.value,),
    )


@pytest.mark.parametrize(
    ("born", "status", "reasons", "data"),
    [
        (date(1990, 1, 1), Status.APPROVED, (), {"min_age_verified": 18}),
        (date(datetime.now(UTC).year - 10, 1, 1), Status.DECLINED, ("under_min_age",), {}),
    ],
)
def test_the_minimum_age_is_checked_from_the_extracted_birth_date(sandbox, born, status, reasons, data):
    _, url = sandbox
    provider = provider_for(url)
    started = start(provider, min_age=18)
    act(started, {"outcome": "approved", "birth_date": born.isoformat()})
    seen = provider.observe(session_for(started, min_age=18))
    assert (seen.status, seen.reasons, seen.data) == (status, reasons, data)


def test_an_abandoned_session_stays_open_then_expires(sandbox, clock):
    _, url = sandbox
    provider = provider_for(url)
    started = start(provider)
    act(started, {"outcome": "abandon"})
    assert provider.observe(session_for(started)).status is Status.PENDING
    clock.advance(3601)
    seen = provider.observe(session_for(started))
    assert (seen.status, seen.reasons) == (Status.EXPIRED, (Reason.VERIFICATION_EXPIRED.value,))


def test_an_unknown_result_shape_leaves_the_session_as_it_is():
    with scripted_server(
        json_answer({"status": 200, "data": {"token": "tok"}}),
        json_answer({"data": {"sessionStatus": "new"}}),
    ) as server:
        seen = provider_for(server.url).observe(open_session("datakeen", provider_ref="e" * 24))
    assert seen.status is Status.PENDING


# ---- webhooks -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"sessionId": "662f5f9c9c18e30012c2f021"},
        {"sessionId": "662f5f9c9c18e30012c2f021", "newStatus": "ai_approved"},
        {
            "analysisId": "a1",
            "entityId": "e1",
            "correlationId": "c1",
            "sessionId": "662f5f9c9c18e30012c2f021",
            "newStatus": "user_approved",
        },
    ],
)
def test_each_documented_webhook_body_names_its_session(body):
    request = WebhookRequest({}, json.dumps(body).encode())
    assert provider_for("http://127.0.0.1:9").webhook_references(request) == ["662f5f9c9c18e30012c2f021"]


@pytest.mark.parametrize("body", [b"{}", b"[]", b'{"sessionId": 7}', b'{"sessionId": "../x"}', b"null"])
def test_a_webhook_naming_no_session_names_none(body):
    assert provider_for("http://127.0.0.1:9").webhook_references(WebhookRequest({}, body)) == []
