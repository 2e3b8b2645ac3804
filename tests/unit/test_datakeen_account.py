"""The Datakeen client and the account, over a scripted server: its login and token, its templates, what
a start sends and reads back, how it is followed, and how each of Datakeen's failures is told."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from idgate.domain import Reason, Status
from idgate.errors import ProviderFailed, ProviderRejected, ProviderUnavailable, ValidationFailed
from idgate.providers.base import ProcessToken, StartRequest
from idgate.providers.datakeen import DatakeenOptions, DatakeenProvider
from tests.support.datakeen import LOGIN, PASSWORD, USERNAME, provider_for
from tests.support.http_server import json_answer, scripted_server, text_answer
from tests.support.providers import provider_context
from tests.support.sessions import open_session

# ---- logging in, the token ----------------------------------------------------------------------------


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


def test_a_failing_datakeen_is_a_retryable_failure():
    with (
        scripted_server(
            json_answer({"status": 200, "data": {"token": "tok"}}), json_answer({"message": "down"}, 503)
        ) as server,
        pytest.raises(ProviderUnavailable) as failure,
    ):
        provider_for(server.url).observe(open_session("datakeen", provider_ref="d" * 24))
    assert failure.value.reason == Reason.PROVIDER_UNREACHABLE


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


PENDING = json_answer({"status": 200, "data": {"sessionStatus": "pending", "job_status": None}})
REFUSED = json_answer({"status": 401, "message": "Unauthorized"}, 401)


@pytest.mark.parametrize(
    ("ttl", "renewed_after"),
    [
        ("86400", 86_100.0),  # Datakeen's 24 h: renewed 5 minutes before they run out
        ("300", 240.0),  # a short life (the local stack's): renewed when a fifth of it is left
    ],
)
def test_the_token_is_renewed_before_its_life_runs_out(ttl: str, renewed_after: float):
    now = [1000.0]
    session = open_session("datakeen", provider_ref="b" * 24)
    with scripted_server(LOGIN, PENDING, PENDING, LOGIN, PENDING) as server:
        provider = provider_for(server.url, token=ProcessToken(clock=lambda: now[0]), TOKEN_TTL_SECONDS=ttl)
        for seconds in (0.0, renewed_after - 0.001, renewed_after):
            now[0] = 1000.0 + seconds
            provider.observe(session)
    look = f"/backend/api/v1/session/{'b' * 24}"
    assert [r.path for r in server.requests] == ["/backend/auth", look, look, "/backend/auth", look]


def test_the_token_is_the_deployments_shared_one_not_each_containers():
    # Given two containers' Datakeen clients (each its own cache) and the deployment's one shared token
    shared = ProcessToken()
    session = open_session("datakeen", provider_ref="b" * 24)
    with scripted_server(LOGIN, PENDING, PENDING) as server:
        first, second = provider_for(server.url, token=shared), provider_for(server.url, token=shared)
        # When each looks at a session
        first.observe(session)
        second.observe(session)
    # Then one login served both
    assert [r.path for r in server.requests].count("/backend/auth") == 1
    assert {r.headers["authorization"] for r in server.requests[1:]} == {"Basic tok-1"}


def test_a_token_datakeen_refused_is_never_sent_again_even_when_the_login_after_it_fails():
    # Given a token Datakeen refuses, and a login that fails once then works
    second_login = json_answer({"status": 200, "data": {"token": "tok-2"}})
    refused_login = json_answer({"status": 403}, 403)
    session = open_session("datakeen", provider_ref="b" * 24)
    with scripted_server(LOGIN, REFUSED, refused_login, second_login, PENDING) as server:
        provider = provider_for(server.url)
        # When a look finds the token refused and cannot log in again
        with pytest.raises(ProviderRejected) as raised:
            provider.observe(session)
        assert raised.value.reason == Reason.PROVIDER_AUTH_FAILED
        # Then the next look logs in before it asks, with the new token
        assert provider.observe(session).status is Status.PENDING
    assert [r.path for r in server.requests][3:] == ["/backend/auth", f"/backend/api/v1/session/{'b' * 24}"]
    assert server.requests[-1].headers["authorization"] == "Basic tok-2"


def test_a_token_refused_right_after_a_new_login_is_an_auth_failure():
    with scripted_server(LOGIN, REFUSED, LOGIN, REFUSED, REFUSED, LOGIN, REFUSED) as server:
        provider = provider_for(server.url)
        with pytest.raises(ProviderRejected) as following:
            provider.observe(open_session("datakeen", provider_ref="b" * 24))
        with pytest.raises(ProviderFailed) as starting:
            provider.start(StartRequest("ses_1", None, DatakeenOptions(), None))
    assert following.value.reason == Reason.PROVIDER_AUTH_FAILED
    assert (starting.value.status, starting.value.code) == (502, "provider_auth_failed")
    # each time: the call, a new login, the call again, and no more
    assert [(r.method, r.path) for r in server.requests][1:] == [
        ("GET", f"/backend/api/v1/session/{'b' * 24}"),
        ("POST", "/backend/auth"),
        ("GET", f"/backend/api/v1/session/{'b' * 24}"),
        ("POST", "/backend/api/v1/session"),
        ("POST", "/backend/auth"),
        ("POST", "/backend/api/v1/session"),
    ]


# ---- the account's templates and the schedule -----------------------------------------------------------

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


def test_a_template_is_sent_as_datakeens_template_id():
    created = json_answer({"status": 200, "data": {"link": "https://l/x", "sessionId": "a" * 24}})
    with scripted_server(LOGIN, json_answer(TEMPLATES), created) as server:
        provider = provider_for(server.url)
        options = provider.parse_options({"template_id": "a1"}, email=None)
        provider.start(StartRequest("ses_1", None, options, None))
    assert json.loads(server.requests[-1].body) == {"QR": True, "templateId": "a1"}


PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 16).decode()


@pytest.mark.parametrize(
    ("qr_code", "qr_image"),
    [
        (PNG, f"data:image/png;base64,{PNG}"),
        (5, None),  # no text: no image of Datakeen's (the API draws the link's own QR code)
        (["not", "an", "image"], None),
    ],
)
def test_datakeens_qr_code_is_kept_only_when_it_is_an_image(qr_code: Any, qr_image: str | None):
    data = {"link": "https://l/x", "sessionId": "a" * 24, "QRCode": qr_code}
    with scripted_server(LOGIN, json_answer({"status": 200, "data": data})) as server:
        started = provider_for(server.url).start(StartRequest("ses_1", None, DatakeenOptions(), None))
    assert (started.verification_url, started.qr_image) == ("https://l/x", qr_image)


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
    assert raised.value.message  # the API's error always has one (openapi.yaml: a string)


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


def test_an_unreadable_result_leaves_the_session_as_it_is_and_says_so():
    with scripted_server(LOGIN, json_answer({"status": 200, "data": "??"})) as server:
        seen = provider_for(server.url).observe(
            open_session("datakeen", provider_ref="b" * 24, status=Status.REVIEW)
        )
    assert (seen.status, seen.provider_status) == (Status.REVIEW, "unknown")
