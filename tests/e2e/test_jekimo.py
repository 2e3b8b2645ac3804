"""Jekimo end to end, over HTTP: idgate starts a login at the Jekimo sandbox, the test acts as the user at
the sandbox's login URL, and the poll state machine (every 1 s here) brings the verdict into the session.

The stack runs with a Jekimo token validity of 8 s and a PIN validity of 30 s (FAST in conftest)."""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from tests.e2e.client import FAST, Api, act_as_user
from tests.e2e.helpers import jekimo_token, mail_to, new_pin, strings_in, unique_email
from tests.e2e.stack import RunningStack, running_stack

pytestmark = pytest.mark.e2e

FINAL = ("approved", "declined", "expired", "error")
TOKEN_TTL_SECONDS = 8  # --jekimo-token-ttl in conftest's FAST
MAX_PIN_ATTEMPTS = 5


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _two_factor_session(api: Api, label: str, *, min_age: int = 18) -> tuple[dict[str, Any], str]:
    email = unique_email(label)
    created = api.create(
        {"provider": "jekimo", "email": email, "options": {"min_age": min_age, "two_factor": True}}
    )
    return created, email


def _awaiting_pin(api: Api, label: str) -> tuple[dict[str, Any], str, str]:
    """A two-factor session whose user approved with a risk: Jekimo gave `pin`, idgate emailed it."""
    created, email = _two_factor_session(api, label)
    pin = new_pin()
    act_as_user(created["verification_url"], {"outcome": "approved", "risk": True, "pin": int(pin)})
    api.wait_for_status(created["id"], "awaiting_pin", *FINAL)
    return created, email, pin


def _submit_pin(api: Api, session: dict[str, Any], pin: str, **auth: Any) -> requests.Response:
    if not auth:
        auth = {"client_secret": session["client_secret"]}  # as the browser does
    return api.call("POST", f"/v1/sessions/{session['id']}/pin", json={"pin": pin}, **auth)


def _assert_unchanged_for(api: Api, session_id: str, final: dict[str, Any], seconds: float = 2.5) -> None:
    """The session stays exactly as it was finalized, over several poll intervals."""
    time.sleep(seconds)
    assert api.get(session_id).json() == final


# ---- the shape of a new session -------------------------------------------------------------------


def test_a_new_session_links_to_jekimos_login_page_and_shows_it_as_a_png_qr_code(
    api: Api, stack: RunningStack
) -> None:
    created = api.create({"provider": "jekimo", "reference": "order-1234", "options": {"min_age": 18}})

    assert created["status"] == "pending"
    assert created["provider"] == "jekimo"
    assert created["reference"] == "order-1234"
    assert re.fullmatch(r"ses_[A-Za-z0-9_-]+", created["id"])
    assert re.fullmatch(r"cs_[A-Za-z0-9_-]{16,}", created["client_secret"])
    assert re.fullmatch(
        re.escape(stack.providers["jekimo"]) + r"/[a-z]{2}/user/login/[0-9a-f]{64}",
        created["verification_url"],
    ), created["verification_url"]
    prefix = "data:image/png;base64,"
    assert created["qr_code"].startswith(prefix)
    try:
        png = base64.b64decode(created["qr_code"].removeprefix(prefix), validate=True)
    except binascii.Error as exc:
        pytest.fail(f"qr_code is not valid base64: {exc}")
    assert png.startswith(b"\x89PNG\r\n\x1a\n"), "qr_code is not a PNG image"
    # The session ends with Jekimo's token (valid 8 s in this stack).
    lifetime = (_time(created["expires_at"]) - _time(created["created_at"])).total_seconds()
    assert 0 < lifetime <= TOKEN_TTL_SECONDS + 1, lifetime
    # The link works: it is the sandbox's login page, which stands in for the phone app.
    page = requests.get(created["verification_url"], timeout=10)
    assert page.status_code == 200
    assert "text/html" in page.headers["Content-Type"]

    session = api.get(created["id"]).json()
    assert session["status"] == "pending"
    assert session["result"] is None
    assert session["finalized_at"] is None
    assert session["verification_url"] == created["verification_url"]


