"""Bad input over HTTP: every mistake a caller can make gets a clear, documented error and never a 5xx.

All calls go through `Api` (tests/e2e/client.py): each answer is in openapi.yaml, none is a 5xx, and every
JSON answer idgate itself gives says `Cache-Control: no-store`."""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest
import requests

from tests.e2e.client import Api, is_gateway_answer
from tests.e2e.stack import RunningStack

pytestmark = pytest.mark.e2e

MAX_BODY_BYTES = 64 * 1024
JEKIMO = {"provider": "jekimo", "options": {"min_age": 18}}


@pytest.fixture(scope="module")
def api(stack: RunningStack) -> Api:
    """This module's own client, so that `api.seen` holds only this module's calls."""
    return Api(stack)


@pytest.fixture(scope="module")
def session(api: Api) -> dict[str, Any]:
    """A pending Jekimo session, only read (never acted on) by this module's tests."""
    return api.create(JEKIMO)


def _error(answer: requests.Response, status: int, code: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    error: dict[str, Any] = answer.json()["error"]
    assert error["code"] == code, answer.text
    assert error["message"], "an error says what is wrong"
    return error


def _create_raw(api: Api, data: bytes | str, content_type: str = "application/json") -> requests.Response:
    return api.call(
        "POST", "/v1/sessions", key=api.secret_key, data=data, headers={"Content-Type": content_type}
    )


def _fields(error: dict[str, Any]) -> dict[str, str]:
    assert error.get("fields"), f"a validation_error names the wrong fields: {error}"
    return {item["field"]: item["problem"] for item in error["fields"]}


# ---- who may call -----------------------------------------------------------------------------------


def test_health_needs_no_key(api: Api) -> None:
    answer = api.call("GET", "/v1/health")

    assert answer.status_code == 200
    assert answer.json() == {"status": "ok"}


def test_creating_without_an_authorization_header_is_the_gateways_401(api: Api) -> None:
    answer = api.call("POST", "/v1/sessions", json=JEKIMO)

    assert answer.status_code == 401
    assert answer.json() == {"message": "Unauthorized"}


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer sk_this_key_does_not_exist",
        "Bearer sk_local_dev_revoked",  # looks like a real key, is not registered
        "Bearer pk_unknown_publishable",
        "Bearer not_a_key",
        "Bearer",
        "Basic c2tfbG9jYWxfZGV2Og==",  # the right key, wrong scheme
    ],
)
def test_a_wrong_or_unknown_key_is_the_gateways_403(api: Api, authorization: str) -> None:
    answer = api.call("POST", "/v1/sessions", json=JEKIMO, headers={"Authorization": authorization})

    assert answer.status_code == 403
    assert answer.json() == {"message": "Forbidden"}


def test_reading_a_session_without_any_credentials_is_the_gateways_403(
    api: Api, session: dict[str, Any]
) -> None:
    answer = api.call("GET", f"/v1/sessions/{session['id']}")

    assert answer.status_code == 403
    assert answer.json() == {"message": "Forbidden"}


def test_a_client_secret_alone_cannot_create_a_session(api: Api) -> None:
    answer = api.call("POST", "/v1/sessions", client_secret="cs_anything", json=JEKIMO)

    assert answer.status_code == 401  # the key authorizer's identity source (Authorization) is missing
    assert answer.json() == {"message": "Unauthorized"}


def test_a_publishable_key_creates_but_cannot_read_a_session_alone(api: Api) -> None:
    created = api.create(JEKIMO, key=api.publishable_key)

    alone = api.get(created["id"], key=api.publishable_key)
    _error(alone, 404, "session_not_found")
    # With the client secret it got back (what the browser does), it can.
    with_secret = api.get(created["id"], key=api.publishable_key, client_secret=created["client_secret"])
    assert with_secret.status_code == 200
    assert with_secret.json()["id"] == created["id"]


