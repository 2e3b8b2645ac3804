"""The Datakeen sandbox follows its contract (seeds/datakeen-idify.txt) and its documented choices."""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client, TestResponse

from devstack.sandboxes.datakeen import DatakeenSandbox
from tests.support.clock import FakeClock
from tests.support.http_server import ScriptedServer, json_answer, scripted_server

USERNAME = "api@shop.example"
PASSWORD = "datakeen-sandbox-password-1"
BASE_URL = "http://127.0.0.1:4030"
START = 1_764_499_200.75  # 2025-11-30T10:40:00Z plus a fraction
TOKEN_TTL = 86400
SESSION_TTL = 3600
SESSION_HOOK = "/hooks/datakeen/session_secret_abc"
DASHBOARD_HOOK = "/v1/webhooks/datakeen/whk_secret_token_123"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SAMPLE = Path(__file__).parents[2] / "fixtures" / "datakeen" / "result-sample.json"
DEFAULT_TEMPLATE = "6747253f954e810012b37a0e"
OTHER_TEMPLATE = "6745fcdf34177200112cc345"
INACTIVE_TEMPLATE = "65f1c2a8e4b0a10012d4c7f0"
PROTECTED = (
    ("GET", "/backend/admin/templates"),
    ("POST", "/backend/api/v1/session"),
    ("GET", "/backend/api/v1/session/000000000000000000000000"),
)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def sandbox(clock: FakeClock) -> DatakeenSandbox:
    sandbox = DatakeenSandbox(USERNAME, PASSWORD, BASE_URL + "/", clock=clock)
    sandbox.webhook_retry_delays = (0.0, 0.0)
    sandbox.webhook_timeout_seconds = 2.0
    return sandbox


@pytest.fixture
def client(sandbox: DatakeenSandbox) -> Client:
    return Client(sandbox)


@pytest.fixture
def token(client: Client) -> str:
    return new_token(client)


@pytest.fixture
def receiver(sandbox: DatakeenSandbox) -> Iterator[ScriptedServer]:
    """A real HTTP server on 127.0.0.1 for the webhooks; it answers 200."""
    with scripted_server(json_answer({"received": True})) as server:
        yield server
        sandbox.flush_webhooks()


def auth(client: Client, body: object) -> TestResponse:
    data = body if isinstance(body, str) else json.dumps(body)
    return client.post("/backend/auth", data=data, content_type="application/json")


def new_token(client: Client) -> str:
    response = auth(client, {"username": USERNAME, "password": PASSWORD})
    assert response.status_code == 200, response.get_data(as_text=True)
    return str(response.json["data"]["token"])  # type: ignore[index]


def basic(token: str) -> dict[str, str]:
    return {"Authorization": f"Basic {token}"}


def create(
    client: Client, token: str, body: object = None, content_type: str = "application/json"
) -> TestResponse:
    data = None if body is None else body if isinstance(body, str) else json.dumps(body)
    return client.post("/backend/api/v1/session", headers=basic(token), data=data, content_type=content_type)


def new_session(client: Client, token: str, body: object = None) -> str:
    response = create(client, token, body)
    assert response.status_code == 200, response.get_data(as_text=True)
    return str(response.json["data"]["sessionId"])  # type: ignore[index]


def result(client: Client, token: str, session_id: str) -> dict[str, Any]:
    response = client.get(f"/backend/api/v1/session/{session_id}", headers=basic(token))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json is not None
    return response.json


def status_of(client: Client, token: str, session_id: str) -> str:
    return str(result(client, token, session_id)["data"]["sessionStatus"])


def id_card(answer: dict[str, Any]) -> dict[str, Any]:
    document: dict[str, Any] = answer["data"]["job_status"]["predictions"][0]["results"]["documents"][0]
    return document


def set_outcome(client: Client, session_id: str, body: object) -> TestResponse:
    data = body if isinstance(body, str) else json.dumps(body)
    return client.post(f"/client/test?sessionId={session_id}", data=data, content_type="application/json")


def decide(client: Client, session_id: str, outcome: str, **more: object) -> None:
    response = set_outcome(client, session_id, {"outcome": outcome, **more})
    assert response.status_code == 200, response.get_data(as_text=True)


# -- auth ----------------------------------------------------------------------------------------------


def test_auth_answers_a_token_in_the_documented_envelope(client: Client) -> None:
    response = auth(client, {"username": USERNAME, "password": PASSWORD})

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body = response.json
    assert body is not None
    assert set(body) == {"status", "data"}
    assert body["status"] == 200
    assert set(body["data"]) == {"token"}
    assert re.fullmatch(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+", body["data"]["token"])


def test_the_token_is_jwt_shaped_with_a_24_hour_lifetime_and_no_personal_data(client: Client) -> None:
    token = new_token(client)

    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))

    assert claims["exp"] - claims["iat"] == TOKEN_TTL
    assert claims["iat"] == int(START)
    assert USERNAME not in json.dumps(claims)