def test_jekimos_token_is_in_no_answer_field_but_the_verification_url(api: Api) -> None:
    """The token is in the login URL by Jekimo's design; idgate must not hand it out anywhere else."""
    created, _ = _two_factor_session(api, "token")
    token = jekimo_token(created["verification_url"])
    answers = [created, api.get(created["id"]).json()]
    act_as_user(created["verification_url"], {"outcome": "approved", "risk": True, "pin": int(new_pin())})
    answers.append(api.wait_for_status(created["id"], "awaiting_pin", *FINAL))
    answers.append(_submit_pin(api, created, new_pin()).json())  # a wrong PIN: an error answer

    for answer in answers:
        for path, text in strings_in(answer):
            if path != "verification_url":
                assert token not in text, f"Jekimo's token leaked in {path}: {answer}"


# ---- verdicts ---------------------------------------------------------------------------------------


def test_an_approved_login_without_risk_is_approved_with_the_age_checked(api: Api) -> None:
    created = api.create({"provider": "jekimo", "reference": "order-ok", "options": {"min_age": 21}})

    act_as_user(created["verification_url"], {"outcome": "approved"})
    session = api.wait_for_status(created["id"], *FINAL)

    assert session["status"] == "approved"
    assert session["result"] == {
        "decision": "approved",
        "provider_status": "OK",
        "risk": False,
        "reasons": [],
        "data": {"min_age_verified": 21},
    }
    assert session["reference"] == "order-ok"
    assert session["finalized_at"] is not None
    assert session["verification_url"] is None, "a final session no longer links to the login page"


def test_an_approved_login_with_risk_and_no_two_factor_is_approved_and_flagged(api: Api) -> None:
    created = api.create({"provider": "jekimo", "options": {"min_age": 18}})

    act_as_user(created["verification_url"], {"outcome": "approved", "risk": True})
    session = api.wait_for_status(created["id"], *FINAL)

    assert session["status"] == "approved"
    assert session["result"]["risk"] is True
    assert session["result"]["reasons"] == ["risk_flagged"]
    assert session["result"]["data"] == {"min_age_verified": 18}


def test_a_declined_login_is_declined_by_the_provider(api: Api) -> None:
    created = api.create({"provider": "jekimo", "options": {"min_age": 18}})

    act_as_user(created["verification_url"], {"outcome": "declined"})
    session = api.wait_for_status(created["id"], *FINAL)

    assert session["status"] == "declined"
    assert session["result"]["decision"] == "declined"
    assert session["result"]["provider_status"] == "KO"
    assert session["result"]["reasons"] == ["provider_declined"]
    assert "min_age_verified" not in session["result"]["data"], "a declined login verified no age"


def test_a_declined_two_factor_login_is_declined_without_asking_for_a_pin(api: Api) -> None:
    created, _ = _two_factor_session(api, "declined-2fa")

    # Jekimo's decline always carries a risk, hence a PIN when two-factor was asked: it must not matter.
    act_as_user(created["verification_url"], {"outcome": "declined", "pin": int(new_pin())})
    session = api.wait_for_status(created["id"], "awaiting_pin", *FINAL)

    assert session["status"] == "declined"
    assert session["result"]["reasons"] == ["provider_declined"]


def test_a_session_the_user_never_completes_expires_with_jekimos_token(api: Api) -> None:
    created = api.create({"provider": "jekimo", "options": {"min_age": 18}})

    session = api.wait_for_status(created["id"], *FINAL, timeout=TOKEN_TTL_SECONDS + 12)

    assert session["status"] == "expired"
    assert session["result"]["decision"] == "expired"
    assert session["result"]["reasons"] == ["verification_expired"]
    assert session["result"]["data"] == {}
    assert _time(session["finalized_at"]) >= _time(created["expires_at"])
    # Too late for the user: the login page is gone, and the verdict stays.
    late = requests.post(created["verification_url"], json={"outcome": "approved"}, timeout=10)
    assert late.status_code == 404
    _assert_unchanged_for(api, created["id"], session, seconds=1.5)