def test_someone_elses_session_is_indistinguishable_from_an_unknown_id(
    api: Api, session: dict[str, Any]
) -> None:
    """Ids cannot be probed: "exists but not yours" and "does not exist" give byte-identical answers."""
    wrong_secret = api.get(session["id"], client_secret="cs_" + secrets.token_urlsafe(24))
    unknown_id = api.get("ses_" + secrets.token_urlsafe(15), client_secret="cs_" + secrets.token_urlsafe(24))
    unknown_with_key = api.get("ses_" + secrets.token_urlsafe(15))
    publishable_alone = api.get(session["id"], key=api.publishable_key)
    not_an_id = api.get("no-such-id")
    far_too_long = api.get("ses_" + "a" * 3000)  # longer than a DynamoDB key may be

    _error(wrong_secret, 404, "session_not_found")
    for other in (unknown_id, unknown_with_key, publishable_alone, not_an_id, far_too_long):
        assert other.status_code == wrong_secret.status_code
        assert other.content == wrong_secret.content
    # The PIN route answers the same way.
    pin = api.call(
        "POST", f"/v1/sessions/{session['id']}/pin", client_secret="cs_wrong", json={"pin": "123456"}
    )
    assert (pin.status_code, pin.content) == (404, wrong_secret.content)


# ---- bodies -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    ['{"provider": "jekimo"', "provider=jekimo", "{'provider': 'jekimo'}", '{"provider": "jekimo"} x', ""],
)
def test_a_body_that_is_not_json_is_invalid_json(api: Api, body: str) -> None:
    _error(_create_raw(api, body), 400, "invalid_json")


@pytest.mark.parametrize("body", ['["jekimo"]', '"jekimo"', "42", "null", "true"])
def test_a_json_body_that_is_not_an_object_is_refused(api: Api, body: str) -> None:
    _error(_create_raw(api, body), 400, "invalid_json")


def test_a_body_that_is_not_utf8_is_invalid_json(api: Api) -> None:
    """Bytes that are not UTF-8 are a caller's mistake (400), not a server error."""
    _error(_create_raw(api, b'{"provider": "jekimo", "reference": "\xff\xfe"}'), 400, "invalid_json")


def test_deeply_nested_json_is_refused_without_a_server_error(api: Api) -> None:
    """A small body (well under 64 KiB) nested deeper than the parser's recursion limit."""
    depth = 20_000
    body = '{"provider": "jekimo", "reference": ' + "[" * depth + "]" * depth + "}"
    assert len(body) < MAX_BODY_BYTES

    answer = _create_raw(api, body)

    assert (answer.status_code, answer.json()["error"]["code"]) in {
        (400, "invalid_json"),
        (422, "validation_error"),
    }, answer.text


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"provider": 5}, "provider"),
        ({"provider": None}, "provider"),
        ({}, "provider"),
        ({"provider": "jekimo", "reference": 1234}, "reference"),
        ({"provider": "jekimo", "reference": ""}, "reference"),
        ({"provider": "jekimo", "reference": "r" * 129}, "reference"),
        ({"provider": "jekimo", "options": {"min_age": "18"}}, "options.min_age"),
        ({"provider": "jekimo", "options": {"min_age": 18.5}}, "options.min_age"),
        ({"provider": "jekimo", "options": {"min_age": True}}, "options.min_age"),
        ({"provider": "jekimo", "options": {"min_age": 0}}, "options.min_age"),
        ({"provider": "jekimo", "options": {"min_age": 100}}, "options.min_age"),
        ({"provider": "jekimo", "options": {"min_age": -1}}, "options.min_age"),
        ({"provider": "jekimo", "email": "a@b.co", "options": {"two_factor": "yes"}}, "options.two_factor"),
        ({"provider": "jekimo", "email": "a@b.co", "options": {"two_factor": 1}}, "options.two_factor"),
        ({"provider": "jekimo", "options": {"two_factor": True}}, "options"),  # no email for the PIN
        ({"provider": "jekimo", "email": "", "options": {"two_factor": True}}, "email"),
        ({"provider": "jekimo", "email": "not-an-email", "options": {"two_factor": True}}, "email"),
        ({"provider": "jekimo", "email": "a b@c.de", "options": {"two_factor": True}}, "email"),
        ({"provider": "jekimo", "email": 42, "options": {"two_factor": True}}, "email"),
        ({"provider": "jekimo", "options": {"mode": "direct"}}, "options.mode"),  # okID's option
        ({"provider": "jekimo", "options": []}, "options"),
        ({"provider": "jekimo", "priority": "high"}, "priority"),  # unknown top-level field
    ],
)
def test_a_wrong_create_body_is_a_validation_error_naming_the_field(
    api: Api, body: dict[str, Any], field: str
) -> None:
    answer = api.call("POST", "/v1/sessions", key=api.secret_key, json=body)

    error = _error(answer, 422, "validation_error")
    assert field in _fields(error), error


