"""The Jekimo sandbox follows the documented contract (seeds/jekimo.txt) and its own documented choices."""

from __future__ import annotations

import base64
import json
import re
import threading
from typing import Any

import pytest
from werkzeug.test import Client, TestResponse

from devstack.sandboxes.jekimo import JekimoSandbox
from devstack.sandboxes.jekimo_answers import AnswerShapes
from tests.support.clock import FakeClock

API_KEY = "sk_sandbox_test_key"
OTHER_KEY = "sk_sandbox_other_site"
BASE_URL = "http://127.0.0.1:4010"
API = "/app.php/v1.1"
START = 1_764_499_200.25  # a fractional clock: the timestamp is whole seconds
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
FORM = "application/x-www-form-urlencoded"
BAD_PIN = "pin must be a 6-digit number (100000-999999)"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def sandbox(clock: FakeClock) -> JekimoSandbox:
    return JekimoSandbox(API_KEY, BASE_URL + "/", clock=clock, extra_api_keys=[OTHER_KEY])


@pytest.fixture
def client(sandbox: JekimoSandbox) -> Client:
    return Client(sandbox)


def gettoken(client: Client, key: str | None = API_KEY, **headers: str) -> TestResponse:
    sent = {name.replace("_", "-"): value for name, value in headers.items()}
    if key is not None:
        sent["x-api-key"] = key
    return client.post(f"{API}/auth/gettoken", headers=sent, content_type=FORM)