def test_a_final_status_never_changes_afterwards(api: Api) -> None:
    created = api.create({"provider": "jekimo", "options": {"min_age": 18}})
    act_as_user(created["verification_url"], {"outcome": "approved"})
    final = api.wait_for_status(created["id"], *FINAL)
    assert final["status"] == "approved"

    # The user tries another outcome at Jekimo: it is refused there, and nothing moves here.
    again = requests.post(created["verification_url"], json={"outcome": "declined"}, timeout=10)
    assert again.status_code == 409, again.text
    _assert_unchanged_for(api, created["id"], final)
    # Nor does a PIN do anything to an approved session.
    answer = _submit_pin(api, created, new_pin())
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "session_final"
    assert api.get(created["id"]).json() == final


# ---- two-factor (PIN) -------------------------------------------------------------------------------


def test_two_factor_emails_jekimos_pin_and_the_right_pin_approves(api: Api, stack: RunningStack) -> None:
    created, email = _two_factor_session(api, "2fa", min_age=18)
    answers: list[Any] = [created]
    pin = new_pin()

    act_as_user(created["verification_url"], {"outcome": "approved", "risk": True, "pin": int(pin)})
    waiting = api.wait_for_status(created["id"], "awaiting_pin", *FINAL)
    answers.append(waiting)
    assert waiting["status"] == "awaiting_pin"
    assert waiting["result"] is None, "no result before the status is final"

    # The PIN went by email (the stack prints the emails it sends).
    body = mail_to(stack, email)
    assert re.search(rf"\b{pin}\b", body), body

    wrong = _submit_pin(api, created, new_pin(unlike=pin))
    answers.append(wrong.json())
    assert wrong.status_code == 422
    assert wrong.json()["error"]["code"] == "pin_incorrect"
    assert wrong.json()["error"]["attempts_remaining"] == MAX_PIN_ATTEMPTS - 1
    assert api.get(created["id"]).json()["status"] == "awaiting_pin", "a wrong PIN leaves tries"

    right = _submit_pin(api, created, pin)
    answers.append(right.json())
    assert right.status_code == 200, right.text
    approved = right.json()
    assert approved["status"] == "approved"
    assert approved["result"]["decision"] == "approved"
    assert approved["result"]["provider_status"] == "OK"
    assert approved["result"]["risk"] is True
    assert approved["result"]["reasons"] == ["risk_flagged", "second_factor_verified"]
    assert approved["result"]["data"] == {"min_age_verified": 18}
    assert approved["finalized_at"] is not None

    read_back = api.get(created["id"]).json()
    answers.append(read_back)
    assert read_back == approved

    # The same right PIN again: the session is final, and stays as it was.
    repeated = _submit_pin(api, created, pin)
    answers.append(repeated.json())
    assert repeated.status_code == 409
    assert repeated.json()["error"]["code"] == "session_final"
    assert api.get(created["id"]).json() == approved

    for answer in answers:
        assert pin not in json.dumps({k: v for k, v in answer.items() if k != "qr_code"}), (
            f"the PIN is in an API answer: {answer}"
        )


def test_the_pin_may_be_proved_with_the_secret_key_instead_of_the_client_secret(api: Api) -> None:
    created, _, pin = _awaiting_pin(api, "2fa-sk")

    answer = _submit_pin(api, created, pin, key=api.secret_key)

    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "approved"


def test_five_wrong_pins_decline_the_session_and_it_stays_declined(api: Api) -> None:
    created, _, pin = _awaiting_pin(api, "2fa-wrong")
    wrong = new_pin(unlike=pin)

    answers = [_submit_pin(api, created, wrong) for _ in range(MAX_PIN_ATTEMPTS)]

    assert [a.status_code for a in answers] == [422] * MAX_PIN_ATTEMPTS
    codes = [a.json()["error"]["code"] for a in answers]
    assert codes == ["pin_incorrect"] * (MAX_PIN_ATTEMPTS - 1) + ["pin_attempts_exceeded"]
    remaining = [a.json()["error"]["attempts_remaining"] for a in answers]
    assert remaining == [4, 3, 2, 1, 0]
    declined = api.get(created["id"]).json()
    assert declined["status"] == "declined"
    assert declined["result"]["decision"] == "declined"
    assert declined["result"]["reasons"] == ["pin_attempts_exceeded"]
    assert declined["finalized_at"] is not None

    # Further PINs, even the right one, change nothing.
    for attempt in (wrong, pin):
        late = _submit_pin(api, created, attempt)
        assert late.status_code == 409
        assert late.json()["error"]["code"] == "session_final"
    # Jekimo still says OK for the token: the poller must not turn the verdict around.
    _assert_unchanged_for(api, created["id"], declined)