def test_auth_issues_a_new_token_each_call_and_all_stay_valid(client: Client) -> None:
    first, second = new_token(client), new_token(client)

    assert first != second
    for token in (first, second):
        assert client.get("/backend/admin/templates", headers=basic(token)).status_code == 200


@pytest.mark.parametrize(
    ("username", "password"),
    [(USERNAME, "wrong-password"), ("other@shop.example", PASSWORD), (USERNAME.upper(), PASSWORD)],
)
def test_auth_refuses_wrong_credentials_with_a_json_401(client: Client, username: str, password: str) -> None:
    response = auth(client, {"username": username, "password": password})

    assert response.status_code == 401
    assert response.json == {"status": 401, "message": "Invalid username or password"}


@pytest.mark.parametrize(
    "body",
    ['{"username": "api@shop.example"}', '{"username": 1, "password": 2}', "[]", "{not json", ""],
)
def test_auth_refuses_a_malformed_body_with_a_400(client: Client, body: str) -> None:
    response = auth(client, body)

    assert response.status_code == 400
    assert response.json["status"] == 400  # type: ignore[index]


def test_auth_needs_a_json_content_type(client: Client) -> None:
    response = client.post(
        "/backend/auth",
        data=f"username={USERNAME}&password={PASSWORD}",
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 400


def test_auth_only_accepts_post(client: Client) -> None:
    response = client.get("/backend/auth")

    assert response.status_code == 405
    assert response.json == {"status": 405, "message": "Method Not Allowed"}
    assert response.headers["Allow"] == "POST"


def test_unknown_paths_are_a_json_404(client: Client, token: str) -> None:
    response = client.get("/backend/api/v2/session", headers=basic(token))

    assert response.status_code == 404
    assert response.json == {"status": 404, "message": "Not Found"}


# -- the token -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_every_call_refuses_a_missing_token(client: Client, method: str, path: str) -> None:
    response = client.open(path, method=method, json={})

    assert response.status_code == 401
    assert response.json == {"status": 401, "message": "Missing token"}


@pytest.mark.parametrize(("method", "path"), PROTECTED)
@pytest.mark.parametrize(
    "authorization",
    [
        "Basic not-a-token",
        "Bearer {token}",  # the v2 API's scheme
        "{token}",
        "Basic  {token}",
        "Basic " + base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode(),  # HTTP Basic
    ],
)
def test_every_call_refuses_anything_but_basic_and_a_known_token(
    client: Client, token: str, method: str, path: str, authorization: str
) -> None:
    headers = {"Authorization": authorization.format(token=token)}

    response = client.open(path, method=method, headers=headers, json={})

    assert response.status_code == 401
    assert response.json["status"] == 401  # type: ignore[index]


def test_the_scheme_word_is_case_insensitive_as_in_http(client: Client, token: str) -> None:
    response = client.get("/backend/admin/templates", headers={"Authorization": f"basic {token}"})

    assert response.status_code == 200


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_a_token_expires_24_hours_after_its_issue(
    client: Client, clock: FakeClock, token: str, method: str, path: str
) -> None:
    clock.now = int(START) + TOKEN_TTL - 1
    assert client.open(path, method=method, headers=basic(token), json={}).status_code != 401

    clock.now = int(START) + TOKEN_TTL
    response = client.open(path, method=method, headers=basic(token), json={})

    assert response.status_code == 401
    assert response.json == {"status": 401, "message": "Invalid or expired token"}


def test_the_token_lifetime_is_configurable(clock: FakeClock) -> None:
    client = Client(DatakeenSandbox(USERNAME, PASSWORD, BASE_URL, token_ttl_seconds=60, clock=clock))
    token = new_token(client)

    clock.advance(60)

    assert client.get("/backend/admin/templates", headers=basic(token)).status_code == 401


def test_another_sandboxs_token_is_refused(client: Client, clock: FakeClock) -> None:
    other = Client(DatakeenSandbox(USERNAME, PASSWORD, BASE_URL, clock=clock))

    response = client.get("/backend/admin/templates", headers=basic(new_token(other)))

    assert response.status_code == 401


def test_the_token_is_checked_before_the_body_and_the_session_id(client: Client) -> None:
    bad_body = create(client, "unknown", "{not json")
    unknown_session = client.get("/backend/api/v1/session/nope", headers=basic("unknown"))

    assert (bad_body.status_code, unknown_session.status_code) == (401, 401)


# -- templates -----------------------------------------------------------------------------------------


def test_templates_list_two_active_templates_and_an_inactive_one(client: Client, token: str) -> None:
    response = client.get("/backend/admin/templates", headers=basic(token))

    assert response.status_code == 200
    templates = response.json
    assert isinstance(templates, list)
    assert [t["_id"] for t in templates] == [DEFAULT_TEMPLATE, OTHER_TEMPLATE, INACTIVE_TEMPLATE]
    for template in templates:
        assert set(template) == {"name", "default", "status", "_id", "createdAt"}
        assert re.fullmatch(r"[0-9a-f]{24}", template["_id"])
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", template["createdAt"])
    assert [t["status"] for t in templates] == ["active", "active", "inactive"]
    assert [t["default"] for t in templates] == [True, False, False]
    assert templates[0]["name"] == "Vérification Identité avec selfie"


# -- creating a session --------------------------------------------------------------------------------


def test_create_answers_a_magic_link_to_the_sessions_page(client: Client, token: str) -> None:
    response = create(client, token, {"QR": False, "firstName": "JEAN", "lastName": "DUPONT"})

    assert response.status_code == 200
    body = response.json
    assert body is not None
    assert set(body) == {"status", "message", "data"}
    assert (body["status"], body["message"]) == (200, "Magic Link")
    data = body["data"]
    assert set(data) == {"link", "sessionId", "QRCode"}
    assert re.fullmatch(r"[0-9a-f]{24}", data["sessionId"])
    assert data["sessionId"].startswith(f"{int(START):08x}")  # MongoDB-style: the creation second first
    assert data["link"] == f"{BASE_URL}/client/test?sessionId={data['sessionId']}"
    assert data["QRCode"] == ""


def test_create_with_qr_answers_a_bare_base64_png(client: Client, token: str) -> None:
    qr_code = create(client, token, {"QR": True}).json["data"]["QRCode"]  # type: ignore[index]

    assert not qr_code.startswith("data:")
    assert base64.b64decode(qr_code, validate=True).startswith(PNG_SIGNATURE)


def test_create_accepts_the_documents_full_example(client: Client, token: str) -> None:
    body = {
        "QR": False,
        "firstName": "JEAN",
        "lastName": "DUPONT",
        "birthDate": "01/01/1970",
        "webhookURL": "https://google.com",
        "callbackURL": "https://google.com",
        "templateId": OTHER_TEMPLATE,
    }

    assert create(client, token, body).status_code == 200


def test_create_accepts_no_body(client: Client, token: str) -> None:
    response = client.post("/backend/api/v1/session", headers=basic(token))

    assert response.status_code == 200


def test_create_issues_a_new_session_each_call(client: Client, token: str) -> None:
    assert new_session(client, token) != new_session(client, token)


@pytest.mark.parametrize(
    ("template_id", "message"),
    [
        ("000000000000000000000000", "Template not found"),
        ("6747253f954e810012b37zer", "Template not found"),
        (42, "Template not found"),
        (INACTIVE_TEMPLATE, "Template is not active"),
    ],
)
def test_create_refuses_an_unknown_or_inactive_template(
    client: Client, token: str, template_id: object, message: str
) -> None:
    response = create(client, token, {"templateId": template_id})

    assert response.status_code == 400
    assert response.json == {"status": 400, "message": message}


@pytest.mark.parametrize(
    "birth_date", ["1970-01-01", "31/02/1970", "1/1/1970", "01/13/1970", "01.01.1970", 19700101]
)
def test_create_refuses_a_birth_date_not_as_dd_mm_yyyy(
    client: Client, token: str, birth_date: object
) -> None:
    response = create(client, token, {"birthDate": birth_date})

    assert response.status_code == 400
    assert response.json == {"status": 400, "message": "birthDate must be a date as dd/mm/yyyy"}


@pytest.mark.parametrize(
    "body",
    [
        {"QR": "true"},
        {"QR": 1},
        {"webhookURL": "ftp://hooks.example/x"},
        {"callbackURL": "javascript:alert(1)"},
        {"firstName": 42},
        {"lastName": "x" * 101},
        [1, 2],
        "{not json",
    ],
)
def test_create_refuses_a_bad_body_with_a_400(client: Client, token: str, body: object) -> None:
    response = create(client, token, body)

    assert response.status_code == 400
    assert response.json["status"] == 400  # type: ignore[index]


def test_create_refuses_a_form_body(client: Client, token: str) -> None:
    assert (
        create(client, token, "QR=true", content_type="application/x-www-form-urlencoded").status_code == 400
    )


def test_create_refuses_a_body_over_64_kib(client: Client, token: str) -> None:
    response = create(client, token, {"firstName": "x" * 70_000})

    assert response.status_code == 413
    assert response.json["status"] == 413  # type: ignore[index]


# -- results -------------------------------------------------------------------------------------------


def test_a_new_session_is_pending_with_no_analysis(client: Client, token: str) -> None:
    session_id = new_session(client, token)

    assert result(client, token, session_id) == {
        "status": 200,
        "message": "Session pending",
        "data": {"analysid_id": "", "job_status": None, "sessionStatus": "pending"},
    }


@pytest.mark.parametrize("session_id", ["000000000000000000000000", "not-an-id"])
def test_the_result_of_an_unknown_session_is_a_json_404(client: Client, token: str, session_id: str) -> None:
    response = client.get(f"/backend/api/v1/session/{session_id}", headers=basic(token))

    assert response.status_code == 404
    assert response.json == {"status": 404, "message": "Session not found"}


def test_an_approved_analysis_passes_every_control(client: Client, token: str) -> None:
    session_id = new_session(client, token)
    decide(client, session_id, "approved", webhook=False)

    answer = result(client, token, session_id)

    assert answer["message"] == "Analysis Completed Successfully"
    assert answer["data"]["sessionStatus"] == "ai_approved"
    assert re.fullmatch(r"[0-9a-f]{24}", answer["data"]["analysid_id"])
    results = answer["data"]["job_status"]["predictions"][0]["results"]
    assert results["controls"]["matchNameInAllDocuments"]["value"] is True
    controls = id_card(answer)["controls"]
    assert {name: c["value"] for name, c in controls.items() if not c["value"]} == {}
    assert controls["globalStatus"] == {"confidence": 1, "score": 1, "value": True}
    assert id_card(answer)["extractedInformation"]["expiryDate"]["value"] == "29.11.2035"


def test_a_rejected_analysis_is_an_expired_document(client: Client, token: str) -> None:
    session_id = new_session(client, token)
    decide(client, session_id, "rejected", webhook=False)

    answer = result(client, token, session_id)

    assert answer["data"]["sessionStatus"] == "ai_rejected"
    card = id_card(answer)
    failed = {name for name, control in card["controls"].items() if not control["value"]}
    assert failed == {"globalStatus", "dateValidity"}
    assert card["extractedInformation"]["expiryDate"]["value"] == "30.11.2024"  # a year before the session
    assert card["extractedInformation"]["deliveryDate"]["value"] == "01.12.2009"


def test_a_review_has_the_analysis_with_a_passing_global_status(client: Client, token: str) -> None:
    session_id = new_session(client, token)
    decide(client, session_id, "review", webhook=False)

    answer = result(client, token, session_id)

    assert answer["message"] == "Analysis Completed Successfully"
    assert answer["data"]["sessionStatus"] == "verify"
    controls = id_card(answer)["controls"]
    assert all(control["value"] for control in controls.values())
    assert controls["globalStatus"]["score"] < 1
    assert min(control["confidence"] for control in controls.values()) < 0.6


def test_the_analysis_has_the_shape_of_the_documents_sample(client: Client, token: str) -> None:
    sample = json.loads(SAMPLE.read_text(encoding="utf-8"))
    session_id = new_session(client, token)
    decide(client, session_id, "approved", webhook=False)

    answer = result(client, token, session_id)

    assert set(answer) == set(sample)
    assert set(answer["data"]) == {*sample["data"], "sessionStatus"}
    prediction, expected = (
        answer["data"]["job_status"]["predictions"][0],
        sample["data"]["job_status"]["predictions"][0],
    )
    assert set(prediction) == set(expected)
    assert set(prediction["results"]) == set(expected["results"])
    assert set(prediction["results"]["entities"][0]) == set(expected["results"]["entities"][0])
    card, expected_card = id_card(answer), id_card(sample)
    assert set(card) == set(expected_card)
    assert set(card["controls"]) == set(expected_card["controls"])
    assert set(card["extractedInformation"]) == set(expected_card["extractedInformation"])
    for name, field in card["extractedInformation"].items():
        assert set(field) == {"bbox", "confidence", "value"}, name
    assert card["cardType"] == expected_card["cardType"]
    assert card["entities"] == [prediction["results"]["entities"][0]["id"]]


def test_the_analysis_reads_the_declared_names(client: Client, token: str) -> None:
    session_id = new_session(client, token, {"firstName": "Camille", "lastName": "MARTIN"})
    decide(client, session_id, "approved", webhook=False)

    answer = result(client, token, session_id)

    extracted = id_card(answer)["extractedInformation"]
    assert (extracted["firstName"]["value"], extracted["lastName"]["value"]) == ("Camille", "MARTIN")
    assert extracted["fullName"]["value"] == "Camille MARTIN"
    entity = answer["data"]["job_status"]["predictions"][0]["results"]["entities"][0]
    assert (entity["firstName"], entity["lastName"]) == ("Camille", "MARTIN")


@pytest.mark.parametrize(
    ("created", "outcome", "expected"),
    [
        ({}, {}, "11.07.1984"),
        ({"birthDate": "02/03/1990"}, {}, "02.03.1990"),
        ({"birthDate": "02/03/1990"}, {"birth_date": "2009-12-31"}, "31.12.2009"),
        ({}, {"birth_date": "2008-02-29"}, "29.02.2008"),
    ],
)
def test_the_analysis_reads_the_birth_date_as_dd_mm_yyyy(
    client: Client, token: str, created: dict[str, str], outcome: dict[str, str], expected: str
) -> None:
    session_id = new_session(client, token, created)
    decide(client, session_id, "approved", webhook=False, **outcome)

    extracted = id_card(result(client, token, session_id))["extractedInformation"]

    assert extracted["birthDate"]["value"] == expected
    assert extracted["birthDateMRZ"]["value"] == expected


# -- the user's outcome and the reviewer's decision ----------------------------------------------------


@pytest.mark.parametrize(
    ("outcome", "status"), [("approved", "ai_approved"), ("rejected", "ai_rejected"), ("review", "verify")]
)
def test_an_outcome_answers_the_new_status(client: Client, token: str, outcome: str, status: str) -> None:
    session_id = new_session(client, token)

    response = set_outcome(client, session_id, {"outcome": outcome, "webhook": False})

    assert response.status_code == 200
    assert response.json == {
        "status": 200,
        "message": "Outcome recorded",
        "data": {"sessionId": session_id, "sessionStatus": status},
    }
    assert status_of(client, token, session_id) == status


@pytest.mark.parametrize(
    ("decision", "status", "global_status"),
    [("approved", "user_approved", True), ("rejected", "user_rejected", False)],
)
def test_the_reviewer_decides_a_review_once(
    client: Client, token: str, decision: str, status: str, global_status: bool
) -> None:
    session_id = new_session(client, token)
    decide(client, session_id, "review", webhook=False)
    reviewed = result(client, token, session_id)

    response = set_outcome(client, session_id, {"outcome": decision, "webhook": False})
    again = set_outcome(client, session_id, {"outcome": "approved", "webhook": False})

    assert response.json["data"]["sessionStatus"] == status  # type: ignore[index]
    assert again.status_code == 409
    answer = result(client, token, session_id)
    assert answer["data"]["sessionStatus"] == status
    assert answer["data"]["analysid_id"] == reviewed["data"]["analysid_id"]
    assert id_card(answer)["controls"]["globalStatus"]["value"] is global_status


@pytest.mark.parametrize("second", ["review", "abandon"])
def test_a_review_takes_only_approved_or_rejected(client: Client, token: str, second: str) -> None:
    session_id = new_session(client, token)
    decide(client, session_id, "review", webhook=False)

    response = set_outcome(client, session_id, {"outcome": second})

    assert response.status_code == 409
    assert status_of(client, token, session_id) == "verify"


def test_the_reviewer_does_not_set_the_birth_date(client: Client, token: str) -> None:
    session_id = new_session(client, token)
    decide(client, session_id, "review", webhook=False)

    response = set_outcome(client, session_id, {"outcome": "approved", "birth_date": "2010-01-01"})

    assert response.status_code == 400
    assert status_of(client, token, session_id) == "verify"


@pytest.mark.parametrize("first", ["approved", "rejected"])
@pytest.mark.parametrize("second", ["approved", "rejected", "review", "abandon"])
def test_a_second_user_outcome_is_a_409(client: Client, token: str, first: str, second: str) -> None:
    session_id = new_session(client, token)
    decide(client, session_id, first, webhook=False)

    response = set_outcome(client, session_id, {"outcome": second, "webhook": False})

    assert response.status_code == 409
    assert response.json == {"status": 409, "message": "The outcome of this session is already set"}


def test_abandon_keeps_the_session_pending_until_it_expires_and_ends_the_users_choices(
    client: Client, token: str, clock: FakeClock
) -> None:
    session_id = new_session(client, token)

    response = set_outcome(client, session_id, {"outcome": "abandon"})
    later = set_outcome(client, session_id, {"outcome": "approved"})

    assert response.json["data"]["sessionStatus"] == "pending"  # type: ignore[index]
    assert later.status_code == 409
    assert status_of(client, token, session_id) == "pending"
    clock.advance(SESSION_TTL)
    assert status_of(client, token, session_id) == "expired"


@pytest.mark.parametrize(
    "body",
    [
        '{"outcome": "ai_approved"}',
        "{}",
        '{"outcome": "approved", "webhook": "no"}',
        '{"outcome": "approved", "birth_date": "11/07/1984"}',
        '{"outcome": "approved", "birth_date": "1984-02-30"}',
        '{"outcome": "approved", "birth_date": "2030-01-01"}',
        '{"outcome": "approved", "birth_date": 1984}',
        "not json",
        '["approved"]',
    ],
)
def test_a_bad_outcome_request_is_a_400_and_changes_nothing(client: Client, token: str, body: str) -> None:
    session_id = new_session(client, token)

    response = set_outcome(client, session_id, body)

    assert response.status_code == 400
    assert response.json["status"] == 400  # type: ignore[index]
    assert status_of(client, token, session_id) == "pending"


def test_an_outcome_for_an_unknown_session_is_a_404(client: Client) -> None:
    response = set_outcome(client, "000000000000000000000000", {"outcome": "approved"})

    assert response.status_code == 404
    assert response.json == {"status": 404, "message": "Session not found"}


def test_concurrent_outcomes_let_exactly_one_win(
    client: Client, token: str, sandbox: DatakeenSandbox
) -> None:
    session_id = new_session(client, token)
    codes: list[int] = []
    lock = threading.Lock()

    def click(outcome: str) -> None:
        response = set_outcome(Client(sandbox), session_id, {"outcome": outcome, "webhook": False})
        with lock:
            codes.append(response.status_code)

    threads = [threading.Thread(target=click, args=(("approved", "rejected")[i % 2],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(codes) == [200] + [409] * 7


# -- expiry --------------------------------------------------------------------------------------------


def test_a_session_without_an_outcome_expires_after_an_hour(
    client: Client, token: str, clock: FakeClock
) -> None:
    session_id = new_session(client, token)

    clock.now = int(START) + SESSION_TTL - 1
    assert status_of(client, token, session_id) == "pending"
    clock.now = int(START) + SESSION_TTL

    assert result(client, token, session_id) == {
        "status": 200,
        "message": "Session expired",
        "data": {"analysid_id": "", "job_status": None, "sessionStatus": "expired"},
    }


def test_the_session_lifetime_is_configurable(clock: FakeClock) -> None:
    client = Client(DatakeenSandbox(USERNAME, PASSWORD, BASE_URL, session_ttl_seconds=60, clock=clock))
    token = new_token(client)
    session_id = new_session(client, token)

    clock.advance(60)

    assert status_of(client, token, session_id) == "expired"


def test_an_outcome_for_an_expired_session_is_a_404(client: Client, token: str, clock: FakeClock) -> None:
    session_id = new_session(client, token)
    clock.advance(SESSION_TTL)

    response = set_outcome(client, session_id, {"outcome": "approved"})

    assert response.status_code == 404
    assert response.json == {"status": 404, "message": "Session expired"}
    assert status_of(client, token, session_id) == "expired"


def test_an_outcome_does_not_expire_and_the_reviewer_may_decide_later(
    client: Client, token: str, clock: FakeClock
) -> None:
    reviewed, approved = new_session(client, token), new_session(client, token)
    decide(client, reviewed, "review", webhook=False)
    decide(client, approved, "approved", webhook=False)
    clock.advance(SESSION_TTL * 5)

    decide(client, reviewed, "rejected", webhook=False)

    assert status_of(client, token, reviewed) == "user_rejected"
    assert status_of(client, token, approved) == "ai_approved"


# -- the session's page --------------------------------------------------------------------------------


def test_the_page_shows_the_outcome_buttons_the_webhook_checkbox_and_the_birth_date(
    client: Client, token: str
) -> None:
    link = create(client, token).json["data"]["link"]  # type: ignore[index]

    response = client.get(link.removeprefix(BASE_URL))
    page = response.get_data(as_text=True)

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert "<title>Datakeen IDify sandbox</title>" in page
    for button in ("approved", "rejected", "review", "abandon"):
        assert f'<button id="{button}"' in page
    assert '<input id="send-webhook" type="checkbox" checked>' in page
    assert '<input id="birth-date" type="date" value="1984-07-11"' in page
    assert 'data-allowed="approved rejected review abandon"' in page
    assert 'data-review="false"' in page
    assert '<p id="status" data-status="pending">pending</p>' in page
    assert "<script src" not in page  # self-contained: inline JS and CSS only
    assert response.headers["Referrer-Policy"] == "no-referrer"
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp
    assert "connect-src 'self'" in csp


def test_the_page_proposes_the_declared_birth_date(client: Client, token: str) -> None:
    session_id = new_session(client, token, {"birthDate": "02/03/1990"})

    page = client.get(f"/client/test?sessionId={session_id}").get_data(as_text=True)

    assert 'value="1990-03-02"' in page


def test_in_review_the_page_shows_the_reviewers_buttons(client: Client, token: str) -> None:
    session_id = new_session(client, token)
    decide(client, session_id, "review", webhook=False)

    page = client.get(f"/client/test?sessionId={session_id}").get_data(as_text=True)

    assert 'data-review="true"' in page
    assert 'data-allowed="approved rejected"' in page
    assert '<p id="status" data-status="verify">verify</p>' in page


def test_after_the_outcome_the_page_allows_nothing_and_says_so(client: Client, token: str) -> None:
    session_id = new_session(client, token)
    decide(client, session_id, "abandon")

    page = client.get(f"/client/test?sessionId={session_id}").get_data(as_text=True)

    assert 'data-allowed=""' in page
    assert "pending (abandoned by the user)" in page


@pytest.mark.parametrize("query", ["?sessionId=000000000000000000000000", "", "?sessionId="])
def test_the_page_of_an_unknown_session_is_an_html_404(client: Client, query: str) -> None:
    response = client.get(f"/client/test{query}")

    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert 'id="not-found"' in response.get_data(as_text=True)


def test_the_page_of_an_expired_session_is_an_html_404(client: Client, token: str, clock: FakeClock) -> None:
    session_id = new_session(client, token)
    clock.advance(SESSION_TTL)

    response = client.get(f"/client/test?sessionId={session_id}")

    assert response.status_code == 404
    assert response.mimetype == "text/html"


def test_the_page_links_back_to_the_escaped_callback_url(client: Client, token: str) -> None:
    session_id = new_session(
        client, token, {"callbackURL": 'https://shop.example/done?x="><script>alert(1)</script>'}
    )

    page = client.get(f"/client/test?sessionId={session_id}").get_data(as_text=True)

    assert "<script>alert(1)" not in page
    assert 'id="return-link" href="https://shop.example/done?x=&quot;&gt;&lt;script&gt;' in page


# -- webhooks ------------------------------------------------------------------------------------------


def bodies(server: ScriptedServer, path: str) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in server.requests if r.path == path]


def test_a_user_outcome_posts_the_session_id_to_the_sessions_webhook_url(
    client: Client, token: str, sandbox: DatakeenSandbox, receiver: ScriptedServer
) -> None:
    session_id = new_session(client, token, {"webhookURL": receiver.url + SESSION_HOOK})

    decide(client, session_id, "approved")
    sandbox.flush_webhooks()

    assert len(receiver.requests) == 1
    received = receiver.requests[0]
    assert (received.method, received.path) == ("POST", SESSION_HOOK)
    assert received.headers["content-type"] == "application/json"
    assert "authorization" not in received.headers
    assert json.loads(received.body) == {"sessionId": session_id}
    assert sandbox.webhook_deliveries == [(200, {"sessionId": session_id})]


@pytest.mark.parametrize(
    ("outcome", "status"), [("approved", "ai_approved"), ("rejected", "ai_rejected"), ("review", "verify")]
)
def test_a_user_outcome_also_posts_the_new_status_to_the_dashboard_webhook(
    client: Client, token: str, sandbox: DatakeenSandbox, receiver: ScriptedServer, outcome: str, status: str
) -> None:
    sandbox.dashboard_webhook_url = receiver.url + DASHBOARD_HOOK
    session_id = new_session(client, token, {"webhookURL": receiver.url + SESSION_HOOK})

    decide(client, session_id, outcome)
    sandbox.flush_webhooks()

    assert bodies(receiver, SESSION_HOOK) == [{"sessionId": session_id}]
    assert bodies(receiver, DASHBOARD_HOOK) == [{"sessionId": session_id, "newStatus": status}]


def test_only_the_dashboard_is_told_when_the_session_has_no_webhook_url(
    client: Client, token: str, sandbox: DatakeenSandbox, receiver: ScriptedServer
) -> None:
    sandbox.dashboard_webhook_url = receiver.url + DASHBOARD_HOOK
    session_id = new_session(client, token)

    decide(client, session_id, "rejected")
    sandbox.flush_webhooks()

    assert [r.path for r in receiver.requests] == [DASHBOARD_HOOK]


@pytest.mark.parametrize(
    ("decision", "status"), [("approved", "user_approved"), ("rejected", "user_rejected")]
)
def test_a_reviewers_decision_posts_the_back_office_body_to_the_dashboard_webhook(
    client: Client, token: str, sandbox: DatakeenSandbox, receiver: ScriptedServer, decision: str, status: str
) -> None:
    sandbox.dashboard_webhook_url = receiver.url + DASHBOARD_HOOK
    session_id = new_session(client, token, {"webhookURL": receiver.url + SESSION_HOOK})
    decide(client, session_id, "review")
    sandbox.flush_webhooks()

    decide(client, session_id, decision)
    sandbox.flush_webhooks()

    answer = result(client, token, session_id)
    entity = answer["data"]["job_status"]["predictions"][0]["results"]["entities"][0]
    decided = bodies(receiver, DASHBOARD_HOOK)[-1]
    assert set(decided) == {"analysisId", "entityId", "correlationId", "sessionId", "newStatus"}
    assert decided["analysisId"] == answer["data"]["analysid_id"]
    assert decided["entityId"] == entity["id"]
    assert re.fullmatch(r"[0-9a-f-]{36}", decided["correlationId"])
    assert (decided["sessionId"], decided["newStatus"]) == (session_id, status)
    assert bodies(receiver, SESSION_HOOK) == [{"sessionId": session_id}]  # the user's outcome only


def test_without_a_dashboard_the_back_office_body_goes_to_the_sessions_webhook_url(
    client: Client, token: str, sandbox: DatakeenSandbox, receiver: ScriptedServer
) -> None:
    session_id = new_session(client, token, {"webhookURL": receiver.url + SESSION_HOOK})
    decide(client, session_id, "review")
    sandbox.flush_webhooks()

    decide(client, session_id, "approved")
    sandbox.flush_webhooks()

    sent = bodies(receiver, SESSION_HOOK)
    assert sent[0] == {"sessionId": session_id}
    assert sent[1]["newStatus"] == "user_approved"
    assert set(sent[1]) == {"analysisId", "entityId", "correlationId", "sessionId", "newStatus"}


@pytest.mark.parametrize("outcome", ["approved", "review"])
def test_webhook_false_sends_no_webhook(
    client: Client, token: str, sandbox: DatakeenSandbox, receiver: ScriptedServer, outcome: str
) -> None:
    sandbox.dashboard_webhook_url = receiver.url + DASHBOARD_HOOK
    session_id = new_session(client, token, {"webhookURL": receiver.url + SESSION_HOOK})

    decide(client, session_id, outcome, webhook=False)
    if outcome == "review":
        decide(client, session_id, "approved", webhook=False)
    sandbox.flush_webhooks()

    assert receiver.requests == []
    assert sandbox.webhook_deliveries == []


def test_abandon_and_expiry_send_no_webhook(
    client: Client, token: str, sandbox: DatakeenSandbox, receiver: ScriptedServer, clock: FakeClock
) -> None:
    sandbox.dashboard_webhook_url = receiver.url + DASHBOARD_HOOK
    abandoned = new_session(client, token, {"webhookURL": receiver.url + SESSION_HOOK})
    expired = new_session(client, token, {"webhookURL": receiver.url + SESSION_HOOK})

    decide(client, abandoned, "abandon")
    clock.advance(SESSION_TTL)
    assert status_of(client, token, expired) == "expired"
    sandbox.flush_webhooks()

    assert receiver.requests == []


def test_no_webhook_is_sent_without_any_url(client: Client, token: str, sandbox: DatakeenSandbox) -> None:
    decide(client, new_session(client, token), "approved")
    sandbox.flush_webhooks()

    assert sandbox.dashboard_webhook_url is None
    assert sandbox.webhook_deliveries == []


def test_a_webhook_answered_with_a_5xx_is_retried_until_it_succeeds(
    client: Client, token: str, sandbox: DatakeenSandbox
) -> None:
    with scripted_server(json_answer({}, status=503), json_answer({})) as server:
        session_id = new_session(client, token, {"webhookURL": server.url + SESSION_HOOK})

        decide(client, session_id, "approved")
        sandbox.flush_webhooks()

        assert [code for code, _ in sandbox.webhook_deliveries] == [503, 200]
        assert len({r.body for r in server.requests}) == 1


def test_the_dashboard_webhook_url_must_be_http(sandbox: DatakeenSandbox) -> None:
    with pytest.raises(ValueError, match="dashboard_webhook_url"):
        sandbox.dashboard_webhook_url = "file:///etc/passwd"


# -- secrecy and construction --------------------------------------------------------------------------


def test_logs_never_show_the_password_token_names_birth_date_or_webhook_secrets(
    client: Client,
    token: str,
    sandbox: DatakeenSandbox,
    receiver: ScriptedServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("DEBUG")
    sandbox.dashboard_webhook_url = receiver.url + DASHBOARD_HOOK
    auth(client, {"username": USERNAME, "password": "wrong-password"})
    token = new_token(client)
    body = {
        "firstName": "Camille",
        "lastName": "MARTIN",
        "birthDate": "02/03/1990",
        "webhookURL": receiver.url + SESSION_HOOK,
    }
    session_id = new_session(client, token, body)
    decide(client, session_id, "review", birth_date="1991-04-05")
    sandbox.flush_webhooks()
    decide(client, session_id, "approved")
    sandbox.flush_webhooks()
    result(client, token, session_id)

    # The receiving test server logs its own requests; only the sandbox's lines are checked.
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("devstack.sandboxes"))
    assert "/hooks/datakeen/*** -> 200" in ours
    assert "/v1/webhooks/datakeen/*** -> 200" in ours
    for secret in (PASSWORD, "wrong-password", USERNAME, token):
        assert secret not in caplog.text
    for secret in ("session_secret_abc", "whk_secret_token_123", "Camille", "MARTIN", "1990", "1991"):
        assert secret not in ours
    assert session_id not in ours


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"username": "", "password": PASSWORD, "public_base_url": BASE_URL}, "non-empty"),
        ({"username": USERNAME, "password": "", "public_base_url": BASE_URL}, "non-empty"),
        ({"username": USERNAME, "password": PASSWORD, "public_base_url": "127.0.0.1:4030"}, "http"),
        (
            {"username": USERNAME, "password": PASSWORD, "public_base_url": BASE_URL, "token_ttl_seconds": 0},
            "positive",
        ),
        (
            {
                "username": USERNAME,
                "password": PASSWORD,
                "public_base_url": BASE_URL,
                "session_ttl_seconds": -1,
            },
            "positive",
        ),
        (
            {
                "username": USERNAME,
                "password": PASSWORD,
                "public_base_url": BASE_URL,
                "dashboard_webhook_url": "x",
            },
            "dashboard_webhook_url",
        ),
    ],
)
def test_constructor_refuses_bad_settings(kwargs: dict[str, Any], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        DatakeenSandbox(**kwargs)
