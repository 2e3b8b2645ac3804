"""The FACEKI client, over real HTTP: against the sandbox (the documented contract) and against a scripted
server for the answers the sandbox does not give."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from devstack.sandboxes.faceki import FacekiSandbox
from devstack.sandboxes.faceki_records import FAKE_DOCUMENT_NUMBER, FAKE_FULL_NAME
from idgate.domain import Reason, Session, Status
from idgate.errors import ProviderFailed, ProviderRejected, ProviderUnavailable, ValidationFailed
from idgate.providers import faceki_result
from idgate.providers.base import NewVerification, ProcessToken, StartRequest, WebhookRequest
from idgate.providers.faceki import FacekiOptions, FacekiProvider
from tests.support.clock import FakeClock
from tests.support.http_server import json_answer, scripted_server, serve_sandbox
from tests.support.providers import provider_context
from tests.support.sessions import open_session

CLIENT_ID, CLIENT_SECRET = "faceki-test-client", "faceki-test-secret"
HOSTS = frozenset({"shop.example.com"})
TOKEN_ANSWER = {
    "responseCode": 0,
    "data": {"access_token": "tok-1", "expires_in": 3600, "token_type": "Bearer"},
}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime.now(UTC).timestamp())


@pytest.fixture
def sandbox(clock: FakeClock) -> Iterator[tuple[FacekiSandbox, str]]:
    with serve_sandbox(
        lambda url: FacekiSandbox(CLIENT_ID, CLIENT_SECRET, url, token_ttl_seconds=600, clock=clock)
    ) as served:
        yield served


def provider_for(url: str, secret: str = CLIENT_SECRET, token: ProcessToken | None = None) -> FacekiProvider:
    context = provider_context(
        "faceki",
        {"client_id": CLIENT_ID, "client_secret": secret},
        variables={"BASE_URL": url},
        return_url_hosts=HOSTS,
    )
    if token is not None:
        context = type(context)(**{**context.__dict__, "token": token})
    return FacekiProvider.from_context(context)


def start(provider: FacekiProvider, session_id: str = "ses_1", **options: Any) -> NewVerification:
    return provider.start(StartRequest(session_id, None, provider.parse_options(options, email=None)))


def session_for(started: NewVerification, **fields: Any) -> Session:
    return open_session("faceki", started, **fields)


def act(started: NewVerification, outcome: dict[str, Any]) -> dict[str, Any]:
    answer = requests.post(started.verification_url, json={"webhook": False, **outcome}, timeout=5)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


# ---- options -------------------------------------------------------------------------------------


def test_options_default_to_an_hour_with_a_document():
    parsed = provider_for("http://unused").parse_options({}, email=None)
    assert parsed == FacekiOptions(expiry_minutes=60, document_optional=False, return_url=None)


@pytest.mark.parametrize(
    "options",
    [
        {"expiry_minutes": 4},
        {"expiry_minutes": 1441},
        {"expiry_minutes": "60"},
        {"expiry_minutes": None},
        {"expiry_minutes": 60.0},
        {"document_optional": "yes"},
        {"document_optional": 1},
        {"return_url": 5},
        {"unknown": True},
    ],
)
def test_options_are_validated_strictly(options: dict[str, Any]):
    with pytest.raises(ValidationFailed) as raised:
        provider_for("http://unused").parse_options(options, email=None)
    assert raised.value.code == "validation_error"
    assert all(error["field"].startswith("options") for error in raised.value.details["fields"])


@pytest.mark.parametrize(
    "url", ["http://shop.example.com/done", "https://evil.example/done", "https://u@shop.example.com/", "x"]
)
def test_a_return_url_must_be_https_on_an_allowed_host(url: str):
    with pytest.raises(ValidationFailed) as raised:
        provider_for("http://unused").parse_options({"return_url": url}, email=None)
    assert raised.value.code == "return_url_not_allowed"


# ---- starting ------------------------------------------------------------------------------------


def test_start_makes_a_kyc_link_for_the_session(sandbox, clock):
    faceki, url = sandbox
    before = datetime.now(UTC)
    started = start(provider_for(url), "ses_abc", expiry_minutes=30, return_url="https://shop.example.com/x")
    assert started.verification_url == faceki.link_url(started.provider_ref)
    assert before + timedelta(minutes=30) <= started.expires_at <= datetime.now(UTC) + timedelta(minutes=30)
    assert started.provider_token is None
    link = requests.get(started.verification_url, timeout=5)
    assert link.status_code == 200


def test_start_sends_faceki_exactly_the_documented_fields():
    link = {"responseCode": 0, "data": "abc123", "url": "https://apps.faceki.com/kycverify/abc123"}
    with scripted_server(json_answer(TOKEN_ANSWER), json_answer(link)) as server:
        started = start(
            provider_for(server.url), "ses_x", expiry_minutes=15, document_optional=True,
            return_url="https://shop.example.com/back",
        )  # fmt: skip
    token_call, link_call = server.requests
    assert token_call.method == "GET"
    assert token_call.path == "/auth/api/access-token"
    assert link_call.method == "POST"
    assert link_call.path == "/kycverify/api/kycverify/kyc-verify-link"
    assert link_call.headers["authorization"] == "Bearer tok-1"
    assert json.loads(link_call.body) == {
        "expiryTime": 15,
        "applicationId": "ses_x",
        "document_optional": True,
        "redirect_url": "https://shop.example.com/back",
    }
    assert started.verification_url == "https://apps.faceki.com/kycverify/abc123"
    assert started.provider_ref == "abc123"


@pytest.mark.parametrize(
    ("flags", "code"),
    [
        ({"rules": False}, "provider_not_configured"),
        ({"credit": False}, "provider_quota_exceeded"),
        ({"kyc_limit_reached": True}, "provider_quota_exceeded"),
        ({"link_limit_reached": True}, "provider_quota_exceeded"),
    ],
)
def test_an_account_that_cannot_make_links_is_a_clear_error(sandbox, flags: dict[str, bool], code: str):
    faceki, url = sandbox
    faceki.set_account(**flags)
    with pytest.raises(ProviderFailed) as raised:
        start(provider_for(url))
    assert raised.value.code == code
    assert raised.value.status == 502


def test_a_failed_link_generation_is_transient(sandbox):
    faceki, url = sandbox
    faceki.set_account(fail_link=True)
    with pytest.raises(ProviderUnavailable):
        start(provider_for(url))


@pytest.mark.parametrize("code", [1000, 8003, 8016])
def test_codes_that_say_try_again_are_transient_at_creation(code: int):
    with (
        scripted_server(json_answer(TOKEN_ANSWER), json_answer({"responseCode": code})) as server,
        pytest.raises(ProviderUnavailable),
    ):
        start(provider_for(server.url))


@pytest.mark.parametrize(("code", "api_code"), [(5001, "provider_not_configured"), (4242, "provider_error")])
def test_other_refusals_at_creation_are_502s_with_a_code(code: int, api_code: str):
    with (
        scripted_server(json_answer(TOKEN_ANSWER), json_answer({"responseCode": code})) as server,
        pytest.raises(ProviderFailed) as raised,
    ):
        start(provider_for(server.url))
    assert raised.value.code == api_code


@pytest.mark.parametrize(
    "answer",
    [
        {"responseCode": 0, "url": "https://apps.faceki.com/kycverify/x"},
        {"responseCode": 0, "data": "bad id!", "url": "https://apps.faceki.com/kycverify/x"},
        {"responseCode": 0, "data": "abc", "url": "javascript:alert(1)"},
        {"responseCode": 0, "data": "abc"},
    ],
)
def test_a_link_answer_without_a_usable_link_is_a_bad_response(answer: dict[str, Any]):
    with (
        scripted_server(json_answer(TOKEN_ANSWER), json_answer(answer)) as server,
        pytest.raises(ProviderFailed) as raised,
    ):
        start(provider_for(server.url))
    assert raised.value.code == "provider_bad_response"
    assert raised.value.message


def test_wrong_credentials_are_refused_at_creation(sandbox):
    _, url = sandbox
    with pytest.raises(ProviderFailed) as raised:
        start(provider_for(url, secret="wrong"))
    assert raised.value.code == "provider_auth_failed"


# ---- the token -----------------------------------------------------------------------------------


def test_one_token_serves_every_call_until_shortly_before_it_ends(sandbox):
    faceki, url = sandbox
    provider = provider_for(url)
    started = start(provider)
    for _ in range(3):
        provider.observe(session_for(started))
    assert faceki.tokens_issued == 1


def test_a_401_with_a_cached_token_renews_it_once_and_retries_once(sandbox, clock):
    faceki, url = sandbox
    token = ProcessToken()  # the provider thinks its token still valid; FACEKI ended it sooner
    provider = provider_for(url, token=token)
    started = start(provider)
    clock.advance(601)
    assert provider.observe(session_for(started)).status is Status.PENDING
    assert faceki.tokens_issued == 2


def test_a_second_401_is_a_refusal_not_a_loop():
    unauthorized = json_answer(
        {"status": False, "message": "Unauthorized", "statusCode": 401, "data": {}}, 401
    )
    with (
        scripted_server(
            json_answer(TOKEN_ANSWER), unauthorized, json_answer(TOKEN_ANSWER), unauthorized
        ) as server,
        pytest.raises(ProviderRejected) as raised,
    ):
        provider_for(server.url).observe(open_session("faceki", provider_ref="abc"))
    assert raised.value.reason == Reason.PROVIDER_AUTH_FAILED
    assert len(server.requests) == 4


@pytest.mark.parametrize(
    "answer",
    [
        {"responseCode": 0, "data": {}},
        {"responseCode": 0, "data": {"access_token": ""}},
        {"responseCode": 1000, "data": {"access_token": "x"}},
        {"status": False, "message": "", "statusCode": 422, "data": {}},
    ],
)
def test_a_token_answer_without_a_token_is_a_transient_bad_response(answer: dict[str, Any]):
    with scripted_server(json_answer(answer)) as server, pytest.raises(ProviderUnavailable) as raised:
        provider_for(server.url).observe(open_session("faceki", provider_ref="abc"))
    assert raised.value.reason == Reason.PROVIDER_BAD_RESPONSE


def test_a_token_without_a_lifetime_lives_the_documented_hour():
    answer = {"responseCode": 0, "data": {"access_token": "tok-1"}}
    records = {"responseCode": 0, "data": {"records": []}}
    with scripted_server(json_answer(answer), json_answer(records)) as server:
        provider = provider_for(server.url)
        for _ in range(3):
            provider.observe(open_session("faceki", provider_ref="abc"))
    assert [r.path for r in server.requests].count("/auth/api/access-token") == 1


def test_the_credentials_never_appear_in_an_error(caplog: pytest.LogCaptureFixture):
    with pytest.raises(ProviderUnavailable) as raised:
        provider_for("http://127.0.0.1:9").observe(open_session("faceki", provider_ref="abc"))
    assert CLIENT_SECRET not in str(raised.value)
    assert CLIENT_SECRET not in caplog.text


# ---- following -----------------------------------------------------------------------------------


def test_a_link_without_a_record_is_pending(sandbox):
    _, url = sandbox
    provider = provider_for(url)
    observed = provider.observe(session_for(start(provider)))
    assert observed.status is Status.PENDING


def test_an_accepted_record_approves_with_the_document_type_only(sandbox):
    _, url = sandbox
    provider = provider_for(url)
    started = start(provider)
    act(started, {"outcome": "accepted", "documentType": "PASSPORT"})
    observed = provider.observe(session_for(started))
    assert observed.status is Status.APPROVED
    assert observed.provider_status == "ACCEPTED"
    assert observed.data == {"document_type": "passport"}
    assert FAKE_FULL_NAME not in repr(observed)
    assert FAKE_DOCUMENT_NUMBER not in repr(observed)


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (8006, "face_not_found"),
        (5010, "document_expired"),
        (5004, "selfie_liveness_failed"),
        (8002, "document_invalid"),
    ],
)
def test_a_declined_record_gives_its_codes_reason(sandbox, code: int, reason: str):
    _, url = sandbox
    provider = provider_for(url)
    started = start(provider)
    act(started, {"outcome": "declined", "code": code})
    observed = provider.observe(session_for(started))
    assert observed.status is Status.DECLINED
    assert observed.reasons == (reason,)


def test_a_review_waits_for_the_reviewers_decision(sandbox):
    _, url = sandbox
    provider = provider_for(url)
    started = start(provider)
    act(started, {"outcome": "review"})
    assert provider.observe(session_for(started)).status is Status.REVIEW
    act(started, {"outcome": "declined", "code": 5005})
    observed = provider.observe(session_for(started, status=Status.REVIEW))
    assert (observed.status, observed.reasons) == (Status.DECLINED, ("face_mismatch",))


def test_an_expired_link_without_a_record_is_expired(sandbox, clock):
    _, url = sandbox
    provider = provider_for(url)
    started = start(provider, expiry_minutes=5)
    act(started, {"outcome": "abandon"})
    assert provider.observe(session_for(started)).status is Status.PENDING
    clock.advance(5 * 60 + 1)
    observed = provider.observe(session_for(started))
    assert (observed.status, observed.reasons) == (Status.EXPIRED, ("verification_link_expired",))


def test_an_unknown_link_is_a_refusal(sandbox):
    _, url = sandbox
    with pytest.raises(ProviderRejected) as raised:
        provider_for(url).observe(open_session("faceki", provider_ref="0" * 24))
    assert raised.value.reason == Reason.PROVIDER_NOT_FOUND


@pytest.mark.parametrize("status", [500, 503, 429])
def test_server_errors_are_transient(status: int):
    with (
        scripted_server(json_answer(TOKEN_ANSWER), json_answer({}, status)) as server,
        pytest.raises(ProviderUnavailable) as raised,
    ):
        provider_for(server.url).observe(open_session("faceki", provider_ref="abc"))
    assert raised.value.reason == Reason.PROVIDER_UNREACHABLE


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (400, Reason.PROVIDER_ERROR),
        (403, Reason.PROVIDER_ACCESS_DENIED),
        (404, Reason.PROVIDER_NOT_FOUND),
    ],
)
def test_client_errors_are_refusals_with_their_reason(status: int, reason: Reason):
    with (
        scripted_server(json_answer(TOKEN_ANSWER), json_answer({}, status)) as server,
        pytest.raises(ProviderRejected) as raised,
    ):
        provider_for(server.url).observe(open_session("faceki", provider_ref="abc"))
    assert raised.value.reason == reason


def test_a_refused_creation_is_a_502_with_the_refusals_reason():
    with (
        scripted_server(json_answer(TOKEN_ANSWER), json_answer({}, 403)) as server,
        pytest.raises(ProviderFailed) as raised,
    ):
        start(provider_for(server.url))
    assert (raised.value.status, raised.value.code) == (502, "provider_access_denied")
    assert raised.value.message


def test_a_record_status_we_do_not_know_leaves_the_session_as_it_is():
    records = {"responseCode": 0, "data": [{"status": "SOMETHING_NEW"}]}
    with scripted_server(json_answer(TOKEN_ANSWER), json_answer(records)) as server:
        observed = provider_for(server.url).observe(
            open_session("faceki", provider_ref="abc", status=Status.REVIEW)
        )
    assert observed.status is Status.REVIEW
    assert observed.provider_status == "unknown"


def test_the_follow_up_is_a_sparse_safety_net():
    provider = provider_for("http://unused")
    session = open_session("faceki")
    assert provider.next_wait_seconds(session, attempt=0, base_interval=5) == 15
    assert provider.next_wait_seconds(session, attempt=4, base_interval=5) == 30
    assert provider.next_wait_seconds(session, attempt=4, base_interval=1) == 6
    assert provider.follow_limit(Status.REVIEW) == timedelta(hours=1)
    assert provider.follow_limit(Status.PENDING) is None


# ---- the mapping ---------------------------------------------------------------------------------


def test_an_accepted_attempt_wins_over_declined_ones_and_a_review_over_declines():
    accepted = {"status": "ACCEPTED", "documentType": "DL"}
    declined = {"status": "DECLINED", "responseCode": 8009}
    review = {"status": "REVIEW"}
    assert faceki_result.observation([declined, accepted]).status is Status.APPROVED
    assert faceki_result.observation([declined, accepted]).data == {"document_type": "driving_licence"}
    assert faceki_result.observation([declined, review]).status is Status.REVIEW
    both = faceki_result.observation([declined, {"status": "declined", "responseCode": 8018}])
    assert both.reasons == ("poor_lighting", "selfie_multiple_faces")


def test_every_documented_code_has_one_meaning():
    documented = {1000, 7001, *range(8001, 8020), 5001, 5003, 5004, 5005, 5008, 5009, 5010}
    assert documented <= set(faceki_result.CODES)
    assert {code for code in faceki_result.CODES if code} == documented
    assert {7001, 5001, 5003, 5009, 8017} == faceki_result.ACCOUNT_CODES


@pytest.mark.parametrize("code", [None, "8006", 7001, 1000, 31337, True])
def test_a_decline_with_no_verdict_code_is_provider_declined(code: Any):
    assert faceki_result.decline_reason(code) == "provider_declined"


def test_records_are_read_from_the_link_or_a_bare_list():
    record = {"status": "ACCEPTED"}
    assert faceki_result.records_of({"records": [record, "junk"]}) == [record]
    assert faceki_result.records_of([record]) == [record]
    with pytest.raises(faceki_result.UnknownShape):
        faceki_result.records_of({"records": "none"})


# ---- webhooks ------------------------------------------------------------------------------------


def webhook(body: Any) -> WebhookRequest:
    return WebhookRequest(headers={"content-type": "application/json"}, body=json.dumps(body).encode())


def test_a_webhook_names_the_link_of_its_record_read_with_our_token(sandbox):
    _, url = sandbox
    provider = provider_for(url)
    started = start(provider)
    made = act(started, {"outcome": "accepted"})
    body = {"requestId": made["requestId"], "fullName": FAKE_FULL_NAME, "status": "DECLINED", "kycData": {}}
    assert provider.webhook_references(webhook(body)) == [started.provider_ref]


@pytest.mark.parametrize(
    "body", [{}, {"requestId": 5}, {"requestId": "../x"}, [], {"fullName": "x"}, {"requestId": "f" * 24}]
)
def test_a_webhook_naming_no_known_record_names_nothing(sandbox, body: Any):
    _, url = sandbox
    assert provider_for(url).webhook_references(webhook(body)) == []


def test_a_webhook_whose_record_cannot_be_read_is_transient():
    with (
        scripted_server(json_answer(TOKEN_ANSWER), json_answer({}, 503)) as server,
        pytest.raises(ProviderUnavailable),
    ):
        provider_for(server.url).webhook_references(webhook({"requestId": "abc"}))


def test_the_credentials_never_reach_a_log_line_even_at_debug_level(
    sandbox, caplog: pytest.LogCaptureFixture
):
    _, url = sandbox
    caplog.set_level(logging.DEBUG)
    provider_for(url).observe(session_for(start(provider_for(url))))
    # The client's side: the test's HTTP server ("werkzeug") logs what it receives, as FACEKI's would.
    logged = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("werkzeug"))
    assert "/auth/api/access-token" in logged  # urllib3 did log the call
    assert CLIENT_SECRET not in logged
    assert CLIENT_ID not in logged


# ---- refusals, links and webhook records at their edges -----------------------------------------------


@pytest.mark.parametrize("code", [1000, 8003, 8016])
def test_a_creation_refused_for_now_is_an_unreachable_provider(code: int):
    with (
        scripted_server(json_answer(TOKEN_ANSWER), json_answer({"responseCode": code})) as server,
        pytest.raises(ProviderUnavailable) as raised,
    ):
        start(provider_for(server.url))
    assert raised.value.reason == Reason.PROVIDER_UNREACHABLE


@pytest.mark.parametrize(
    ("code", "api_code"),
    [(5003, "provider_quota_exceeded"), (8002, "provider_error"), (4242, "provider_error")],
)
def test_only_our_accounts_refusals_name_their_own_code_at_creation(code: int, api_code: str):
    with (
        scripted_server(json_answer(TOKEN_ANSWER), json_answer({"responseCode": code})) as server,
        pytest.raises(ProviderFailed) as raised,
    ):
        start(provider_for(server.url))
    assert (raised.value.status, raised.value.code) == (502, api_code)
    assert raised.value.message  # some explanation for the integrator


@pytest.mark.parametrize(("length", "made"), [(2048, True), (2049, False)])
def test_a_link_of_at_most_2048_characters_is_accepted(length: int, made: bool):
    link = "https://apps.faceki.com/kycverify/"
    link += "x" * (length - len(link))
    answer = {"responseCode": 0, "data": "abc", "url": link}
    with scripted_server(json_answer(TOKEN_ANSWER), json_answer(answer)) as server:
        if made:
            assert start(provider_for(server.url)).verification_url == link
        else:
            with pytest.raises(ProviderFailed):
                start(provider_for(server.url))


@pytest.mark.parametrize(
    ("code", "error", "reason"),
    [
        (8014, ProviderRejected, Reason.PROVIDER_NOT_FOUND),  # a refusal
        (1000, ProviderUnavailable, Reason.PROVIDER_UNREACHABLE),  # "try again"
        (4242, ProviderUnavailable, Reason.PROVIDER_BAD_RESPONSE),  # a code FACEKI does not document
    ],
)
def test_a_webhook_whose_record_is_refused_says_how(code: int, error: type[Exception], reason: Reason):
    with (
        scripted_server(json_answer(TOKEN_ANSWER), json_answer({"responseCode": code})) as server,
        pytest.raises(error) as raised,
    ):
        provider_for(server.url).webhook_references(webhook({"requestId": "abc"}))
    assert raised.value.reason == reason  # type: ignore[attr-defined]


@pytest.mark.parametrize("data", [["not", "a", "record"], {"linkId": "bad id!"}, {"linkId": 42}, {}])
def test_a_webhook_whose_record_names_no_usable_link_names_nothing(data: Any):
    with scripted_server(json_answer(TOKEN_ANSWER), json_answer({"responseCode": 0, "data": data})) as server:
        assert provider_for(server.url).webhook_references(webhook({"requestId": "abc"})) == []


@pytest.mark.parametrize(
    ("code", "seen"),
    [
        (8013, (Status.PENDING, "NO_RECORD", ())),
        (8015, (Status.EXPIRED, "VERIFICATION_LINK_EXPIRED", ("verification_link_expired",))),
    ],
)
def test_a_link_with_no_record_yet_is_pending_and_an_expired_one_expired(code: int, seen: tuple[Any, ...]):
    with scripted_server(json_answer(TOKEN_ANSWER), json_answer({"responseCode": code})) as server:
        observed = provider_for(server.url).observe(open_session("faceki", provider_ref="abc"))
    assert (observed.status, observed.provider_status, observed.reasons) == seen


# ---- the access token ------------------------------------------------------------------------------------


class IssuedTokens:
    """A shared token that asks for a new one each time and keeps what was issued."""

    def __init__(self) -> None:
        self.issued: list[Any] = []

    def get(self, issue: Any, *, rejected: str | None = None) -> str:
        self.issued.append(issue())
        return str(self.issued[-1].value)


@pytest.mark.parametrize(
    ("expires_in", "lifetime"),
    [(600, 600.0), (1, 1.0), (None, 3600.0), (0, 3600.0), (-5, 3600.0), (True, 3600.0), ("600", 3600.0)],
)
def test_a_token_lives_what_faceki_says_else_the_documented_hour(expires_in: Any, lifetime: float):
    data: dict[str, Any] = {"access_token": "tok-2"}
    if expires_in is not None:
        data["expires_in"] = expires_in
    tokens = IssuedTokens()
    records = {"responseCode": 8013}
    with scripted_server(json_answer({"responseCode": 0, "data": data}), json_answer(records)) as server:
        provider_for(server.url, token=tokens).observe(open_session("faceki", provider_ref="abc"))  # type: ignore[arg-type]
    assert [(t.value, t.lifetime_seconds) for t in tokens.issued] == [("tok-2", lifetime)]
    assert server.requests[1].headers["authorization"] == "Bearer tok-2"


@pytest.mark.parametrize("status", [400, 401, 403, 422])
def test_credentials_refused_at_login_are_an_auth_failure(status: int):
    with (
        scripted_server(json_answer({"message": "no"}, status)) as server,
        pytest.raises(ProviderRejected) as raised,
    ):
        provider_for(server.url).observe(open_session("faceki", provider_ref="abc"))
    assert raised.value.reason == Reason.PROVIDER_AUTH_FAILED


def test_a_base_url_with_a_trailing_slash_is_the_same_api():
    with scripted_server(json_answer(TOKEN_ANSWER), json_answer({"responseCode": 8013})) as server:
        provider_for(server.url + "/faceki/").observe(open_session("faceki", provider_ref="abc"))
    assert [r.path for r in server.requests] == [
        "/faceki/auth/api/access-token",
        "/faceki/kycverify/api/kycverify/link",
    ]


@pytest.mark.parametrize("data", [None, ["tok-2"]])
def test_a_token_answer_without_a_data_object_is_a_bad_response(data: Any):
    with (
        scripted_server(json_answer({"responseCode": 0, "data": data})) as server,
        pytest.raises(ProviderUnavailable) as raised,
    ):
        provider_for(server.url).observe(open_session("faceki", provider_ref="abc"))
    assert raised.value.reason == Reason.PROVIDER_BAD_RESPONSE


def test_faceki_is_looked_at_sparsely_its_webhooks_carry_the_news():
    provider = provider_for("http://unused")
    session = open_session("faceki", provider_ref="abc")
    assert provider.fast_follow_seconds(session, base_interval=5) == 0
    assert (
        provider.next_wait_seconds(session, attempt=0, base_interval=5),
        provider.follow_limit(Status.REVIEW),
    ) == (
        15,
        timedelta(hours=1),
    )


# ---- reading records (faceki_result) ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("records", "seen"),
    [
        ([], (Status.PENDING, "NO_RECORD", (), {})),
        ([{"status": "REVIEW"}], (Status.REVIEW, "REVIEW", (), {})),
        (
            [{"status": "DECLINED", "responseCode": 8002, "documentType": "PASSPORT"}],
            (Status.DECLINED, "DECLINED", ("document_invalid",), {"document_type": "passport"}),
        ),
        (
            [{"status": "DECLINED", "documentType": "SCROLL"}],
            (Status.DECLINED, "DECLINED", ("provider_declined",), {}),
        ),
        ([{"status": "ACCEPTED"}], (Status.APPROVED, "ACCEPTED", (), {})),
    ],
)
def test_each_records_reading_says_its_status_reasons_and_document(records, seen):
    observed = faceki_result.observation(records)
    assert (observed.status, observed.provider_status, observed.reasons, observed.data) == seen


@pytest.mark.parametrize("code", [0, 8013, 1000, 5003, 4242, None])
def test_a_decline_whose_code_names_no_reason_of_the_users_is_provider_declined(code: Any):
    assert faceki_result.decline_reason(code) == "provider_declined"


@pytest.mark.parametrize("code", ["0", True, 1.0, None])
def test_a_response_code_is_an_integer_or_none(code: Any):
    assert faceki_result.response_code({"responseCode": code}) is None