def new_token(client: Client, **headers: str) -> str:
    response = gettoken(client, **headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return str(response.json["token"])  # type: ignore[index]


def check(client: Client, token: str, key: str = API_KEY) -> TestResponse:
    return client.post(f"{API}/auth/check", headers={"x-api-key": key, "token": token}, content_type=FORM)


def login_path(token: str) -> str:
    return f"{API}/en/user/login/{token}"


def set_outcome(client: Client, token: str, body: object) -> TestResponse:
    data = body if isinstance(body, str) else json.dumps(body)
    return client.post(login_path(token), data=data, content_type="application/json")


# -- gettoken ----------------------------------------------------------------------------------


def test_gettoken_answers_token_timestamp_qrcode_and_login_url(client: Client) -> None:
    response = gettoken(client, min_age="18", two_af="false")

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body = response.json
    assert body is not None
    assert set(body) == {"token", "timestamp", "qrcode", "url"}
    assert re.fullmatch(r"[0-9a-f]{64}", body["token"])
    assert isinstance(body["timestamp"], int)
    assert body["timestamp"] == int(START)
    assert body["url"] == f"{BASE_URL}{API}/en/user/login/{body['token']}"


def test_gettoken_qrcode_is_a_bare_base64_png(client: Client) -> None:
    qrcode = gettoken(client).json["qrcode"]  # type: ignore[index]

    assert not qrcode.startswith("data:")
    assert base64.b64decode(qrcode, validate=True).startswith(PNG_SIGNATURE)


def test_gettoken_issues_a_new_token_each_call(client: Client) -> None:
    assert new_token(client) != new_token(client)


@pytest.mark.parametrize("key", [None, "", "sk_wrong"])
def test_gettoken_refuses_a_missing_or_wrong_api_key(client: Client, key: str | None) -> None:
    response = gettoken(client, key=key)

    assert response.status_code == 401
    assert response.json == {"error": "Invalid API key"}


def test_gettoken_reads_the_key_from_x_api_key_only_not_the_php_samples_typo(client: Client) -> None:
    response = client.post(f"{API}/auth/gettoken", headers={"x-apy-key": API_KEY}, content_type=FORM)

    assert response.json == {"error": "Invalid API key"}


def test_header_names_are_case_insensitive_as_in_http(client: Client) -> None:
    response = client.post(
        f"{API}/auth/gettoken", headers={"X-API-Key": API_KEY, "Min-Age": "21"}, content_type=FORM
    )

    assert response.status_code == 200
    page = client.get(login_path(response.json["token"])).get_data(as_text=True)  # type: ignore[index]
    assert '<dd id="min-age">21</dd>' in page


@pytest.mark.parametrize("value", ["0", "100", "18.5", "-1", "adult"])
def test_gettoken_refuses_a_malformed_min_age(client: Client, value: str) -> None:
    response = gettoken(client, min_age=value)

    assert response.status_code == 400
    assert response.json == {"error": "Invalid min-age"}


@pytest.mark.parametrize("value", ["yes", "1", "on"])
def test_gettoken_refuses_a_two_af_that_is_not_true_or_false(client: Client, value: str) -> None:
    response = gettoken(client, two_af=value)

    assert response.status_code == 400
    assert response.json == {"error": "Invalid two-af"}


def test_gettoken_checks_the_key_before_the_options(client: Client) -> None:
    assert gettoken(client, key="sk_wrong", min_age="adult").json == {"error": "Invalid API key"}


def test_gettoken_only_accepts_post(client: Client) -> None:
    response = client.get(f"{API}/auth/gettoken", headers={"x-api-key": API_KEY})

    assert response.status_code == 405
    assert "error" in response.json  # type: ignore[operator]


def test_unknown_paths_are_json_404(client: Client) -> None:
    response = client.post("/app.php/v1.0/auth/gettoken", headers={"x-api-key": API_KEY})

    assert response.status_code == 404
    assert "error" in response.json  # type: ignore[operator]


# -- check -------------------------------------------------------------------------------------


def test_check_answers_created_without_risk_or_pin_before_the_user_acts(client: Client) -> None:
    token = new_token(client, two_af="true")

    response = check(client, token)

    assert response.status_code == 200
    assert response.json == {"status": "created", "risk": False, "pin": 0}


@pytest.mark.parametrize("key", ["", "sk_wrong"])
def test_check_refuses_a_missing_or_wrong_api_key_before_the_token(client: Client, key: str) -> None:
    token = new_token(client)

    response = check(client, token, key=key)

    assert response.status_code == 401
    assert response.json == {"error": "Invalid API key"}


@pytest.mark.parametrize("token", ["", "0" * 64, "not-a-token"])
def test_check_refuses_a_missing_or_unknown_token(client: Client, token: str) -> None:
    response = check(client, token)

    assert response.status_code == 401
    assert response.json == {"error": "Invalid Token"}


def test_check_reads_the_token_from_the_token_header_not_the_form(client: Client) -> None:
    token = new_token(client)

    response = client.post(f"{API}/auth/check", headers={"x-api-key": API_KEY}, data={"token": token})

    assert response.json == {"error": "Invalid Token"}


def test_check_refuses_a_token_created_with_another_api_key(client: Client) -> None:
    token = new_token(client)

    assert check(client, token, key=OTHER_KEY).json == {"error": "Invalid Token"}
    assert check(client, token, key=API_KEY).json == {"status": "created", "risk": False, "pin": 0}


def test_token_is_valid_for_120_seconds_from_its_timestamp(client: Client, clock: FakeClock) -> None:
    token = new_token(client)
    clock.now = int(START) + 120  # exactly 120 s after the (whole-second) timestamp

    assert check(client, token).json == {"status": "created", "risk": False, "pin": 0}

    clock.advance(0.5)
    response = check(client, token)
    assert response.status_code == 401
    assert response.json == {"error": "Invalid Token"}


def test_an_expired_token_is_invalid_even_after_an_outcome(client: Client, clock: FakeClock) -> None:
    token = new_token(client)
    set_outcome(client, token, {"outcome": "approved"})
    clock.advance(121)

    assert check(client, token).json == {"error": "Invalid Token"}


def test_token_ttl_is_configurable(clock: FakeClock) -> None:
    client = Client(JekimoSandbox(API_KEY, BASE_URL, token_ttl_seconds=10, clock=clock))
    token = new_token(client)
    clock.advance(11)

    assert check(client, token).json == {"error": "Invalid Token"}


def test_expired_tokens_are_forgotten_on_the_next_gettoken(sandbox: JekimoSandbox, clock: FakeClock) -> None:
    client = Client(sandbox)
    new_token(client)
    clock.advance(200)
    fresh = new_token(client)

    assert list(sandbox._tokens) == [fresh]


# -- outcomes and PIN rules -----------------------------------------------------------------------


def test_approve_answers_ok_without_risk_and_no_pin_even_with_two_factor(client: Client) -> None:
    token = new_token(client, two_af="true")

    response = set_outcome(client, token, {"outcome": "approved"})

    assert response.status_code == 200
    assert response.json == {"status": "OK", "risk": False, "pin": 0}
    assert check(client, token).json == {"status": "OK", "risk": False, "pin": 0}


def test_approve_with_risk_and_two_factor_generates_a_6_digit_pin(client: Client) -> None:
    token = new_token(client, two_af="true")

    answer = set_outcome(client, token, {"outcome": "approved", "risk": True}).json

    assert answer is not None
    assert answer["status"] == "OK"
    assert answer["risk"] is True
    assert isinstance(answer["pin"], int)
    assert 100_000 <= answer["pin"] <= 999_999
    assert check(client, token).json == answer


def test_approve_with_risk_uses_the_given_pin(client: Client) -> None:
    token = new_token(client, two_af="true")

    assert set_outcome(client, token, {"outcome": "approved", "risk": True, "pin": 293812}).json == {
        "status": "OK",
        "risk": True,
        "pin": 293812,
    }


def test_a_pin_typed_as_text_is_accepted(client: Client) -> None:
    token = new_token(client, two_af="true")

    assert set_outcome(client, token, {"outcome": "approved", "risk": True, "pin": "293812"}).json == {
        "status": "OK",
        "risk": True,
        "pin": 293812,
    }


def test_risk_without_two_factor_has_no_pin_and_a_given_pin_is_ignored(client: Client) -> None:
    token = new_token(client, two_af="false")

    response = set_outcome(client, token, {"outcome": "approved", "risk": True, "pin": 293812})

    assert response.json == {"status": "OK", "risk": True, "pin": 0}


def test_two_fa_spelling_is_not_the_header_so_no_pin_is_issued(client: Client) -> None:
    token = new_token(client, two_fa="true")

    assert set_outcome(client, token, {"outcome": "approved", "risk": True}).json == {
        "status": "OK",
        "risk": True,
        "pin": 0,
    }


def test_decline_answers_ko_with_risk_and_no_pin_without_two_factor(client: Client) -> None:
    token = new_token(client)

    answer = set_outcome(client, token, {"outcome": "declined"}).json

    assert answer == {"status": "KO", "risk": True, "pin": 0}
    assert check(client, token).json == {"status": "KO", "risk": True, "pin": 0}


def test_decline_with_two_factor_carries_a_pin_because_risk_is_flagged(client: Client) -> None:
    token = new_token(client, two_af="true")

    answer = set_outcome(client, token, {"outcome": "declined"}).json

    assert answer is not None
    assert answer["status"] == "KO"
    assert answer["risk"] is True
    assert 100_000 <= answer["pin"] <= 999_999


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("{not json", "body must be a JSON object"),
        ("[]", "body must be a JSON object"),
        ({}, 'outcome must be "approved" or "declined"'),
        ({"outcome": "OK"}, 'outcome must be "approved" or "declined"'),
        ({"outcome": "approved", "risk": "yes"}, "risk must be true or false"),
        ({"outcome": "declined", "risk": False}, "a declined outcome always has risk true"),
        ({"outcome": "approved", "risk": True, "pin": 12345}, BAD_PIN),
        ({"outcome": "approved", "risk": True, "pin": "012345"}, BAD_PIN),
        ({"outcome": "approved", "risk": True, "pin": "29381a"}, BAD_PIN),
        ({"outcome": "approved", "risk": True, "pin": 1234567}, BAD_PIN),
        ({"outcome": "approved", "risk": True, "pin": True}, BAD_PIN),
    ],
)
def test_a_bad_outcome_request_is_a_400_and_changes_nothing(client: Client, body: object, error: str) -> None:
    token = new_token(client, two_af="true")

    response = set_outcome(client, token, body)

    assert response.status_code == 400
    assert response.json == {"error": error}
    assert check(client, token).json == {"status": "created", "risk": False, "pin": 0}


