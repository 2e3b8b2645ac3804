"""The FACEKI sandbox follows its contract (seeds/faceki.txt, PROVIDERS.md) and its documented choices."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from werkzeug.test import Client, TestResponse

from devstack.sandboxes.faceki import FacekiSandbox
from devstack.sandboxes.faceki_records import (
    DECLINE_CODES,
    FAKE_BIRTH_DATE,
    FAKE_DOCUMENT_NUMBER,
    FAKE_FULL_NAME,
    FAKE_NATIONALITY,
)
from tests.support.clock import FakeClock
from tests.support.http_server import ScriptedServer, json_answer, scripted_server

CLIENT_ID = "7bsvancpl4tio60600pn6hnr58"
CLIENT_SECRET = "1d5bssl48phc3vjfh5ljntkl9b2u6a0r80kit6vg08f9kpf70ch9"
BASE_URL = "http://127.0.0.1:4040"
START = 1_764_499_200.75  # 2025-11-30T10:40:00Z plus a fraction
TOKEN_TTL = 3600
DASHBOARD_HOOK = "/v1/webhooks/faceki/whk_secret_token_456"
API = "/kycverify/api/kycverify"
LINK_ID = re.compile(r"[0-9a-f]{24}")
ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
PROTECTED = (
    ("GET", "/kycrules/api/kycrules"),
    ("POST", f"{API}/kyc-verify-link"),
    ("GET", f"{API}/link?linkId=000000000000000000000000"),
    ("GET", f"{API}/records?requestId=000000000000000000000000"),
    ("GET", f"{API}/reference?referenceId=app-1"),
    ("GET", f"{API}/kyc-verify-summary"),
)
USER_BUTTONS = ("faceki-accept", "faceki-decline", "faceki-review", "faceki-abandon")
REVIEWER_BUTTONS = ("faceki-reviewer-accept", "faceki-reviewer-decline")
ACCOUNT_DEFAULTS = {
    "rules": True,
    "credit": True,
    "kyc_limit_reached": False,
    "link_limit_reached": False,
    "fail_link": False,
}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def sandbox(clock: FakeClock) -> FacekiSandbox:
    sandbox = FacekiSandbox(CLIENT_ID, CLIENT_SECRET, BASE_URL + "/", clock=clock)
    sandbox.webhook_retry_delays = (0.0, 0.0)
    sandbox.webhook_timeout_seconds = 2.0
    return sandbox


@pytest.fixture
def client(sandbox: FacekiSandbox) -> Client:
    return Client(sandbox)


@pytest.fixture
def token(client: Client) -> str:
    return new_token(client)


@pytest.fixture
def receiver(sandbox: FacekiSandbox) -> Iterator[ScriptedServer]:
    """A real HTTP server on 127.0.0.1 for the dashboard webhook; it answers 200."""
    with scripted_server(json_answer({"received": True})) as server:
        sandbox.dashboard_webhook_url = server.url + DASHBOARD_HOOK
        yield server
        sandbox.flush_webhooks()


def access_token(
    client: Client, query: dict[str, str] | None = None, headers: dict[str, str] | None = None
) -> TestResponse:
    return client.get("/auth/api/access-token", query_string=query or {}, headers=headers or {})


def new_token(client: Client) -> str:
    response = access_token(client, {"clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET})
    assert response.status_code == 200, response.get_data(as_text=True)
    return str(response.json["data"]["access_token"])  # type: ignore[index]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def error(status: int, message: str) -> dict[str, Any]:
    return {"status": False, "message": message, "statusCode": status, "data": {}}


def create(client: Client, token: str, body: object, content_type: str = "application/json") -> TestResponse:
    data = body if isinstance(body, str) else json.dumps(body)
    return client.post(f"{API}/kyc-verify-link", headers=bearer(token), data=data, content_type=content_type)


def new_link(client: Client, token: str, **more: object) -> str:
    response = create(client, token, {"expiryTime": 30, "applicationId": "app-1", **more})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json["responseCode"] == 0, response.json  # type: ignore[index]
    return str(response.json["data"])  # type: ignore[index]


def api(client: Client, token: str, path: str, **query: str) -> dict[str, Any]:
    response = client.get(f"{API}/{path}", query_string=query, headers=bearer(token))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert isinstance(response.json, dict)
    answer: dict[str, Any] = response.json
    return answer


def link_data(client: Client, token: str, link_id: str) -> dict[str, Any]:
    answer = api(client, token, "link", linkId=link_id)
    assert answer["responseCode"] == 0, answer
    data: dict[str, Any] = answer["data"]
    return data


def set_outcome(client: Client, link_id: str, body: object) -> TestResponse:
    data = body if isinstance(body, str) else json.dumps(body)
    return client.post(f"/kycverify/{link_id}", data=data, content_type="application/json")


def decide(client: Client, link_id: str, outcome: str, **more: object) -> dict[str, Any]:
    response = set_outcome(client, link_id, {"outcome": outcome, **more})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert isinstance(response.json, dict)
    answer: dict[str, Any] = response.json
    return answer


def page_of(client: Client, link_id: str) -> str:
    response = client.get(f"/kycverify/{link_id}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


# -- the access token ----------------------------------------------------------------------------------


def test_the_token_answer_has_the_documented_envelope(client: Client) -> None:
    response = access_token(client, {"clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET})

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json
    assert body is not None
    assert set(body) == {"responseCode", "data"}
    assert body["responseCode"] == 0
    assert set(body["data"]) == {"access_token", "expires_in", "token_type"}
    assert (body["data"]["expires_in"], body["data"]["token_type"]) == (TOKEN_TTL, "Bearer")
    assert re.fullmatch(r"[A-Za-z0-9_-]{32,}", body["data"]["access_token"])


@pytest.mark.parametrize("header_id", ["clientId", "clientid"])
def test_the_credentials_may_be_sent_as_headers_as_the_seed_shows(client: Client, header_id: str) -> None:
    response = access_token(client, headers={header_id: CLIENT_ID, "clientSecret": CLIENT_SECRET})

    assert response.status_code == 200
    assert response.json["responseCode"] == 0  # type: ignore[index]


def test_each_call_issues_a_new_token_all_stay_valid_and_the_sandbox_counts_them(
    client: Client, sandbox: FacekiSandbox
) -> None:
    tokens = [new_token(client) for _ in range(3)]

    assert len(set(tokens)) == 3
    for token in tokens:
        assert client.get("/kycrules/api/kycrules", headers=bearer(token)).status_code == 200
    assert sandbox.tokens_issued == 3
    assert client.get("/sandbox/account").json["tokens_issued"] == 3  # type: ignore[index]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({}, "client id is required"),
        ({"clientSecret": CLIENT_SECRET}, "client id is required"),
        ({"clientId": "", "clientSecret": CLIENT_SECRET}, "client id is required"),
        ({"clientId": CLIENT_ID}, "client secret is required"),
        ({"clientId": CLIENT_ID, "clientSecret": ""}, "client secret is required"),
        ({"clientId": "wrong"}, "client secret is required"),
    ],
)
def test_missing_credentials_are_a_422_in_the_seeds_error_body(
    client: Client, sandbox: FacekiSandbox, query: dict[str, str], message: str
) -> None:
    response = access_token(client, query)

    assert response.status_code == 422
    assert response.json == error(422, message)
    assert sandbox.tokens_issued == 0


@pytest.mark.parametrize(
    ("client_id", "client_secret"),
    [
        (CLIENT_ID, "wrong-secret"),
        ("wrong-id", CLIENT_SECRET),
        (CLIENT_ID.upper(), CLIENT_SECRET),
        (CLIENT_SECRET, CLIENT_ID),
    ],
)
def test_wrong_credentials_are_a_401(
    client: Client, sandbox: FacekiSandbox, client_id: str, client_secret: str
) -> None:
    response = access_token(client, {"clientId": client_id, "clientSecret": client_secret})

    assert response.status_code == 401
    assert response.json == error(401, "invalid client credentials")
    assert sandbox.tokens_issued == 0


def test_the_token_call_only_accepts_get(client: Client) -> None:
    response = client.post("/auth/api/access-token", query_string={"clientId": CLIENT_ID})

    assert response.status_code == 405
    assert response.json == error(405, "Method Not Allowed")
    assert "GET" in response.headers["Allow"]


def test_unknown_paths_are_a_404_in_the_error_body(client: Client, token: str) -> None:
    response = client.get(f"{API}/kyc-verify", headers=bearer(token))

    assert response.status_code == 404
    assert response.json == error(404, "Not Found")


# -- the bearer token ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), PROTECTED)
@pytest.mark.parametrize(
    "authorization", [None, "Bearer", "Bearer not-a-token", "{token}", "Basic {token}", "Bearer  {token}"]
)
def test_every_call_refuses_a_missing_or_unknown_bearer_token(
    client: Client, token: str, method: str, path: str, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization.format(token=token)}

    response = client.open(path, method=method, headers=headers, json={})

    assert response.status_code == 401
    assert response.json == error(401, "Unauthorized")


def test_the_scheme_word_is_case_insensitive_as_in_http(client: Client, token: str) -> None:
    response = client.get("/kycrules/api/kycrules", headers={"Authorization": f"bearer {token}"})

    assert response.status_code == 200


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_a_token_expires_after_its_lifetime(
    client: Client, clock: FakeClock, token: str, method: str, path: str
) -> None:
    clock.now = int(START) + TOKEN_TTL - 1
    assert client.open(path, method=method, headers=bearer(token), json={}).status_code != 401

    clock.now = int(START) + TOKEN_TTL
    response = client.open(path, method=method, headers=bearer(token), json={})

    assert response.status_code == 401
    assert response.json == error(401, "Unauthorized")


def test_the_token_lifetime_is_configurable_and_answered_in_expires_in(clock: FakeClock) -> None:
    client = Client(FacekiSandbox(CLIENT_ID, CLIENT_SECRET, BASE_URL, token_ttl_seconds=60, clock=clock))
    answer = access_token(client, {"clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET}).json
    token = answer["data"]["access_token"]  # type: ignore[index]

    clock.advance(60)

    assert answer["data"]["expires_in"] == 60  # type: ignore[index]
    assert client.get("/kycrules/api/kycrules", headers=bearer(token)).status_code == 401


def test_another_sandboxs_token_is_refused(client: Client, clock: FakeClock) -> None:
    other = Client(FacekiSandbox(CLIENT_ID, CLIENT_SECRET, BASE_URL, clock=clock))

    response = client.get("/kycrules/api/kycrules", headers=bearer(new_token(other)))

    assert response.status_code == 401


def test_the_token_is_checked_before_the_body(client: Client) -> None:
    assert create(client, "unknown", "{not json").status_code == 401


# -- rules -----------------------------------------------------------------------------------------------


def test_the_rules_answer_the_valid_age_and_documents(client: Client, token: str) -> None:
    response = client.get("/kycrules/api/kycrules", headers=bearer(token))

    assert response.status_code == 200
    assert response.json == {
        "responseCode": 0,
        "data": {"validAge": 18, "documents": ["ID", "DL", "PASSPORT"], "redirect_url": ""},
    }


def test_an_account_without_rules_answers_7001(client: Client, token: str, sandbox: FacekiSandbox) -> None:
    sandbox.set_account(rules=False)

    response = client.get("/kycrules/api/kycrules", headers=bearer(token))

    assert response.status_code == 200
    assert response.json == {"responseCode": 7001, "message": "NO_RULES_FOR_COMPANY"}


# -- generating a link -----------------------------------------------------------------------------------


def test_a_link_answers_its_id_and_the_hosted_pages_url(client: Client, token: str) -> None:
    response = create(client, token, {"expiryTime": 30, "applicationId": "app-1"})

    assert response.status_code == 200
    body = response.json
    assert body is not None
    assert set(body) == {"responseCode", "data", "url"}
    assert body["responseCode"] == 0
    assert LINK_ID.fullmatch(body["data"])
    assert body["data"].startswith(f"{int(START):08x}")  # MongoDB-style: the creation second first
    assert body["url"] == f"{BASE_URL}/kycverify/{body['data']}"


def test_every_link_is_new(client: Client, token: str) -> None:
    assert new_link(client, token) != new_link(client, token)


@pytest.mark.parametrize(
    "body",
    [
        {"expiryTime": 1, "applicationId": "a"},
        {"expiryTime": 10080, "applicationId": "x" * 128},
        {"expiryTime": 30, "applicationId": "app-1", "redirect_url": "https://shop.example/done?x=1"},
        {"expiryTime": 30, "applicationId": "app-1", "redirect_url": "http://127.0.0.1:3000/back"},
        {"expiryTime": 30, "applicationId": "app-1", "redirect_url": ""},
        {"expiryTime": 30, "applicationId": "app-1", "redirect_url": None},
        {"expiryTime": 30, "applicationId": "app-1", "document_optional": True},
    ],
)
def test_a_link_accepts_the_documented_fields(client: Client, token: str, body: dict[str, Any]) -> None:
    response = create(client, token, body)

    assert response.status_code == 200
    assert response.json["responseCode"] == 0  # type: ignore[index]


@pytest.mark.parametrize(
    "body",
    [
        {"applicationId": "app-1"},
        {"expiryTime": 0, "applicationId": "app-1"},
        {"expiryTime": 10081, "applicationId": "app-1"},
        {"expiryTime": "30", "applicationId": "app-1"},
        {"expiryTime": 30.5, "applicationId": "app-1"},
        {"expiryTime": True, "applicationId": "app-1"},
        {"expiryTime": 30},
        {"expiryTime": 30, "applicationId": ""},
        {"expiryTime": 30, "applicationId": "   "},
        {"expiryTime": 30, "applicationId": 42},
        {"expiryTime": 30, "applicationId": "x" * 129},
        {"expiryTime": 30, "applicationId": "app-1", "redirect_url": "javascript:alert(1)"},
        {"expiryTime": 30, "applicationId": "app-1", "redirect_url": "/relative"},
        {"expiryTime": 30, "applicationId": "app-1", "document_optional": "yes"},
        [30, "app-1"],
        "{not json",
        "",
    ],
)
def test_a_bad_link_body_is_a_400_in_the_error_body(client: Client, token: str, body: object) -> None:
    response = create(client, token, body)

    assert response.status_code == 400
    answer = response.json
    assert answer is not None
    assert (answer["status"], answer["statusCode"], answer["data"]) == (False, 400, {})
    assert answer["message"]


def test_a_link_body_must_be_json(client: Client, token: str) -> None:
    response = create(client, token, "expiryTime=30&applicationId=a", "application/x-www-form-urlencoded")

    assert response.status_code == 400


def test_a_link_body_over_64_kib_is_a_413(client: Client, token: str) -> None:
    response = create(client, token, {"expiryTime": 30, "applicationId": "a", "pad": "x" * 70_000})

    assert response.status_code == 413
    assert response.json["statusCode"] == 413  # type: ignore[index]


@pytest.mark.parametrize(
    ("flags", "answer"),
    [
        ({"rules": False}, {"responseCode": 7001, "message": "NO_RULES_FOR_COMPANY"}),
        ({"credit": False}, {"responseCode": 5003, "message": "NOT_ENOUGH_WALLET_CREDIT"}),
        ({"kyc_limit_reached": True}, {"responseCode": 8017, "message": "KYC_VERIFICATION_LIMIT_REACHED"}),
        ({"link_limit_reached": True}, {"responseCode": 5009, "message": "LINK_LIMIT_REACH"}),
        ({"fail_link": True}, {"responseCode": 8016, "message": "FAIL_TO_GENERATE_LINK"}),
    ],
)
def test_the_accounts_state_refuses_a_link_with_http_200_and_a_response_code(
    clock: FakeClock, flags: dict[str, Any], answer: dict[str, Any]
) -> None:
    sandbox = FacekiSandbox(CLIENT_ID, CLIENT_SECRET, BASE_URL, clock=clock, **flags)
    client = Client(sandbox)
    token = new_token(client)

    response = create(client, token, {"expiryTime": 30, "applicationId": "app-1"})

    assert response.status_code == 200
    assert response.json == answer
    assert sandbox.account == {**ACCOUNT_DEFAULTS, **flags}


def test_the_accounts_refusals_are_checked_in_the_contracts_order(
    client: Client, token: str, sandbox: FacekiSandbox
) -> None:
    sandbox.set_account(
        rules=False, credit=False, kyc_limit_reached=True, link_limit_reached=True, fail_link=True
    )
    body = {"expiryTime": 30, "applicationId": "app-1"}
    seen = []

    for flag, value in (
        ("rules", True),
        ("credit", True),
        ("kyc_limit_reached", False),
        ("link_limit_reached", False),
        ("fail_link", False),
    ):
        seen.append(create(client, token, body).json["responseCode"])  # type: ignore[index]
        sandbox.set_account(**{flag: value})

    assert seen == [7001, 5003, 8017, 5009, 8016]
    assert create(client, token, body).json["responseCode"] == 0  # type: ignore[index]


def test_a_bad_body_is_refused_before_the_accounts_state(
    client: Client, token: str, sandbox: FacekiSandbox
) -> None:
    sandbox.set_account(rules=False)

    assert create(client, token, {"expiryTime": 0, "applicationId": "app-1"}).status_code == 400


# -- reading a link ----------------------------------------------------------------------------------------


def test_a_new_link_is_active_with_no_records(client: Client, token: str) -> None:
    link_id = new_link(client, token, applicationId="order-42", expiryTime=90)

    assert api(client, token, "link", linkId=link_id) == {
        "responseCode": 0,
        "data": {
            "linkId": link_id,
            "applicationId": "order-42",
            "expiresAt": "2025-11-30T12:10:00Z",  # creation second + 90 minutes
            "status": "ACTIVE",
            "records": [],
        },
    }


@pytest.mark.parametrize("query", [{"linkId": "000000000000000000000000"}, {"linkId": ""}, {}])
def test_an_unknown_link_answers_8014(client: Client, token: str, query: dict[str, str]) -> None:
    assert api(client, token, "link", **query) == {
        "responseCode": 8014,
        "message": "INVALID_VERIFICATION_LINK",
    }


def test_a_link_without_a_record_expires_after_its_expiry_time(
    client: Client, token: str, clock: FakeClock
) -> None:
    link_id = new_link(client, token, expiryTime=30)

    clock.now = int(START) + 30 * 60 - 1
    assert link_data(client, token, link_id)["status"] == "ACTIVE"
    clock.now = int(START) + 30 * 60

    assert api(client, token, "link", linkId=link_id) == {
        "responseCode": 8015,
        "message": "VERIFICATION_LINK_EXPIRED",
    }


def test_an_expired_link_with_a_record_still_answers_it(client: Client, token: str, clock: FakeClock) -> None:
    link_id = new_link(client, token, expiryTime=30)
    decide(client, link_id, "accepted", webhook=False)

    clock.advance(30 * 60)
    data = link_data(client, token, link_id)

    assert data["status"] == "EXPIRED"
    assert [record["status"] for record in data["records"]] == ["ACCEPTED"]


# -- records ---------------------------------------------------------------------------------------------


def test_a_record_has_the_fake_persons_data(client: Client, token: str, clock: FakeClock) -> None:
    link_id = new_link(client, token, applicationId="order-42")
    request_id = decide(client, link_id, "accepted", webhook=False)["requestId"]

    record = link_data(client, token, link_id)["records"][0]

    assert record == {
        "requestId": request_id,
        "linkId": link_id,
        "applicationId": "order-42",
        "status": "ACCEPTED",
        "responseCode": 0,
        "documentType": "ID",
        "createdAt": "2025-11-30T10:40:00Z",
        "updatedAt": "2025-11-30T10:40:00Z",
        "fullName": FAKE_FULL_NAME,
        "kycData": {
            "name": FAKE_FULL_NAME,
            "dateOfBirth": FAKE_BIRTH_DATE,
            "documentNumber": FAKE_DOCUMENT_NUMBER,
            "nationality": FAKE_NATIONALITY,
            "documentType": "ID",
        },
    }
    assert LINK_ID.fullmatch(request_id)
    assert FAKE_FULL_NAME == "Ottoline Brackenridge"


def test_a_record_is_read_by_its_request_id(client: Client, token: str) -> None:
    link_id = new_link(client, token)
    request_id = decide(client, link_id, "review", webhook=False)["requestId"]

    answer = api(client, token, "records", requestId=request_id)

    assert answer == {"responseCode": 0, "data": link_data(client, token, link_id)["records"][0]}


@pytest.mark.parametrize("query", [{"requestId": "000000000000000000000000"}, {"requestId": ""}, {}])
def test_an_unknown_request_id_answers_8013(client: Client, token: str, query: dict[str, str]) -> None:
    assert api(client, token, "records", **query) == {"responseCode": 8013, "message": "DATA_NOT_FOUND"}


def test_records_are_read_by_their_application_id_oldest_first(
    client: Client, token: str, clock: FakeClock
) -> None:
    first, other, second = (new_link(client, token, applicationId=a) for a in ("app-1", "app-2", "app-1"))
    declined = decide(client, second, "declined", webhook=False)["requestId"]
    clock.advance(5)
    accepted = decide(client, first, "accepted", webhook=False)["requestId"]
    decide(client, other, "accepted", webhook=False)
    new_link(client, token, applicationId="app-1")  # no record yet

    answer = api(client, token, "reference", referenceId="app-1")

    assert answer["responseCode"] == 0
    assert [(r["requestId"], r["linkId"]) for r in answer["data"]] == [(declined, second), (accepted, first)]


@pytest.mark.parametrize("query", [{"referenceId": "app-9"}, {"referenceId": ""}, {}])
def test_a_reference_without_records_answers_8013(client: Client, token: str, query: dict[str, str]) -> None:
    new_link(client, token, applicationId="app-9")

    assert api(client, token, "reference", **query) == {"responseCode": 8013, "message": "DATA_NOT_FOUND"}


def test_the_summary_counts_the_records_by_status(client: Client, token: str) -> None:
    assert api(client, token, "kyc-verify-summary") == {
        "responseCode": 0,
        "data": {"total": 0, "accepted": 0, "declined": 0, "review": 0},
    }
    for outcome in ("accepted", "accepted", "declined", "review", "review", "review", "abandon"):
        decide(client, new_link(client, token), outcome, webhook=False)
    reviewed = new_link(client, token)
    decide(client, reviewed, "review", webhook=False)
    decide(client, reviewed, "declined", webhook=False)

    assert api(client, token, "kyc-verify-summary")["data"] == {
        "total": 7,
        "accepted": 2,
        "declined": 2,
        "review": 3,
    }


# -- the user's outcome and the reviewer's decision ------------------------------------------------------


@pytest.mark.parametrize(
    ("outcome", "status", "code"),
    [("accepted", "ACCEPTED", 0), ("declined", "DECLINED", 8002), ("review", "REVIEW", 0)],
)
def test_a_user_outcome_makes_a_record_and_answers_it(
    client: Client, token: str, outcome: str, status: str, code: int
) -> None:
    link_id = new_link(client, token)

    answer = decide(client, link_id, outcome, webhook=False)

    assert set(answer) == {"linkId", "status", "requestId"}  # no redirect_url: the link has none
    assert (answer["linkId"], answer["status"]) == (link_id, status)
    record = api(client, token, "records", requestId=answer["requestId"])["data"]
    assert (record["status"], record["responseCode"]) == (status, code)


def test_the_answer_has_the_links_redirect_url(client: Client, token: str) -> None:
    link_id = new_link(client, token, redirect_url="https://shop.example/kyc/done")

    answer = decide(client, link_id, "accepted", webhook=False)
    abandoned = decide(client, new_link(client, token, redirect_url="https://shop.example/x"), "abandon")

    assert answer["redirect_url"] == "https://shop.example/kyc/done"
    assert abandoned["redirect_url"] == "https://shop.example/x"


@pytest.mark.parametrize("code", list(DECLINE_CODES))
def test_a_decline_carries_its_code(client: Client, token: str, code: int) -> None:
    link_id = new_link(client, token)

    request_id = decide(client, link_id, "declined", code=code, webhook=False)["requestId"]

    assert api(client, token, "records", requestId=request_id)["data"]["responseCode"] == code


@pytest.mark.parametrize("document_type", ["ID", "DL", "PASSPORT"])
def test_the_user_chooses_the_document_captured(client: Client, token: str, document_type: str) -> None:
    link_id = new_link(client, token)

    decide(client, link_id, "review", documentType=document_type, webhook=False)

    record = link_data(client, token, link_id)["records"][0]
    assert record["documentType"] == record["kycData"]["documentType"] == document_type


@pytest.mark.parametrize(
    ("decision", "status", "code"), [("accepted", "ACCEPTED", 0), ("declined", "DECLINED", 8006)]
)
def test_the_reviewer_decides_the_record_in_review_once(
    client: Client, token: str, clock: FakeClock, decision: str, status: str, code: int
) -> None:
    link_id = new_link(client, token)
    request_id = decide(client, link_id, "review", documentType="DL", webhook=False)["requestId"]
    clock.advance(120)
    more = {"code": code} if code else {}

    answer = decide(client, link_id, decision, webhook=False, **more)
    again = set_outcome(client, link_id, {"outcome": "accepted"})

    assert answer == {"linkId": link_id, "status": status, "requestId": request_id}
    assert again.status_code == 409
    records = link_data(client, token, link_id)["records"]
    assert len(records) == 1
    assert (records[0]["requestId"], records[0]["status"], records[0]["responseCode"]) == (
        request_id,
        status,
        code,
    )
    assert records[0]["documentType"] == "DL"
    assert records[0]["createdAt"] == "2025-11-30T10:40:00Z"
    assert records[0]["updatedAt"] == "2025-11-30T10:42:00Z"


def test_the_reviewer_may_decide_after_the_link_expired(client: Client, token: str, clock: FakeClock) -> None:
    link_id = new_link(client, token, expiryTime=5)
    decide(client, link_id, "review", webhook=False)
    clock.advance(24 * 3600)

    decide(client, link_id, "accepted", webhook=False)

    assert link_data(client, new_token(client), link_id)["records"][0]["status"] == "ACCEPTED"


@pytest.mark.parametrize("second", ["review", "abandon"])
def test_a_record_in_review_takes_only_the_reviewers_decision(
    client: Client, token: str, second: str
) -> None:
    link_id = new_link(client, token)
    decide(client, link_id, "review", webhook=False)

    response = set_outcome(client, link_id, {"outcome": second})

    assert response.status_code == 409
    assert response.json["statusCode"] == 409  # type: ignore[index]
    assert link_data(client, token, link_id)["records"][0]["status"] == "REVIEW"


def test_the_reviewer_does_not_choose_the_document(client: Client, token: str) -> None:
    link_id = new_link(client, token)
    decide(client, link_id, "review", webhook=False)

    response = set_outcome(client, link_id, {"outcome": "accepted", "documentType": "PASSPORT"})

    assert response.status_code == 400
    assert link_data(client, token, link_id)["records"][0]["status"] == "REVIEW"


@pytest.mark.parametrize("first", ["accepted", "declined"])
@pytest.mark.parametrize("second", ["accepted", "declined", "review", "abandon"])
def test_a_second_outcome_after_a_decision_is_a_409(
    client: Client, token: str, first: str, second: str
) -> None:
    link_id = new_link(client, token)
    decide(client, link_id, first, webhook=False)

    response = set_outcome(client, link_id, {"outcome": second, "webhook": False})

    assert response.status_code == 409
    assert response.json == error(409, "The verification of this link is already decided")
    assert len(link_data(client, token, link_id)["records"]) == 1


def test_abandon_makes_no_record_ends_the_users_part_and_the_link_expires(
    client: Client, token: str, clock: FakeClock
) -> None:
    link_id = new_link(client, token, expiryTime=10)

    answer = decide(client, link_id, "abandon")
    later = set_outcome(client, link_id, {"outcome": "accepted"})

    assert answer == {"linkId": link_id, "status": "ABANDONED"}
    assert later.status_code == 409
    assert link_data(client, token, link_id) | {"expiresAt": ""} == {
        "linkId": link_id,
        "applicationId": "app-1",
        "expiresAt": "",
        "status": "ACTIVE",
        "records": [],
    }
    clock.advance(600)
    assert api(client, token, "link", linkId=link_id)["responseCode"] == 8015


@pytest.mark.parametrize("outcome", ["accepted", "declined", "review", "abandon"])
def test_a_user_outcome_on_an_expired_link_is_a_410(
    client: Client, token: str, clock: FakeClock, outcome: str
) -> None:
    link_id = new_link(client, token, expiryTime=10)
    clock.advance(600)

    response = set_outcome(client, link_id, {"outcome": outcome})

    assert response.status_code == 410
    assert response.json == error(410, "Verification link expired")


def test_an_outcome_for_an_unknown_link_is_a_404(client: Client) -> None:
    response = set_outcome(client, "000000000000000000000000", {"outcome": "accepted"})

    assert response.status_code == 404
    assert response.json == error(404, "Verification link not found")


@pytest.mark.parametrize(
    "body",
    [
        {"outcome": "ACCEPTED"},
        {"outcome": "approved"},
        {},
        {"outcome": "accepted", "code": 8002},
        {"outcome": "review", "code": 8002},
        {"outcome": "declined", "code": 8003},  # PLEASE_TRY_AGAIN is not a decline
        {"outcome": "declined", "code": 8013},
        {"outcome": "declined", "code": "8006"},
        {"outcome": "declined", "code": True},
        {"outcome": "accepted", "webhook": "no"},
        {"outcome": "accepted", "documentType": "SELFIE"},
        {"outcome": "abandon", "documentType": "ID"},
        ["accepted"],
        "not json",
    ],
)
def test_a_bad_outcome_request_is_a_400_and_changes_nothing(client: Client, token: str, body: object) -> None:
    link_id = new_link(client, token)

    response = set_outcome(client, link_id, body)

    assert response.status_code == 400
    assert response.json["statusCode"] == 400  # type: ignore[index]
    assert link_data(client, token, link_id)["records"] == []
    assert decide(client, link_id, "accepted", webhook=False)["status"] == "ACCEPTED"


def test_concurrent_outcomes_let_exactly_one_win(client: Client, token: str, sandbox: FacekiSandbox) -> None:
    link_id = new_link(client, token)
    codes: list[int] = []
    lock = threading.Lock()

    def click(outcome: str) -> None:
        response = set_outcome(Client(sandbox), link_id, {"outcome": outcome, "webhook": False})
        with lock:
            codes.append(response.status_code)

    threads = [threading.Thread(target=click, args=(("accepted", "declined")[i % 2],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(codes) == [200] + [409] * 7
    assert len(link_data(client, token, link_id)["records"]) == 1


# -- the hosted page -----------------------------------------------------------------------------------------


def test_the_page_shows_the_users_buttons_the_codes_the_webhook_checkbox_and_the_tokens(
    client: Client, token: str
) -> None:
    url = create(client, token, {"expiryTime": 30, "applicationId": "order-42"}).json["url"]  # type: ignore[index]

    response = client.get(url.removeprefix(BASE_URL))
    page = response.get_data(as_text=True)

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert "<title>FACEKI KYC sandbox</title>" in page
    for button in USER_BUTTONS + REVIEWER_BUTTONS:
        assert f'<button id="{button}"' in page
    assert f'data-allowed="{" ".join(USER_BUTTONS)}"' in page
    assert '<dd id="faceki-state" data-state="ACTIVE">ACTIVE</dd>' in page
    assert '<dd id="faceki-tokens">1</dd>' in page
    assert '<dd id="faceki-application-id">order-42</dd>' in page
    assert '<dd id="faceki-expires-at">2025-11-30T11:10:00Z</dd>' in page
    assert '<input id="faceki-webhook" type="checkbox" checked>' in page
    assert '<select id="faceki-code">' in page
    assert re.findall(r'<option value="(\d+)"', page) == [str(code) for code in DECLINE_CODES]
    assert '<option value="8002" selected>8002 DOCUMENT_VERIFY_FAILED</option>' in page
    assert '<select id="faceki-document">' in page
    assert "<script src" not in page  # self-contained: inline JS and CSS only
    assert response.headers["Referrer-Policy"] == "no-referrer"
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp
    assert "connect-src 'self'" in csp


def test_the_page_shows_how_many_tokens_were_issued(client: Client, token: str) -> None:
    link_id = new_link(client, token)
    for _ in range(4):
        new_token(client)

    assert '<dd id="faceki-tokens">5</dd>' in page_of(client, link_id)


def test_in_review_the_page_enables_the_reviewers_buttons(client: Client, token: str) -> None:
    link_id = new_link(client, token)
    request_id = decide(client, link_id, "review", webhook=False)["requestId"]

    page = page_of(client, link_id)

    assert f'data-allowed="{" ".join(REVIEWER_BUTTONS)}"' in page
    assert '<dd id="faceki-state" data-state="REVIEW">REVIEW</dd>' in page
    assert f'<dd id="faceki-request-id">{request_id}</dd>' in page


@pytest.mark.parametrize(
    ("outcomes", "state", "code"),
    [
        (({"outcome": "accepted"},), "ACCEPTED", "0"),
        (({"outcome": "declined", "code": 8006},), "DECLINED", "8006 FACE_NOT_FOUND"),
        (({"outcome": "review"}, {"outcome": "declined", "code": 5010}), "DECLINED", "5010 EXPIRED_DOCUMENT"),
        (({"outcome": "abandon"},), "ABANDONED", ""),
    ],
)
def test_after_the_outcome_the_page_allows_nothing_and_says_so(
    client: Client, token: str, outcomes: tuple[dict[str, Any], ...], state: str, code: str
) -> None:
    link_id = new_link(client, token)
    for body in outcomes:
        decide(client, link_id, webhook=False, **body)

    page = page_of(client, link_id)

    assert 'data-allowed=""' in page
    assert f'<dd id="faceki-state" data-state="{state}">{state}</dd>' in page
    assert f'<dd id="faceki-response-code">{code}</dd>' in page


def test_the_page_of_an_expired_link_says_so(client: Client, token: str, clock: FakeClock) -> None:
    link_id = new_link(client, token, expiryTime=10)
    clock.advance(600)

    page = page_of(client, link_id)

    assert 'data-allowed=""' in page
    assert '<dd id="faceki-state" data-state="EXPIRED">EXPIRED</dd>' in page


def test_the_page_of_an_expired_link_in_review_keeps_the_reviewers_buttons(
    client: Client, token: str, clock: FakeClock
) -> None:
    link_id = new_link(client, token, expiryTime=10)
    decide(client, link_id, "review", webhook=False)
    clock.advance(600)

    assert f'data-allowed="{" ".join(REVIEWER_BUTTONS)}"' in page_of(client, link_id)


@pytest.mark.parametrize("link_id", ["000000000000000000000000", "api", "x" * 30])
def test_the_page_of_an_unknown_link_is_an_html_404(client: Client, link_id: str) -> None:
    response = client.get(f"/kycverify/{link_id}")

    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert 'id="faceki-not-found"' in response.get_data(as_text=True)


def test_the_page_hands_the_escaped_redirect_url_and_application_id_to_its_script(
    client: Client, token: str
) -> None:
    link_id = new_link(
        client,
        token,
        applicationId="<script>alert(1)</script>",
        redirect_url='https://shop.example/done?x="><script>alert(2)</script>',
    )

    page = page_of(client, link_id)

    assert "<script>alert(" not in page
    assert 'data-redirect="https://shop.example/done?x=&quot;&gt;&lt;script&gt;' in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_the_page_has_no_redirect_when_the_link_has_none(client: Client, token: str) -> None:
    assert 'data-redirect=""' in page_of(client, new_link(client, token))


# -- the account's settings ----------------------------------------------------------------------------------


def test_the_account_endpoint_shows_the_state_and_the_tokens_without_a_token(
    client: Client, sandbox: FacekiSandbox
) -> None:
    response = client.get("/sandbox/account")

    assert response.status_code == 200
    assert response.json == {**ACCOUNT_DEFAULTS, "tokens_issued": 0}
    assert sandbox.account == ACCOUNT_DEFAULTS


def test_posting_some_flags_changes_only_those_and_answers_the_whole_state(
    client: Client, token: str, sandbox: FacekiSandbox
) -> None:
    response = client.post("/sandbox/account", json={"credit": False, "fail_link": True})

    assert response.status_code == 200
    assert response.json == {**ACCOUNT_DEFAULTS, "credit": False, "fail_link": True}
    assert client.get("/sandbox/account").json == {
        **ACCOUNT_DEFAULTS,
        "credit": False,
        "fail_link": True,
        "tokens_issued": 1,
    }
    assert create(client, token, {"expiryTime": 30, "applicationId": "a"}).json["responseCode"] == 5003  # type: ignore[index]


def test_posting_no_flags_changes_nothing(client: Client) -> None:
    assert client.post("/sandbox/account").json == ACCOUNT_DEFAULTS
    assert client.post("/sandbox/account", json={}).json == ACCOUNT_DEFAULTS


@pytest.mark.parametrize("body", [{"rules": "false"}, {"credit": 0}, {"wallet": True}, [True], "{not json"])
def test_a_bad_account_body_is_a_400_and_changes_nothing(client: Client, body: object) -> None:
    data = body if isinstance(body, str) else json.dumps(body)

    response = client.post("/sandbox/account", data=data, content_type="application/json")

    assert response.status_code == 400
    assert response.json["statusCode"] == 400  # type: ignore[index]
    assert client.get("/sandbox/account").json == {**ACCOUNT_DEFAULTS, "tokens_issued": 0}


def test_set_account_refuses_unknown_flags_and_non_bools(sandbox: FacekiSandbox) -> None:
    with pytest.raises(ValueError, match="unknown"):
        sandbox.set_account(wallet=True)
    with pytest.raises(ValueError, match="true or false"):
        sandbox.set_account(rules=1)  # type: ignore[arg-type]
    assert sandbox.account == ACCOUNT_DEFAULTS


# -- the dashboard webhook -----------------------------------------------------------------------------------


def bodies(server: ScriptedServer) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in server.requests if r.path == DASHBOARD_HOOK]


def webhook_body(request_id: str, status: str, document_type: str = "ID") -> dict[str, Any]:
    return {
        "requestId": request_id,
        "fullName": FAKE_FULL_NAME,
        "status": status,
        "kycData": {
            "name": FAKE_FULL_NAME,
            "dateOfBirth": FAKE_BIRTH_DATE,
            "documentNumber": FAKE_DOCUMENT_NUMBER,
            "nationality": FAKE_NATIONALITY,
            "documentType": document_type,
        },
    }


@pytest.mark.parametrize(
    ("outcome", "status"), [("accepted", "ACCEPTED"), ("declined", "DECLINED"), ("review", "REVIEW")]
)
def test_a_new_record_posts_the_documented_body_to_the_dashboard_webhook(
    client: Client, token: str, sandbox: FacekiSandbox, receiver: ScriptedServer, outcome: str, status: str
) -> None:
    link_id = new_link(client, token)

    request_id = decide(client, link_id, outcome)["requestId"]
    sandbox.flush_webhooks()

    assert len(receiver.requests) == 1
    received = receiver.requests[0]
    assert (received.method, received.path) == ("POST", DASHBOARD_HOOK)
    assert received.headers["content-type"] == "application/json"
    assert "authorization" not in received.headers
    assert not any("signature" in name for name in received.headers)
    assert json.loads(received.body) == webhook_body(request_id, status)
    assert sandbox.webhook_deliveries == [(200, webhook_body(request_id, status))]


@pytest.mark.parametrize(("decision", "status"), [("accepted", "ACCEPTED"), ("declined", "DECLINED")])
def test_the_reviewers_decision_posts_the_records_new_status(
    client: Client, token: str, sandbox: FacekiSandbox, receiver: ScriptedServer, decision: str, status: str
) -> None:
    link_id = new_link(client, token)
    request_id = decide(client, link_id, "review", documentType="PASSPORT")["requestId"]
    sandbox.flush_webhooks()

    decide(client, link_id, decision)
    sandbox.flush_webhooks()

    assert bodies(receiver) == [
        webhook_body(request_id, "REVIEW", "PASSPORT"),
        webhook_body(request_id, status, "PASSPORT"),
    ]


def test_webhook_false_sends_no_webhook_for_the_user_or_the_reviewer(
    client: Client, token: str, sandbox: FacekiSandbox, receiver: ScriptedServer
) -> None:
    link_id = new_link(client, token)

    decide(client, link_id, "review", webhook=False)
    decide(client, link_id, "accepted", webhook=False)
    sandbox.flush_webhooks()

    assert receiver.requests == []
    assert sandbox.webhook_deliveries == []


def test_the_reviewer_may_send_the_webhook_the_user_did_not(
    client: Client, token: str, sandbox: FacekiSandbox, receiver: ScriptedServer
) -> None:
    link_id = new_link(client, token)
    request_id = decide(client, link_id, "review", webhook=False)["requestId"]

    decide(client, link_id, "declined", code=5005)
    sandbox.flush_webhooks()

    assert bodies(receiver) == [webhook_body(request_id, "DECLINED")]


def test_abandon_and_expiry_send_no_webhook(
    client: Client, token: str, sandbox: FacekiSandbox, receiver: ScriptedServer, clock: FakeClock
) -> None:
    decide(client, new_link(client, token), "abandon")
    expired = new_link(client, token, expiryTime=1)
    clock.advance(60)
    assert api(client, token, "link", linkId=expired)["responseCode"] == 8015
    sandbox.flush_webhooks()

    assert receiver.requests == []


def test_no_webhook_is_sent_without_a_dashboard_url(
    client: Client, token: str, sandbox: FacekiSandbox
) -> None:
    decide(client, new_link(client, token), "accepted")
    sandbox.flush_webhooks()

    assert sandbox.dashboard_webhook_url is None
    assert sandbox.webhook_deliveries == []


def test_a_webhook_answered_with_a_5xx_is_retried_until_it_succeeds(
    client: Client, token: str, sandbox: FacekiSandbox
) -> None:
    with scripted_server(json_answer({}, status=502), json_answer({})) as server:
        sandbox.dashboard_webhook_url = server.url + DASHBOARD_HOOK

        decide(client, new_link(client, token), "accepted")
        sandbox.flush_webhooks()

        assert [code for code, _ in sandbox.webhook_deliveries] == [502, 200]
        assert len({r.body for r in server.requests}) == 1


# -- secrecy and construction --------------------------------------------------------------------------------


def test_logs_never_show_the_secret_tokens_the_fake_person_or_the_webhook_token(
    client: Client, sandbox: FacekiSandbox, receiver: ScriptedServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    access_token(client, {"clientId": CLIENT_ID, "clientSecret": "wrong-secret"})
    token = new_token(client)
    link_id = new_link(client, token, applicationId="order-secret-77")
    decide(client, link_id, "review", documentType="DL")
    sandbox.flush_webhooks()
    decide(client, link_id, "accepted")
    sandbox.flush_webhooks()
    link_data(client, token, link_id)

    # The receiving test server logs its own requests; only the sandbox's lines are checked.
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("devstack.sandboxes"))
    assert "/v1/webhooks/faceki/*** -> 200" in ours
    for secret in (CLIENT_SECRET, "wrong-secret", token):
        assert secret not in caplog.text
    for secret in (
        "whk_secret_token_456",
        FAKE_FULL_NAME,
        FAKE_DOCUMENT_NUMBER,
        FAKE_BIRTH_DATE,
        "order-secret",
    ):
        assert secret not in ours
    assert link_id not in ours


def test_the_registration_is_faceki_at_the_root_of_its_url() -> None:
    sandbox = FacekiSandbox.from_arguments(BASE_URL + "/", {"faceki_token_ttl": 120})
    client = Client(sandbox)

    answer = access_token(
        client,
        {
            "clientId": sandbox.credentials()["client_id"],
            "clientSecret": sandbox.credentials()["client_secret"],
        },
    )

    assert (FacekiSandbox.name, FacekiSandbox.title, FacekiSandbox.default_port) == (
        "faceki",
        "FACEKI (KYC link)",
        3004,
    )
    assert sandbox.api_url() == BASE_URL
    assert sandbox.credentials() == {
        "client_id": FacekiSandbox.DEV_CLIENT_ID,
        "client_secret": FacekiSandbox.DEV_CLIENT_SECRET,
    }
    assert sandbox.client_settings() == {}
    assert answer.json["data"]["expires_in"] == 120  # type: ignore[index]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"client_id": "", "client_secret": CLIENT_SECRET, "public_base_url": BASE_URL}, "non-empty"),
        ({"client_id": CLIENT_ID, "client_secret": "", "public_base_url": BASE_URL}, "non-empty"),
        (
            {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "public_base_url": "127.0.0.1:4040"},
            "http",
        ),
        (
            {
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "public_base_url": BASE_URL,
                "token_ttl_seconds": 0,
            },
            "positive",
        ),
        (
            {
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "public_base_url": BASE_URL,
                "dashboard_webhook_url": "ftp://x",
            },
            "dashboard_webhook_url",
        ),
    ],
)
def test_constructor_refuses_bad_settings(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FacekiSandbox(**kwargs)