def test_parallel_wrong_pins_get_no_more_than_five_tries(api: Api) -> None:
    created, _, pin = _awaiting_pin(api, "2fa-race")
    wrong = new_pin(unlike=pin)

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda _: _submit_pin(api, created, wrong), range(8)))

    counted = [a.json()["error"] for a in answers if a.status_code == 422]
    refused = [a.json()["error"] for a in answers if a.status_code == 409]
    assert len(counted) == MAX_PIN_ATTEMPTS, [a.text for a in answers]
    assert sorted(e["attempts_remaining"] for e in counted) == [0, 1, 2, 3, 4]
    assert [e["code"] for e in counted].count("pin_attempts_exceeded") == 1
    assert len(refused) == 8 - MAX_PIN_ATTEMPTS
    assert api.get(created["id"]).json()["status"] == "declined"
    # The right PIN comes too late.
    assert _submit_pin(api, created, pin).status_code == 409


def test_a_pin_for_a_session_that_awaits_none_is_refused(api: Api) -> None:
    created, _ = _two_factor_session(api, "2fa-pending")

    answer = _submit_pin(api, created, new_pin())

    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "pin_not_expected"
    assert api.get(created["id"]).json()["status"] == "pending", "the early PIN changed the session"


def test_sessions_followed_at_once_each_get_their_own_verdict(api: Api) -> None:
    """Several sessions in flight: each verdict lands on its own session, none on another's."""
    outcomes: list[tuple[dict[str, Any], str, list[str]]] = [
        ({"outcome": "approved"}, "approved", []),
        ({"outcome": "approved", "risk": True}, "approved", ["risk_flagged"]),
        ({"outcome": "declined"}, "declined", ["provider_declined"]),
    ]
    created = [api.create({"provider": "jekimo", "reference": f"multi-{i}"}) for i in range(len(outcomes))]
    for session, (outcome, _, _) in zip(created, outcomes, strict=True):
        act_as_user(session["verification_url"], outcome)

    for session, (_, status, reasons) in zip(created, outcomes, strict=True):
        final = api.wait_for_status(session["id"], *FINAL)
        assert (final["status"], final["result"]["reasons"]) == (status, reasons), final["reference"]
        assert final["result"]["data"] == {}, "no min_age was asked"


# ---- a PIN that is never proven ----------------------------------------------------------------

PIN_TTL_SECONDS = 3


@pytest.fixture(scope="module")
def short_pin_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """A stack whose PINs are valid 3 s instead of 10 minutes."""
    log_path = tmp_path_factory.mktemp("short-pin") / "devstack.log"
    with running_stack(*FAST, "--pin-ttl", str(PIN_TTL_SECONDS), log_path=log_path) as running:
        yield Api(running)


def test_a_pin_not_proven_in_time_declines_the_session(short_pin_api: Api) -> None:
    created, _, pin = _awaiting_pin(short_pin_api, "pin-expiry")
    session = short_pin_api.wait_for_status(created["id"], *FINAL, timeout=PIN_TTL_SECONDS + 10)
    assert session["status"] == "declined"
    assert session["result"]["reasons"] == ["pin_expired"]
    late = _submit_pin(short_pin_api, created, pin)
    assert late.status_code == 409
    assert late.json()["error"]["code"] == "session_final"


def test_a_pin_sent_after_its_time_is_refused_as_expired(short_pin_api: Api) -> None:
    created, _, pin = _awaiting_pin(short_pin_api, "pin-late")
    awaiting = short_pin_api.get(created["id"]).json()
    # Right at the deadline, before the state machine's next step: the API itself refuses the PIN.
    time.sleep(max(0.0, (_time(awaiting["expires_at"]) - datetime.now(UTC)).total_seconds()) + 0.05)
    answer = _submit_pin(short_pin_api, created, pin)
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] in ("pin_expired", "session_final")
    assert short_pin_api.get(created["id"]).json()["status"] == "declined"
