"""The Datakeen IDify client, over real HTTP: against the sandbox (the documented contract) and against a
scripted server for the answers the sandbox does not give."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import requests

from devstack.sandboxes.datakeen import DatakeenSandbox
from idgate.domain import Reason, Session, Status
from idgate.errors import ProviderFailed, ProviderRejected, ProviderUnavailable, ValidationFailed
from idgate.providers import datakeen_result
from idgate.providers.base import NewVerification, StartRequest, WebhookRequest
from idgate.providers.datakeen import DatakeenOptions, DatakeenProvider
from tests.support.clock import FakeClock
from tests.support.http_server import json_answer, scripted_server, serve_sandbox, text_answer
from tests.support.providers import provider_context
from tests.support.sessions import open_session

USERNAME, PASSWORD = "shop@example.com", "datakeen-test-password"
SAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "datakeen" / "result-sample.json"
HOSTS = frozenset({"shop.example.com"})


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime.now(UTC).timestamp())


@pytest.fixture
def sandbox(clock: FakeClock) -> Iterator[tuple[DatakeenSandbox, str]]:
    with serve_sandbox(
        lambda url: DatakeenSandbox(USERNAME, PASSWORD, url, token_ttl_seconds=600, clock=clock)
    ) as served:
        yield served


def provider_for(url: str, password: str = PASSWORD, **variables: str) -> DatakeenProvider:
    return DatakeenProvider.from_context(
        provider_context(
            "datakeen",
            {"username": USERNAME, "password": password},
            variables={"BASE_URL": f"{url}/backend", **variables},
            return_url_hosts=HOSTS,
        )
    )


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


def test_the_token_serves_every_call_until_it_nears_its_expiry():
    with scripted_server(
        json_answer({"status": 200, "data": {"token": "tok-1"}}),
        json_answer({"status": 200, "data": {"sessionStatus": "pending", "job_status": None}}),
    ) as server:
        provider = provider_for(server.url)
        session = open_session("datakeen", provider_ref="b" * 24)
        for _ in range(3):
            assert provider.observe(session).status is Status.PENDING
    assert [request.path for request in server.requests].count("/backend/auth") == 1


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


def test_a_failing_datakeen_is_a_retryable_failure():
    with (
        scripted_server(
            json_answer({"status": 200, "data": {"token": "tok"}}), json_answer({"message": "down"}, 503)
        ) as server,
        pytest.raises(ProviderUnavailable) as failure,
    ):
        provider_for(server.url).observe(open_session("datakeen", provider_ref="d" * 24))
    assert failure.value.reason == Reason.PROVIDER_UNREACHABLE


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


def test_the_documents_own_sample_result_maps_to_approved():
    body = json.loads(SAMPLE.read_text())
    seen = datakeen_result.observation(body, min_age=18, today=date(2026, 11, 23))
    assert (seen.status, seen.data) == (Status.APPROVED, {"min_age_verified": 18})


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"data": None},
        {"data": {"sessionStatus": "something_new"}},
        {"data": {"sessionStatus": "ai_approved", "job_status": None}},
        {"data": {"sessionStatus": 7}},
        {"data": {"job_status": {"predictions": []}}},
    ],
)
def test_an_unknown_result_shape_is_never_a_verdict(body):
    with pytest.raises(datakeen_result.UnknownShape):
        datakeen_result.observation(body, min_age=None, today=date(2026, 11, 23))


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


# ---- the account's templates and the schedule -----------------------------------------------------------

LOGIN = json_answer({"status": 200, "data": {"token": "tok-1"}})
TEMPLATES = [
    {"_id": "a1", "name": "Default", "default": True, "status": "active", "createdAt": "2025-01-01"},
    {"_id": "b2", "name": "Old", "default": False, "status": "inactive"},
    {"name": "no id"},
    "not a template",
]


def test_the_templates_listing_is_each_templates_id_name_default_and_status_read_afresh():
    with scripted_server(LOGIN, json_answer(TEMPLATES)) as server:
        provider = provider_for(server.url)
        for _ in range(2):
            assert provider.resource("templates") == {
                "templates": [
                    {"id": "a1", "name": "Default", "default": True, "status": "active"},
                    {"id": "b2", "name": "Old", "default": False, "status": "inactive"},
                ]
            }
    assert [r.path for r in server.requests] == ["/backend/auth", *["/backend/admin/templates"] * 2]


def test_the_active_templates_are_kept_five_minutes_for_checking_options(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr("idgate.providers.datakeen.time", SimpleNamespace(monotonic=lambda: now[0]))
    with scripted_server(LOGIN, json_answer(TEMPLATES)) as server:
        provider = provider_for(server.url)
        for seconds in (0.0, 299.0):
            now[0] = 1000.0 + seconds
            assert provider.parse_options({"template_id": "a1"}, email=None).template_id == "a1"
        assert len(server.requests) == 2  # the login and one listing
        now[0] = 1300.0  # five minutes after the listing
        provider.parse_options({"template_id": "a1"}, email=None)
    assert len(server.requests) == 3


@pytest.mark.parametrize("answer", [json_answer({"templates": []}), text_answer("<html>maintenance</html>")])
def test_an_unreadable_templates_listing_is_a_bad_response(answer):
    with scripted_server(LOGIN, answer) as server, pytest.raises(ProviderUnavailable) as raised:
        provider_for(server.url).resource("templates")
    assert raised.value.reason == Reason.PROVIDER_BAD_RESPONSE


def test_a_refused_templates_listing_is_a_502_for_the_caller():
    refused = json_answer({"status": 403, "message": "no"}, 403)
    with scripted_server(LOGIN, refused) as server, pytest.raises(ProviderFailed) as raised:
        provider_for(server.url).parse_options({"template_id": "a1"}, email=None)
    assert (raised.value.status, raised.value.code) == (502, "provider_access_denied")


def test_an_unknown_template_is_a_422_with_its_code_and_some_message():
    with scripted_server(LOGIN, json_answer(TEMPLATES)) as server, pytest.raises(ValidationFailed) as raised:
        provider_for(server.url).parse_options({"template_id": "b2"}, email=None)
    assert (raised.value.status, raised.value.code) == (422, "unknown_template")
    assert raised.value.message


def test_datakeen_is_looked_at_sparsely_its_webhooks_carry_the_news():
    provider = provider_for("http://unused")
    session = open_session("datakeen", provider_ref="b" * 24)
    assert provider.next_wait_seconds(session, attempt=0, base_interval=5) == 30
    assert provider.next_wait_seconds(session, attempt=1, base_interval=5) == 60
    assert provider.fast_follow_seconds(session, base_interval=5) == 0


def test_a_decision_under_way_is_followed_for_the_deployments_review_time():
    provider = provider_for("http://unused")
    assert provider.follow_limit(Status.REVIEW) == timedelta(hours=1)  # provider_context's
    assert provider.follow_limit(Status.PROCESSING) == timedelta(hours=1)
    assert provider.follow_limit(Status.PENDING) is None


@pytest.mark.parametrize(
    ("status", "error", "reason"),
    [
        (429, ProviderUnavailable, Reason.PROVIDER_UNREACHABLE),
        (500, ProviderUnavailable, Reason.PROVIDER_UNREACHABLE),
        (400, ProviderRejected, Reason.PROVIDER_ERROR),
        (403, ProviderRejected, Reason.PROVIDER_ACCESS_DENIED),
        (404, ProviderRejected, Reason.PROVIDER_NOT_FOUND),
    ],
)
def test_each_http_failure_while_following_says_how(status: int, error: type[Exception], reason: Reason):
    answer = json_answer({"status": status, "message": "no"}, status)
    with scripted_server(LOGIN, answer) as server, pytest.raises(error) as raised:
        provider_for(server.url).observe(open_session("datakeen", provider_ref="b" * 24))
    assert raised.value.reason == reason  # type: ignore[attr-defined]


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


def test_an_unreadable_result_leaves_the_session_as_it_is_and_says_so():
    with scripted_server(LOGIN, json_answer({"status": 200, "data": "??"})) as server:
        seen = provider_for(server.url).observe(
            open_session("datakeen", provider_ref="b" * 24, status=Status.REVIEW)
        )
    assert (seen.status, seen.provider_status) == (Status.REVIEW, "unknown")


# ---- reading an analysis (datakeen_result) ----------------------------------------------------------------

OK, KO = {"value": True}, {"value": False}
TODAY = date(2026, 11, 23)


def analysed(*documents: dict[str, Any], controls: dict[str, Any] | None = None) -> dict[str, Any]:
    results: dict[str, Any] = {"documents": list(documents)}
    if controls is not None:
        results["controls"] = controls
    job = {"predictions": [{"results": results}]}
    return {"data": {"sessionStatus": "ai_approved", "job_status": job}}


def card(mrz: Any = None, printed: Any = None, **controls: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"controls": {"globalStatus": OK, **controls}}
    info = {
        name: {"value": value} for name, value in (("birthDateMRZ", mrz), ("birthDate", printed)) if value
    }
    if info:
        doc["extractedInformation"] = info
    return doc


def read(body: Any, min_age: int | None = None) -> tuple[Any, ...]:
    seen = datakeen_result.observation(body, min_age=min_age, today=TODAY)
    return (seen.status, seen.provider_status, seen.reasons, seen.data)


def test_an_expired_session_is_expired_with_its_state():
    assert read({"data": {"sessionStatus": "expired"}}) == (
        Status.EXPIRED,
        "expired",
        ("verification_expired",),
        {},
    )


@pytest.mark.parametrize(
    "body",
    [[], {"data": {"sessionStatus": "ai_approved", "job_status": {"predictions": [{"results": []}]}}}],
)
def test_what_is_no_analysis_is_an_unknown_shape(body: Any):
    with pytest.raises(datakeen_result.UnknownShape):
        read(body)


@pytest.mark.parametrize(
    ("body", "reasons"),
    [
        (analysed({"type": "selfie"}), ("document_missing",)),
        # every failing control of every document counts, each family once, in the README's order
        (
            analysed(card(globalStatus=KO, dateValidity=KO), card(mrzValidity=KO, photoIsPresent=OK)),
            ("document_invalid", "document_expired", "mrz_invalid"),
        ),
        (
            analysed(card(photoIsPresent=KO), controls={"matchLastName": KO, "dateValidity": OK}),
            ("name_mismatch", "photo_missing"),
        ),
        (analysed(card(), controls={"rfSymbolIsPresent": KO}), ("document_invalid",)),  # of no family
    ],
)
def test_a_declined_analysis_names_its_failing_families(body: dict[str, Any], reasons: tuple[str, ...]):
    assert read(body) == (Status.DECLINED, "ai_approved", reasons, {})


def test_an_analysis_holds_only_if_every_identity_document_and_cross_control_holds():
    assert read(analysed(card(), card(), controls={"matchLastName": OK}))[0] is Status.APPROVED
    assert read(analysed(card(globalStatus=KO), card()))[0] is Status.DECLINED
    assert read(analysed(card(), card(globalStatus=KO)))[0] is Status.DECLINED


@pytest.mark.parametrize(
    ("document", "seen"),
    [
        (card(mrz="23.11.2008"), (Status.APPROVED, "ai_approved", (), {"min_age_verified": 18})),  # 18 today
        (card(mrz="24.11.2008"), (Status.DECLINED, "ai_approved", ("under_min_age",), {})),
        (
            card(mrz="01.01.2000", printed="01.01.2010"),
            (Status.APPROVED, "ai_approved", (), {"min_age_verified": 18}),
        ),
        (card(printed="01.01.2000"), (Status.APPROVED, "ai_approved", (), {"min_age_verified": 18})),
        (
            card(mrz="31.02.2000", printed="01.01.2000"),
            (Status.APPROVED, "ai_approved", (), {"min_age_verified": 18}),
        ),
        (card(mrz=20000101), (Status.DECLINED, "ai_approved", ("birth_date_unreadable",), {})),
        (card(), (Status.DECLINED, "ai_approved", ("birth_date_unreadable",), {})),
    ],
)
def test_the_minimum_age_is_read_from_the_mrz_then_the_printed_birth_date(document, seen):
    assert read(analysed(document), min_age=18) == seen


def test_the_birth_date_is_read_from_the_first_document_that_has_one():
    selfie = {"type": "selfie"}
    assert read(analysed(selfie, card(mrz="01.01.2000")), min_age=18)[0] is Status.APPROVED


def reviewed(state: str, *documents: dict[str, Any]) -> dict[str, Any]:
    body = analysed(*documents) if documents else {"data": {}}
    body["data"]["sessionStatus"] = state
    return body


@pytest.mark.parametrize(
    ("body", "min_age", "seen"),
    [
        (reviewed("pending"), None, (Status.PENDING, "pending", (), {})),
        (reviewed("verify"), None, (Status.REVIEW, "verify", (), {})),
        (reviewed("user_rejected"), None, (Status.DECLINED, "user_rejected", ("provider_declined",), {})),
        (reviewed("user_approved"), None, (Status.APPROVED, "user_approved", (), {})),
        (reviewed("user_approved"), 18, (Status.APPROVED, "user_approved", (), {})),  # no analysis to read
        (
            reviewed("user_approved", card(mrz="24.11.2008")),
            18,
            (Status.DECLINED, "user_approved", ("under_min_age",), {}),
        ),
        (
            reviewed("user_approved", card(globalStatus=KO, mrz="01.01.2000")),
            None,
            (Status.APPROVED, "user_approved", (), {}),  # the reviewer decides, not the controls
        ),
    ],
)
def test_open_states_and_a_reviewers_verdict_with_the_minimum_age(body, min_age, seen):
    assert read(body, min_age=min_age) == seen


def test_an_analysis_without_a_session_status_is_analysis_completed():
    body = analysed(card())
    del body["data"]["sessionStatus"]
    assert read(body) == (Status.APPROVED, "analysis_completed", (), {})


# ---- logging in ------------------------------------------------------------------------------------------


def test_one_login_serves_every_call_with_its_token_under_a_base_url_with_a_slash():
    with scripted_server(
        LOGIN, json_answer({"status": 200, "data": {"sessionStatus": "pending", "job_status": None}})
    ) as server:
        provider = DatakeenProvider.from_context(
            provider_context(
                "datakeen",
                {"username": USERNAME, "password": PASSWORD},
                variables={"BASE_URL": f"{server.url}/backend/"},
            )
        )
        session = open_session("datakeen", provider_ref="b" * 24)
        for _ in range(2):
            provider.observe(session)
    assert [r.path for r in server.requests] == [
        "/backend/auth",
        *[f"/backend/api/v1/session/{'b' * 24}"] * 2,
    ]
    assert [r.headers["authorization"] for r in server.requests[1:]] == ["Basic tok-1"] * 2


@pytest.mark.parametrize("status", [400, 401, 403])
def test_a_refused_login_is_an_auth_failure(status: int):
    with (
        scripted_server(json_answer({"status": status}, status)) as server,
        pytest.raises(ProviderRejected) as raised,
    ):
        provider_for(server.url).observe(open_session("datakeen", provider_ref="b" * 24))
    assert raised.value.reason == Reason.PROVIDER_AUTH_FAILED


@pytest.mark.parametrize("data", [None, {"token": ""}, {"token": 5}, ["tok-1"]])
def test_a_login_without_a_token_is_a_bad_response(data: Any):
    login = json_answer({"status": 200, "data": data})
    with scripted_server(login) as server, pytest.raises(ProviderUnavailable) as raised:
        provider_for(server.url).observe(open_session("datakeen", provider_ref="b" * 24))
    assert raised.value.reason == Reason.PROVIDER_BAD_RESPONSE