def test_two_factor_without_email_says_the_email_is_needed(api: Api) -> None:
    answer = api.call(
        "POST",
        "/v1/sessions",
        key=api.secret_key,
        json={"provider": "jekimo", "options": {"two_factor": True}},
    )

    error = _error(answer, 422, "validation_error")
    assert "email" in error["message"]


def test_an_email_inside_the_options_is_refused(api: Api) -> None:
    body = {"provider": "jekimo", "options": {"two_factor": True, "email": "user@example.com"}}

    _error(api.call("POST", "/v1/sessions", key=api.secret_key, json=body), 422, "validation_error")


@pytest.mark.parametrize("provider", ["acme", "JEKIMO", "jekimo "])
def test_an_unknown_provider_is_unknown_provider(api: Api, provider: str) -> None:
    answer = api.call("POST", "/v1/sessions", key=api.secret_key, json={"provider": provider})

    error = _error(answer, 422, "unknown_provider")
    assert "jekimo" in error["message"], "the answer lists the known providers"


def test_a_body_over_64_kib_is_payload_too_large(api: Api) -> None:
    body = json.dumps({"provider": "jekimo", "reference": "r" * MAX_BODY_BYTES})

    _error(_create_raw(api, body), 413, "payload_too_large")


def test_a_body_of_exactly_64_kib_is_read(api: Api) -> None:
    """The limit is inclusive: exactly 64 KiB is parsed (and here refused for its over-long reference)."""
    head = '{"provider": "jekimo", "reference": "'
    body = head + "r" * (MAX_BODY_BYTES - len(head) - 2) + '"}'
    assert len(body.encode()) == MAX_BODY_BYTES

    error = _error(_create_raw(api, body), 422, "validation_error")
    assert "reference" in _fields(error)


# ---- the PIN route ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pin", ["12345", "1234567", "12a456", "", " 123456", "123456\n", "١٢٣٤٥٦", 123456, None]
)
def test_a_pin_that_is_not_six_digits_is_a_validation_error(
    api: Api, session: dict[str, Any], pin: Any
) -> None:
    answer = api.call(
        "POST", f"/v1/sessions/{session['id']}/pin", client_secret=session["client_secret"], json={"pin": pin}
    )

    error = _error(answer, 422, "validation_error")
    assert "pin" in _fields(error)


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [
        ("{", 400, "invalid_json"),
        ("[]", 400, "invalid_json"),
        ("{}", 422, "validation_error"),
        ('{"pin": "123456", "extra": 1}', 422, "validation_error"),
        ('{"pin": "' + "1" * MAX_BODY_BYTES + '"}', 413, "payload_too_large"),
    ],
)
def test_a_wrong_pin_body_is_refused_clearly(
    api: Api, session: dict[str, Any], data: str, status: int, code: str
) -> None:
    answer = api.call(
        "POST", f"/v1/sessions/{session['id']}/pin", client_secret=session["client_secret"], data=data
    )

    _error(answer, status, code)