def test_an_outcome_is_set_only_once(client: Client) -> None:
    token = new_token(client)
    set_outcome(client, token, {"outcome": "approved"})

    response = set_outcome(client, token, {"outcome": "declined"})

    assert response.status_code == 409
    assert response.json == {"error": "Outcome already set"}
    assert check(client, token).json == {"status": "OK", "risk": False, "pin": 0}


def test_concurrent_outcomes_let_exactly_one_win(client: Client, sandbox: JekimoSandbox) -> None:
    token = new_token(client)
    codes: list[int] = []

    def click() -> None:
        codes.append(set_outcome(Client(sandbox), token, {"outcome": "approved"}).status_code)

    threads = [threading.Thread(target=click) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(codes) == [200] + [409] * 7


@pytest.mark.parametrize("case", ["unknown", "expired"])
def test_an_outcome_needs_a_valid_token(client: Client, clock: FakeClock, case: str) -> None:
    token = "f" * 64
    if case == "expired":
        token = new_token(client)
        clock.advance(121)

    response = set_outcome(client, token, {"outcome": "approved"})

    assert response.status_code == 404
    assert response.json == {"error": "Invalid Token"}


# -- the login page ----------------------------------------------------------------------------


def test_login_page_shows_the_tokens_settings_and_the_outcome_buttons(client: Client) -> None:
    token = new_token(client, min_age="18", two_af="true")

    response = client.get(login_path(token))

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "<title>Jekimo sandbox</title>" in page
    assert '<dd id="min-age">18</dd>' in page
    assert '<dd id="two-factor">requested</dd>' in page
    for button_id in ("approve", "approve-risk", "decline"):
        assert f'id="{button_id}"' in page
    assert 'id="pin"' in page
    assert "<script src" not in page  # self-contained: inline JS and CSS only
    assert "<link" not in page


def test_login_page_embeds_the_current_state(client: Client) -> None:
    token = new_token(client)
    set_outcome(client, token, {"outcome": "declined"})

    page = client.get(login_path(token)).get_data(as_text=True)

    assert "&quot;status&quot;: &quot;KO&quot;" in page


def test_login_page_of_an_unknown_or_expired_token_is_a_404_page(client: Client, clock: FakeClock) -> None:
    token = new_token(client)
    clock.advance(121)

    for path in (login_path(token), login_path("0" * 64)):
        response = client.get(path)
        assert response.status_code == 404
        assert response.mimetype == "text/html"
        assert "Jekimo sandbox" in response.get_data(as_text=True)


def test_the_login_url_from_gettoken_is_served_by_the_sandbox(client: Client) -> None:
    url = gettoken(client).json["url"]  # type: ignore[index]

    assert client.get(url.removeprefix(BASE_URL)).status_code == 200


# -- the other readings of the document (AnswerShapes) ----------------------------------------


def shaped(clock: FakeClock, **shapes: Any) -> Client:
    return Client(JekimoSandbox(API_KEY, BASE_URL, clock=clock, shapes=AnswerShapes(**shapes)))


def test_qrcode_may_be_the_login_link_instead_of_an_image(clock: FakeClock) -> None:
    body = gettoken(shaped(clock, qrcode="link")).json

    assert body is not None
    assert body["qrcode"] == body["url"] == f"{BASE_URL}{API}/en/user/login/{body['token']}"


@pytest.mark.parametrize(
    ("form", "timestamp"),
    [("seconds", int(START)), ("milliseconds", int(START) * 1000), ("string", str(int(START)))],
)
def test_timestamp_may_be_in_milliseconds_or_a_string(clock: FakeClock, form: str, timestamp: object) -> None:
    client = shaped(clock, timestamp=form)
    body = gettoken(client).json

    assert body is not None
    assert body["timestamp"] == timestamp
    # The token's validity does not depend on how its creation time is written.
    clock.now = int(START) + 120
    assert check(client, body["token"]).status_code == 200
    clock.advance(0.5)
    assert check(client, body["token"]).json == {"error": "Invalid Token"}


def test_gettoken_may_answer_without_url(clock: FakeClock) -> None:
    client = shaped(clock, with_url=False)
    body = gettoken(client).json

    assert body is not None
    assert set(body) == {"token", "timestamp", "qrcode"}
    # The login page is still there, for whoever knows its link.
    assert client.get(login_path(body["token"])).status_code == 200


def test_gettoken_without_url_and_with_a_link_qrcode_gives_the_link_once(clock: FakeClock) -> None:
    body = gettoken(shaped(clock, with_url=False, qrcode="link")).json

    assert body is not None
    assert body["qrcode"] == f"{BASE_URL}{API}/en/user/login/{body['token']}"
    assert "url" not in body


def test_check_may_answer_without_risk_before_and_after_the_user_acts(clock: FakeClock) -> None:
    client = shaped(clock, with_risk=False)
    token = new_token(client, two_af="true")

    assert check(client, token).json == {"status": "created", "pin": 0}
    outcome = set_outcome(client, token, {"outcome": "approved", "risk": True, "pin": 293812})
    assert outcome.json == {"status": "OK", "pin": 293812}
    assert check(client, token).json == {"status": "OK", "pin": 293812}
    page = client.get(login_path(token)).get_data(as_text=True)
    assert "&quot;risk&quot;" not in page
    assert "&quot;pin&quot;: 293812" in page


def test_the_shapes_can_change_at_run_time(sandbox: JekimoSandbox, client: Client) -> None:
    sandbox.shapes = AnswerShapes(qrcode="link", timestamp="milliseconds")

    body = gettoken(client).json

    assert body is not None
    assert body["qrcode"] == body["url"]
    assert body["timestamp"] == int(START) * 1000


# -- construction and secrecy --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"api_key": "", "public_base_url": BASE_URL}, "non-empty"),
        ({"api_key": API_KEY, "public_base_url": "127.0.0.1:4010"}, "http"),
        ({"api_key": API_KEY, "public_base_url": BASE_URL, "token_ttl_seconds": 0}, "positive"),
    ],
)
def test_constructor_refuses_bad_settings(kwargs: dict[str, Any], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        JekimoSandbox(**kwargs)


@pytest.mark.parametrize(
    ("shapes", "error"), [({"qrcode": "svg"}, "qrcode"), ({"timestamp": "iso"}, "timestamp")]
)
def test_answer_shapes_refuse_an_unknown_reading(shapes: dict[str, str], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        AnswerShapes(**shapes)


def test_logs_never_contain_the_api_key_pin_or_full_token(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    token = new_token(client, two_af="true")
    set_outcome(client, token, {"outcome": "approved", "risk": True, "pin": 293812})
    check(client, token)

    assert caplog.records, "the sandbox should log what it does"
    assert API_KEY not in caplog.text
    assert "293812" not in caplog.text
    assert token not in caplog.text
