"""The Jekimo client accepts every answer Jekimo's document shows or allows (seeds/jekimo.txt), checked
example by example against a scripted server, and every reading of it against the sandbox; what it
cannot use ends in a typed error, never an untyped exception."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from pydantic import ValidationError

from devstack.sandboxes.jekimo import JekimoSandbox
from devstack.sandboxes.jekimo_answers import AnswerShapes
from idgate.announced import Announced
from idgate.api import Caller
from idgate.domain import Reason, Status
from idgate.errors import ProviderFailed, ProviderRejected, ProviderUnavailable
from idgate.follow_state import FollowState
from idgate.ports import Dependencies
from idgate.providers.base import NewVerification, StartRequest
from idgate.providers.jekimo import JekimoOptions, JekimoProvider
from idgate.providers.jekimo_answers import TokenAnswer, http_url, issued_at
from idgate.qr import qr_data_uri
from idgate.service import Idgate
from tests.support.clock import FakeClock
from tests.support.http_server import json_answer, scripted_server, serve_sandbox
from tests.support.memory_store import fresh_session_store
from tests.support.providers import provider_context
from tests.support.sessions import open_session

API_KEY = "jekimo-test-key"
TOKEN = "b916b66831cab6567be9956b6f87cf64c539f1f89e1f04577a8be24af73d5d8d"
LOGIN = "https://www.jekimo.com/app.php/v1.1/en/user/login/b916b66831..."
ISSUED = datetime(2025, 11, 30, 10, 40, tzinfo=UTC)  # the document's timestamp, 1764499200
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 16).decode()


def provider_for(base_url: str) -> JekimoProvider:
    return JekimoProvider.from_context(
        provider_context("jekimo", {"api_key": API_KEY}, variables={"BASE_URL": f"{base_url}/app.php/v1.1"})
    )


def start_with(answer: dict[str, Any], status: int = 200) -> NewVerification:
    with scripted_server(json_answer(answer, status=status)) as server:
        return provider_for(server.url).start(StartRequest("s", None, JekimoOptions()))


def check_with(answer: dict[str, Any], *, two_factor: bool = False, min_age: int | None = None):
    options = JekimoOptions(two_factor=two_factor, min_age=min_age).model_dump(exclude_none=True)
    session = open_session("jekimo", provider_token=TOKEN, options=options)
    with scripted_server(json_answer(answer)) as server:
        return provider_for(server.url).observe(session)


# ---- the document's examples, one test each ---------------------------------------------------------


def test_the_documents_gettoken_answer_is_accepted():
    # The document's "qrcode": "..." is a placeholder (and its sample lacks a comma): neither an image
    # nor a link, so idgate draws the QR code of `url` itself.
    started = start_with({"token": TOKEN, "timestamp": 1764499200, "qrcode": "...", "url": LOGIN})
    assert started.verification_url == LOGIN
    assert started.expires_at == ISSUED + timedelta(seconds=120)
    assert started.provider_token == TOKEN
    assert started.qr_image is None


@pytest.mark.parametrize("status", [200, 401])
def test_the_documents_gettoken_error_is_an_auth_failure(status):
    with pytest.raises(ProviderFailed) as failure:
        start_with({"error": "Invalid API key"}, status=status)
    assert failure.value.code == Reason.PROVIDER_AUTH_FAILED.value


def test_the_documents_created_answer_is_pending():
    seen = check_with({"status": "created", "risk": False, "pin": 0}, two_factor=True)
    assert (seen.status, seen.provider_status) == (Status.PENDING, "created")


def test_the_documents_ok_answer_with_risk_and_no_pin_is_approved_with_the_risk_flagged():
    seen = check_with({"status": "OK", "risk": True, "pin": 0}, min_age=18)
    assert (seen.status, seen.risk, seen.second_factor_code) == (Status.APPROVED, True, None)
    assert seen.reasons == (Reason.RISK_FLAGGED.value,)
    assert seen.data == {"min_age_verified": 18}


def test_the_documents_ok_answer_with_a_6_digit_pin_asks_for_it():
    seen = check_with({"status": "OK", "risk": True, "pin": 293812}, two_factor=True)
    assert (seen.status, seen.risk, seen.second_factor_code) == (Status.AWAITING_PIN, True, "293812")


def test_the_documents_ko_answer_is_declined():
    seen = check_with({"status": "KO", "risk": True, "pin": 0})
    assert (seen.status, seen.risk, seen.reasons) == (
        Status.DECLINED,
        True,
        (Reason.PROVIDER_DECLINED.value,),
    )


def test_the_php_samples_answer_is_approved_without_risk():
    seen = check_with({"status": "OK", "risk": False, "pin": 0}, two_factor=True)
    assert (seen.status, seen.risk, seen.reasons) == (Status.APPROVED, False, ())


@pytest.mark.parametrize("status", [200, 401])
def test_the_documents_check_error_is_a_rejected_token(status):
    with scripted_server(json_answer({"error": "Invalid Token"}, status=status)) as server:
        session = open_session("jekimo", provider_token=TOKEN)
        with pytest.raises(ProviderRejected) as failure:
            provider_for(server.url).observe(session)
    assert failure.value.reason == Reason.PROVIDER_TOKEN_REJECTED


# ---- gettoken: every shape the document allows -------------------------------------------------------


@pytest.mark.parametrize(
    "timestamp",
    [
        1764499200,
        1764499200000,
        "1764499200",
        "1764499200000",
        1764499200.0,
        "2025-11-30T10:40:00Z",
        "2025-11-30T11:40:00+01:00",
    ],
)
def test_a_timestamp_in_seconds_milliseconds_or_as_a_string_is_the_same_instant(timestamp):
    started = start_with({"token": TOKEN, "timestamp": timestamp, "url": LOGIN})
    assert started.expires_at == ISSUED + timedelta(seconds=120)


@pytest.mark.parametrize(
    "timestamp",
    [None, True, "soon", "", -1, 0, 10**20, "2025-11-30T10:40:00", "NaN", 4102444800, [1764499200]],
)
def test_an_unreadable_timestamp_is_a_typed_bad_response(timestamp):
    with pytest.raises(ProviderFailed) as failure:
        start_with({"token": TOKEN, "timestamp": timestamp, "url": LOGIN})
    assert failure.value.code == Reason.PROVIDER_BAD_RESPONSE.value


def test_a_missing_timestamp_is_a_typed_bad_response():
    with pytest.raises(ProviderFailed) as failure:
        start_with({"token": TOKEN, "url": LOGIN})
    assert failure.value.code == Reason.PROVIDER_BAD_RESPONSE.value


def test_a_qrcode_image_is_kept_as_jekimos_qr_code():
    started = start_with({"token": TOKEN, "timestamp": 1764499200, "qrcode": PNG, "url": LOGIN})
    assert started.qr_image == f"data:image/png;base64,{PNG}"
    assert started.verification_url == LOGIN


def test_a_qrcode_link_is_the_login_link_when_there_is_no_url():
    started = start_with({"token": TOKEN, "timestamp": 1764499200, "qrcode": LOGIN})
    assert started.verification_url == LOGIN
    assert started.qr_image is None


def test_url_wins_over_a_qrcode_link_and_a_url_that_is_no_link_is_not_shown():
    other = "https://www.jekimo.com/m/b916"
    assert (
        start_with({"token": TOKEN, "timestamp": 1764499200, "qrcode": other, "url": LOGIN}).verification_url
        == LOGIN
    )
    shown = start_with(
        {"token": TOKEN, "timestamp": 1764499200, "qrcode": other, "url": "javascript:alert(1)"}
    )
    assert shown.verification_url == other


@pytest.mark.parametrize(
    "answer",
    [
        {"token": TOKEN, "timestamp": 1764499200},
        {"token": TOKEN, "timestamp": 1764499200, "qrcode": PNG},
        {"token": TOKEN, "timestamp": 1764499200, "qrcode": "...", "url": "www.jekimo.com/login"},
        {"token": TOKEN, "timestamp": 1764499200, "qrcode": "javascript:alert(1)"},
    ],
)
def test_an_answer_without_a_link_for_the_user_is_a_typed_bad_response(answer):
    with pytest.raises(ProviderFailed) as failure:
        start_with(answer)
    assert failure.value.code == Reason.PROVIDER_BAD_RESPONSE.value


@pytest.mark.parametrize("answer", [{"timestamp": 1764499200, "url": LOGIN}, {"token": "", "url": LOGIN}])
def test_an_answer_without_a_token_is_a_typed_bad_response(answer):
    with pytest.raises(ProviderFailed) as failure:
        start_with(answer)
    assert failure.value.code == Reason.PROVIDER_BAD_RESPONSE.value


# ---- check: a missing risk is unknown, and the PIN decides the second factor -------------------------


@pytest.mark.parametrize(
    ("answer", "two_factor", "status", "risk", "code"),
    [
        # Without `risk`: unknown, never "no risk".
        ({"status": "OK", "pin": 0}, False, Status.APPROVED, None, None),
        ({"status": "OK", "pin": 0}, True, Status.APPROVED, None, None),
        ({"status": "OK"}, False, Status.APPROVED, None, None),
        ({"status": "KO", "pin": 0}, False, Status.DECLINED, None, None),
        ({"status": "created", "pin": 0}, True, Status.PENDING, None, None),
        # A PIN is Jekimo asking for the second factor, whatever `risk` says or does not say.
        ({"status": "OK", "pin": 293812}, True, Status.AWAITING_PIN, None, "293812"),
        ({"status": "OK", "risk": False, "pin": 293812}, True, Status.AWAITING_PIN, False, "293812"),
        ({"status": "OK", "risk": None, "pin": "293812"}, True, Status.AWAITING_PIN, None, "293812"),
        ({"status": "OK", "risk": True, "pin": 42}, True, Status.AWAITING_PIN, True, "000042"),
        # Without two-factor, idgate kept no email to send a PIN to: the verdict stands, risk and all.
        ({"status": "OK", "risk": True, "pin": 293812}, False, Status.APPROVED, True, None),
        # No risk said and no PIN field: no second factor can be owed.
        ({"status": "OK", "risk": False}, True, Status.APPROVED, False, None),
    ],
)
def test_risk_and_pin_as_jekimo_gives_them(answer, two_factor, status, risk, code):
    seen = check_with(answer, two_factor=two_factor)
    assert (seen.status, seen.risk, seen.second_factor_code) == (status, risk, code)
    assert seen.reasons == ((Reason.RISK_FLAGGED.value,) if risk else ()) + (
        (Reason.PROVIDER_DECLINED.value,) if status is Status.DECLINED else ()
    )


@pytest.mark.parametrize(
    "answer", [{"status": "OK", "risk": True}, {"status": "OK"}, {"status": "OK", "risk": None}]
)
def test_an_ok_that_may_owe_a_pin_but_says_nothing_of_it_is_retried_not_approved(answer):
    with pytest.raises(ProviderUnavailable) as failure:
        check_with(answer, two_factor=True)
    assert failure.value.reason == Reason.PROVIDER_BAD_RESPONSE


@pytest.mark.parametrize(
    "answer",
    [
        {"status": "OK", "risk": "perhaps", "pin": 0},
        {"status": "OK", "risk": False, "pin": True},
        {"status": "OK", "risk": False, "pin": -1},
        {"status": "OK", "risk": False, "pin": 1_000_000},
        {"status": "OK", "risk": False, "pin": "29381a"},
        {"risk": False, "pin": 0},
    ],
)
def test_an_unreadable_check_is_a_typed_retryable_failure(answer):
    with pytest.raises(ProviderUnavailable) as failure:
        check_with(answer, two_factor=True)
    assert failure.value.reason == Reason.PROVIDER_BAD_RESPONSE


# ---- against the sandbox, in each of its readings ------------------------------------------------------


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def serve(clock: FakeClock, **shapes: Any):
    return serve_sandbox(lambda url: JekimoSandbox(API_KEY, url, clock=clock, shapes=AnswerShapes(**shapes)))


@pytest.mark.parametrize(
    ("shapes", "qr_image"),
    [
        ({}, True),
        ({"qrcode": "link"}, False),
        ({"timestamp": "milliseconds"}, True),
        ({"timestamp": "string"}, True),
        ({"with_url": False, "qrcode": "link"}, False),
    ],
)
def test_every_reading_of_gettoken_starts_a_verification(clock, shapes, qr_image):
    with serve(clock, **shapes) as (_, url):
        started = provider_for(url).start(StartRequest("s", None, JekimoOptions()))
    assert started.verification_url == f"{url}/app.php/v1.1/en/user/login/{started.provider_token}"
    assert started.expires_at == datetime.fromtimestamp(int(clock.now) + 120, UTC)
    assert (started.qr_image is not None) is qr_image


def test_no_url_and_an_image_qrcode_leaves_nothing_to_show_on_a_phone(clock):
    with serve(clock, with_url=False) as (_, url), pytest.raises(ProviderFailed) as failure:
        provider_for(url).start(StartRequest("s", None, JekimoOptions()))
    assert failure.value.code == Reason.PROVIDER_BAD_RESPONSE.value


def test_without_risk_the_sandboxs_approval_has_an_unknown_risk(clock):
    with serve(clock, with_risk=False) as (_, url):
        provider = provider_for(url)
        started = provider.start(StartRequest("s", None, JekimoOptions()))
        session = open_session("jekimo", started)
        assert provider.observe(session).status is Status.PENDING
        act(started.verification_url, {"outcome": "approved", "risk": True})
        seen = provider.observe(session)
    assert (seen.status, seen.risk, seen.reasons) == (Status.APPROVED, None, ())


# ---- through the use cases: the QR code shown, and the PIN never skipped ---------------------------------


CALLER = Caller(kind="secret", client_id="shop")


class Outside:
    def __init__(self) -> None:
        self.mails: list[dict[str, str]] = []

    def start(self, state: FollowState) -> None: ...

    def session_finalized(self, session: Announced) -> None: ...

    def send_pin(self, *, to: str, pin: str, valid_minutes: int) -> None:
        self.mails.append({"to": to, "pin": pin})


@pytest.fixture
def sandbox_and_idgate(clock) -> Iterator[tuple[JekimoSandbox, Idgate, Outside]]:
    outside = Outside()
    with serve(clock) as (sandbox, url):
        service = Idgate(
            Dependencies(
                sessions=fresh_session_store(),
                providers={"jekimo": provider_for(url)},
                starter=outside,
                publisher=outside,
                mailer=outside,
                poll_interval_seconds=5,
                pin_ttl=timedelta(minutes=10),
                pin_max_attempts=5,
                clock=lambda: datetime.fromtimestamp(clock.now, UTC),
            )
        )
        yield sandbox, service, outside


def test_a_qrcode_link_gives_idgates_own_qr_code_of_the_url_it_shows(sandbox_and_idgate):
    sandbox, service, _ = sandbox_and_idgate
    sandbox.shapes = AnswerShapes(qrcode="link")
    session, _, qr_code = service.create_session(CALLER, {"provider": "jekimo"})
    assert session.verification_url is not None
    assert qr_code == qr_data_uri(session.verification_url)


def test_an_unknown_risk_with_a_pin_awaits_the_pin_and_emails_it(sandbox_and_idgate):
    sandbox, service, outside = sandbox_and_idgate
    sandbox.shapes = AnswerShapes(with_risk=False)
    body = {"provider": "jekimo", "email": "u@example.com", "options": {"two_factor": True}}
    session, client_secret, _ = service.create_session(CALLER, body)
    assert session.verification_url is not None
    act(session.verification_url, {"outcome": "approved", "risk": True, "pin": 293812})

    service.poll(FollowState(session_id=session.id, interval_seconds=5, wait_seconds=5))

    assert service.get_session(CALLER, session.id, None).status is Status.AWAITING_PIN
    assert outside.mails == [{"to": "u@example.com", "pin": "293812"}]
    approved = service.submit_pin(CALLER, session.id, client_secret, "293812")
    assert approved.status is Status.APPROVED
    assert approved.result is not None
    assert approved.result.risk is None
    assert approved.result.reasons == [Reason.SECOND_FACTOR_VERIFIED.value]


def act(verification_url: str, outcome: dict[str, Any]) -> None:
    answer = requests.post(verification_url, json=outcome, timeout=5)
    assert answer.status_code == 200, answer.text


#: 2,049 characters.
LONG_LINK = "https://login.example/" + "t" * 2027


@pytest.mark.parametrize(
    "link",
    [
        "ftp://login.example/t",  # not http(s)
        "https:///t",  # no host
        "https://someone@login.example/t",  # user info: a link that may show another host
        "https://login.example/a b",
        LONG_LINK,  # longer than 2,048 characters
    ],
    ids=["ftp", "no-host", "user-info", "space", "too-long"],
)
def test_only_a_plain_http_link_of_at_most_2048_characters_is_shown_to_a_user(link):
    assert http_url(link) is None


def test_a_link_of_2048_characters_is_shown():
    link = LONG_LINK[:-1]
    assert len(link) == 2048
    assert http_url(link) == link


def test_a_timestamp_is_believed_from_2020_until_2100_excluded():
    assert issued_at("2020-01-01T00:00:00+00:00") == datetime(2020, 1, 1, tzinfo=UTC)
    assert issued_at(1_577_836_800) == datetime(2020, 1, 1, tzinfo=UTC)
    assert issued_at("2099-12-31T23:59:59+00:00") == datetime(2099, 12, 31, 23, 59, 59, tzinfo=UTC)
    for unbelievable in ("2019-12-31T23:59:59+00:00", "2100-01-01T00:00:00+00:00"):
        with pytest.raises(ValidationError):
            TokenAnswer.model_validate({"token": "t", "timestamp": unbelievable})