def test_a_pin_for_an_unknown_session_is_session_not_found(api: Api) -> None:
    answer = api.call(
        "POST",
        f"/v1/sessions/ses_{secrets.token_urlsafe(15)}/pin",
        key=api.secret_key,
        json={"pin": "123456"},
    )

    _error(answer, 404, "session_not_found")


# ---- routes, CORS, caching ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/nothing-here"),
        ("GET", "/v1/sessions"),  # there is no listing
        ("PUT", "/v1/sessions"),
        ("PATCH", "/v1/sessions/ses_abc"),
        ("GET", "/v1/sessions/ses_abc/pin"),
        ("POST", "/v1/health"),
    ],
)
def test_an_unknown_route_under_v1_is_not_found(stack: RunningStack, method: str, path: str) -> None:
    """Not in openapi.yaml, so spoken to directly: API Gateway's own 404 (documented in its description)."""
    answer = requests.request(
        method, stack.api + path, headers={"Authorization": f"Bearer {stack.keys['secret']}"}, timeout=10
    )

    assert answer.status_code == 404, answer.text
    assert answer.json() == {"message": "Not Found"}


@pytest.mark.parametrize(
    ("path", "method", "headers"),
    [
        ("/v1/sessions", "POST", "authorization,content-type"),
        ("/v1/sessions/ses_abc", "GET", "x-client-secret"),
        ("/v1/sessions/ses_abc/pin", "POST", "x-client-secret,content-type"),
    ],
)
def test_a_cors_preflight_is_answered_for_the_browser_routes(
    stack: RunningStack, path: str, method: str, headers: str
) -> None:
    origin = "https://shop.example"
    answer = requests.options(
        stack.api + path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": headers,
        },
        timeout=10,
    )

    assert answer.status_code in (200, 204), answer.text
    assert answer.headers.get("Access-Control-Allow-Origin") in ("*", origin)
    assert method in answer.headers.get("Access-Control-Allow-Methods", "").upper().split(",")
    allowed = {h.strip().lower() for h in answer.headers.get("Access-Control-Allow-Headers", "").split(",")}
    assert set(headers.split(",")) <= allowed, allowed


def test_an_answer_to_a_cross_origin_request_allows_that_origin(api: Api) -> None:
    origin = "https://shop.example"
    answer = api.call(
        "POST", "/v1/sessions", key=api.publishable_key, json=JEKIMO, headers={"Origin": origin}
    )

    assert answer.status_code == 201
    assert answer.headers.get("Access-Control-Allow-Origin") in ("*", origin)


def test_every_kind_of_idgate_answer_says_no_store(api: Api, session: dict[str, Any]) -> None:
    """One answer of each status idgate gives; Api checks the header on each (and on every other
    answer of this module): sessions and client secrets must stay out of caches."""
    answers = [
        api.call("GET", "/v1/health"),
        api.call("POST", "/v1/sessions", key=api.secret_key, json=JEKIMO),
        api.get(session["id"]),
        api.get(session["id"], client_secret=session["client_secret"]),
        _create_raw(api, "{"),
        api.get("ses_unknown"),
        api.call("POST", f"/v1/sessions/{session['id']}/pin", key=api.secret_key, json={"pin": "123456"}),
        _create_raw(api, json.dumps({"provider": "jekimo", "reference": "r" * MAX_BODY_BYTES})),
        api.call("POST", "/v1/sessions", key=api.secret_key, json={"provider": "acme"}),
    ]

    assert sorted({a.status_code for a in answers}) == [200, 201, 400, 404, 409, 413, 422]
    idgate_answers = [(m, p, a) for m, p, a in api.seen if not is_gateway_answer(a.json())]
    assert len(idgate_answers) >= len(answers)
    for method, path, answer in idgate_answers:
        assert answer.headers.get("Cache-Control") == "no-store", f"{method} {path} {answer.status_code}"
