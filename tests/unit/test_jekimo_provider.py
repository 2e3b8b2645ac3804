"""The Jekimo client, over real HTTP: against the sandbox (the documented contract) and against a
scripted server for the failures the sandbox does not produce."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import requests

from devstack.sandboxes.jekimo import JekimoSandbox
from idgate.domain import Reason, Session, Status
from idgate.errors import ProviderFailed, ProviderRejected, ProviderUnavailable, ValidationFailed
from idgate.providers.base import StartRequest
from idgate.providers.http import new_http_session
from idgate.providers.jekimo import JekimoOptions, JekimoProvider
from tests.support.clock import FakeClock
from tests.support.http_server import (
    json_answer,
    scripted_server,
    serve_sandbox,
    slow_answer,
    text_answer,
)
from tests.support.providers import provider_context
from tests.support.sessions import open_session

API_KEY = "jekimo-test-key"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sandbox(clock: FakeClock) -> Iterator[tuple[JekimoSandbox, str]]:
    with serve_sandbox(
        lambda url: JekimoSandbox(api_key=API_KEY, public_base_url=url, clock=clock)
    ) as served:
        yield served


def provider_for(base_url: str, api_key: str = API_KEY) -> JekimoProvider:
    return JekimoProvider.from_context(
        provider_context("jekimo", {"api_key": api_key}, variables={"BASE_URL": f"{base_url}/app.php/v1.1"})
    )


def session_for(started, options: JekimoOptions, email: str | None = None) -> Session:
    return open_session("jekimo", started, email=email, options=options.model_dump(exclude_none=True))


def set_outcome(url: str, outcome: dict) -> None:
    answer = requests.post(url, json=outcome, timeout=5)
    assert answer.status_code == 200, answer.text


def test_start_returns_the_login_url_the_token_and_an_expiry_120_s_after_the_timestamp(sandbox):
    _, url = sandbox
    started = provider_for(url).start(StartRequest("s", None, JekimoOptions(min_age=18)))
    assert started.verification_url.startswith(f"{url}/app.php/v1.1/en/user/login/")
    assert started.provider_token
    assert started.provider_token in started.verification_url
    # the reference is the token's hash: the token itself is a credential, kept only while it is open
    assert started.provider_ref == hashlib.sha256(started.provider_token.encode()).hexdigest()
    assert started.expires_at == datetime.fromtimestamp(1_764_499_200 + 120, UTC)
    assert started.qr_image
    assert started.qr_image.startswith("data:image/png;base64,")


def test_checks_follow_the_user_from_created_to_ok(sandbox):
    _, url = sandbox
    provider = provider_for(url)
    options = JekimoOptions(min_age=21)
    started = provider.start(StartRequest("s", None, options))
    session = session_for(started, options)
    assert provider.observe(session).status is Status.PENDING
    set_outcome(started.verification_url, {"outcome": "approved"})
    seen = provider.observe(session)
    assert (seen.status, seen.provider_status, seen.risk) == (Status.APPROVED, "OK", False)
    assert seen.data == {"min_age_verified": 21}
    assert seen.reasons == ()


def test_ko_is_declined(sandbox):
    _, url = sandbox
    provider = provider_for(url)
    started = provider.start(StartRequest("s", None, JekimoOptions()))
    set_outcome(started.verification_url, {"outcome": "declined"})
    seen = provider.observe(session_for(started, JekimoOptions()))
    assert (seen.status, seen.provider_status) == (Status.DECLINED, "KO")
    assert seen.reasons == (Reason.PROVIDER_DECLINED.value,)


def test_risk_with_two_factor_asks_for_the_pin(sandbox):
    _, url = sandbox
    provider = provider_for(url)
    options = JekimoOptions(two_factor=True)
    started = provider.start(StartRequest("s", None, options))
    set_outcome(started.verification_url, {"outcome": "approved", "risk": True, "pin": 293812})
    seen = provider.observe(session_for(started, options, email="user@example.com"))
    assert (seen.status, seen.second_factor_code, seen.risk) == (Status.AWAITING_PIN, "293812", True)
    assert seen.provider_status == "OK"


def test_risk_without_two_factor_is_approved_with_the_risk_flagged(sandbox):
    _, url = sandbox
    provider = provider_for(url)
    started = provider.start(StartRequest("s", None, JekimoOptions()))
    set_outcome(started.verification_url, {"outcome": "approved", "risk": True})
    seen = provider.observe(session_for(started, JekimoOptions()))
    assert (seen.status, seen.risk, seen.second_factor_code) == (Status.APPROVED, True, None)
    assert seen.reasons == (Reason.RISK_FLAGGED.value,)


def test_a_wrong_api_key_fails_the_start_with_a_reason_code(sandbox):
    _, url = sandbox
    with pytest.raises(ProviderFailed) as failure:
        provider_for(url, api_key="wrong").start(StartRequest("s", None, JekimoOptions()))
    assert failure.value.code == Reason.PROVIDER_AUTH_FAILED.value


def test_an_expired_token_is_rejected_for_good(sandbox, clock):
    _, url = sandbox
    provider = provider_for(url)
    started = provider.start(StartRequest("s", None, JekimoOptions()))
    clock.now += 121
    with pytest.raises(ProviderRejected) as failure:
        provider.observe(session_for(started, JekimoOptions()))
    assert failure.value.reason == Reason.PROVIDER_TOKEN_REJECTED


def test_the_documented_headers_are_sent():
    token = {
        "token": "t" * 64,
        "timestamp": 1_764_499_200,
        "qrcode": "https://x/qr",
        "url": "https://x/login/t",
    }
    created = {"status": "created", "risk": False, "pin": 0}
    with scripted_server(json_answer(token), json_answer(created)) as server:
        started = provider_for(server.url).start(
            StartRequest("s", None, JekimoOptions(min_age=18, two_factor=True))
        )
        provider_for(server.url).observe(session_for(started, JekimoOptions(two_factor=True), "a@b.co"))
    gettoken, check = server.requests
    assert gettoken.path == "/app.php/v1.1/auth/gettoken"
    assert gettoken.headers["x-api-key"] == API_KEY
    assert gettoken.headers["min-age"] == "18"
    assert gettoken.headers["two-af"] == "true"
    assert gettoken.headers["content-type"] == "application/x-www-form-urlencoded"
    # The curl example's spellings only: not the prose's two-fa/twoaf, nor the PHP sample's x-apy-key.
    assert not {"two-fa", "twoaf", "x-apy-key"} & set(gettoken.headers)
    assert not {"two-fa", "twoaf", "x-apy-key"} & set(check.headers)
    assert check.path == "/app.php/v1.1/auth/check"
    assert check.headers["token"] == "t" * 64
    # A QR that is a link is no image: the API generates one from the URL instead.
    assert started.qr_image is None


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (json_answer({"error": "oops"}, status=503), Reason.PROVIDER_UNREACHABLE),
        (text_answer("<html>maintenance</html>"), Reason.PROVIDER_BAD_RESPONSE),
        (json_answer({"status": "MAYBE", "risk": False, "pin": 0}), Reason.PROVIDER_BAD_RESPONSE),
        (json_answer(["not", "an", "object"]), Reason.PROVIDER_BAD_RESPONSE),
    ],
)
def test_transient_failures_on_check_are_retryable(answer, reason):
    with scripted_server(answer) as server:
        session = session_for(_started(server.url), JekimoOptions())
        with pytest.raises(ProviderUnavailable) as failure:
            provider_for(server.url).observe(session)
    assert failure.value.reason == reason


def test_an_unreachable_provider_is_retryable():
    with scripted_server(json_answer({})) as server:
        dead_url = server.url
    with pytest.raises(ProviderUnavailable) as failure:
        provider_for(dead_url).observe(session_for(_started(dead_url), JekimoOptions()))
    assert failure.value.reason == Reason.PROVIDER_UNREACHABLE


def _started(url: str):
    from idgate.providers.base import NewVerification

    return NewVerification(
        verification_url=f"{url}/login/t",
        expires_at=datetime.now(UTC) + timedelta(seconds=120),
        provider_ref="ref",
        provider_token="t" * 64,
    )


@pytest.mark.parametrize(
    ("options", "email", "field"),
    [
        ({"min_age": 0}, None, "options.min_age"),
        ({"min_age": 100}, None, "options.min_age"),
        ({"min_age": "18"}, None, "options.min_age"),
        ({"two_factor": "yes"}, None, "options.two_factor"),
        ({"two_factor": True}, None, "options"),
        ({"colour": "blue"}, None, "options.colour"),
    ],
)
def test_bad_options_are_refused_with_the_field_named(options, email, field):
    provider = provider_for("http://127.0.0.1:9")
    with pytest.raises(ValidationFailed) as failure:
        provider.parse_options(options, email=email)
    assert failure.value.details["fields"][0]["field"] == field


def test_two_factor_with_an_email_is_accepted():
    parsed = provider_for("http://127.0.0.1:9").parse_options(
        {"two_factor": True, "min_age": 18}, email="a@b.co"
    )
    assert parsed == JekimoOptions(min_age=18, two_factor=True)


def test_a_provider_slower_than_the_time_out_is_retryable():
    with scripted_server(slow_answer(2.0)) as server:
        provider = JekimoProvider.from_context(
            provider_context(
                "jekimo",
                {"api_key": API_KEY},
                variables={"BASE_URL": f"{server.url}/app.php/v1.1"},
                http=new_http_session(timeout=(0.5, 0.3)),
            )
        )
        with pytest.raises(ProviderUnavailable) as failure:
            provider.observe(session_for(_started(server.url), JekimoOptions()))
        # The time-out ended the call, and a read time-out is not retried (the provider may have acted).
        assert "Read timed out" in str(failure.value.__cause__)
        assert len(server.requests) == 1
    assert failure.value.reason == Reason.PROVIDER_UNREACHABLE


def test_without_two_factor_the_header_says_false_and_no_minimum_age_is_sent():
    token = {
        "token": "t" * 64,
        "timestamp": 1_764_499_200,
        "qrcode": "https://x/qr",
        "url": "https://x/login/t",
    }
    with scripted_server(json_answer(token)) as server:
        provider_for(server.url).start(StartRequest("s", None, JekimoOptions()))
    (gettoken,) = server.requests
    assert gettoken.headers["two-af"] == "false"
    assert "min-age" not in gettoken.headers


@pytest.mark.parametrize(
    ("answer", "code"),
    [
        ({"error": "Invalid API key"}, Reason.PROVIDER_AUTH_FAILED),
        ({"token": "t" * 64}, Reason.PROVIDER_BAD_RESPONSE),  # no timestamp
        (
            {"token": "t" * 64, "timestamp": 1_764_499_200, "qrcode": "not-a-link"},
            Reason.PROVIDER_BAD_RESPONSE,
        ),
    ],
)
def test_a_refused_or_unreadable_start_is_a_provider_error_with_its_code(answer, code):
    with scripted_server(json_answer(answer)) as server, pytest.raises(ProviderFailed) as failure:
        provider_for(server.url).start(StartRequest("s", None, JekimoOptions()))
    assert (failure.value.status, failure.value.code) == (502, code.value)
    assert failure.value.message  # some explanation for the integrator


def test_a_session_without_its_token_is_refused_without_asking_jekimo():
    with scripted_server() as server:
        session = session_for(_started(server.url), JekimoOptions()).model_copy(
            update={"provider_token": None}
        )
        with pytest.raises(ProviderRejected) as failure:
            provider_for(server.url).observe(session)
    assert failure.value.reason == Reason.INTERNAL_ERROR
    assert server.requests == []


def test_an_email_given_in_the_options_is_refused():
    with pytest.raises(ValidationFailed) as failure:
        provider_for("http://127.0.0.1:9").parse_options({"email": "a@b.co"}, email=None)
    assert (failure.value.status, failure.value.code) == (422, "validation_error")
    assert failure.value.message


def test_a_second_factor_is_requested_only_with_two_factor():
    provider = provider_for("http://127.0.0.1:9")
    assert provider.second_factor_requested(JekimoOptions(two_factor=True))
    assert not provider.second_factor_requested(JekimoOptions())


def test_the_token_validity_and_a_base_url_with_a_trailing_slash_come_from_the_settings():
    token = {
        "token": "t" * 64,
        "timestamp": 1_764_499_200,
        "qrcode": "https://x/qr",
        "url": "https://x/login/t",
    }
    with scripted_server(json_answer(token)) as server:
        provider = JekimoProvider.from_context(
            provider_context(
                "jekimo",
                {"api_key": API_KEY},
                variables={"BASE_URL": f"{server.url}/app.php/v1.1/", "TOKEN_TTL_SECONDS": "30"},
            )
        )
        started = provider.start(StartRequest("s", None, JekimoOptions()))
    assert started.expires_at == datetime.fromtimestamp(1_764_499_200 + 30, UTC)
    assert [r.path for r in server.requests] == ["/app.php/v1.1/auth/gettoken"]
