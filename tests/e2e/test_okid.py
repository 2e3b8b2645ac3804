"""okID end to end: the real local stack, its okID sandbox acting as the user and as okID's dashboard
webhook, and the API checked against openapi.yaml.

Most tests share the session-scoped FAST stack (poll every 1 s, okID verifications live 12 s, unredacted
images allowed). Two more stacks, started once for this module, prove what the shared one cannot:
`slow_api` polls every 30 s, so within a few seconds only a webhook can move a session (and it does not
allow unredacted images); `expiring_api` lets okID verifications live 2 s and polls first after 3 s.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest
import requests

from idgate.qr import qr_data_uri
from tests.e2e.client import FAST, Api, act_as_user
from tests.e2e.okid_helpers import (
    PNG_SIGNATURE,
    error_code,
    fetch_image,
    finalizations,
    okid_expires_at,
    okid_payload,
    portal_page,
    post_webhook,
    start_okid,
    verification_id,
    webhook_url,
)
from tests.e2e.stack import RunningStack, running_stack

pytestmark = pytest.mark.e2e


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@pytest.fixture(scope="module")
def slow_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """FAST, but polling every 30 s and without --allow-unredacted-images."""
    log_path = tmp_path_factory.mktemp("okid-slow") / "devstack.log"
    with running_stack(*FAST, "--poll-interval", "30", log_path=log_path) as running:
        yield running


@pytest.fixture(scope="module")
def slow_api(slow_stack: RunningStack) -> Api:
    return Api(slow_stack)


@pytest.fixture(scope="module")
def expiring_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """okID verifications live 2 s; the first poll comes 3 s after a session starts."""
    log_path = tmp_path_factory.mktemp("okid-expiring") / "devstack.log"
    with running_stack("--poll-interval", "3", "--okid-verification-ttl", "2", log_path=log_path) as running:
        yield Api(running)


# ---- starting a session -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "suffix"),
    [({}, ""), ({"mode": "direct"}, ""), ({"mode": "select"}, "&mode=select")],
    ids=["default", "direct", "select"],
)
def test_the_verification_url_is_okids_portal_in_the_asked_mode(
    api: Api, stack: RunningStack, options: dict[str, str], suffix: str
) -> None:
    created = start_okid(api, **options)
    url = created["verification_url"]

    assert url == f"{stack.providers['okid']}/?verification_id={verification_id(created)}{suffix}"
    assert created["qr_code"] == qr_data_uri(url)
    assert base64.b64decode(created["qr_code"].removeprefix("data:image/png;base64,")).startswith(
        PNG_SIGNATURE
    )
    # The session expires when okID's verification does (okID's expiresAt).
    assert created["expires_at"] == okid_expires_at(url)
    assert created["status"] == "pending"
    assert created["reference"] == "okid-e2e"
    # select mode shows the user the "QR code or this device" choice; direct goes straight on.
    select_shown = '<section id="select-mode">' in portal_page(url)
    assert select_shown is (suffix != "")


def test_a_user_who_chose_in_select_mode_is_followed_like_any_other(api: Api) -> None:
    created = start_okid(api, mode="select")
    act_as_user(created["verification_url"], {"outcome": "verified"})
    assert (
        api.wait_for_status(created["id"], "approved", "declined", "expired", "error")["status"] == "approved"
    )


@pytest.mark.parametrize(
    "return_url",
    [
        "http://localhost/x",
        "https://evil.example.com/",
        "https://localhost.evil.com/",
        "javascript:alert(1)",
        "https://user@localhost/x",
        "//localhost/x",
        "https://evil.example.com#@localhost",
        "https://evil.example.com\\@localhost/",
        "",
    ],
)
def test_a_return_url_off_the_allow_list_is_refused(api: Api, return_url: str) -> None:
    answer = api.call(
        "POST",
        "/v1/sessions",
        key=api.secret_key,
        json={"provider": "okid", "options": {"return_url": return_url}},
    )
    assert answer.status_code == 422, answer.text
    assert error_code(answer) == "return_url_not_allowed"


@pytest.mark.parametrize("return_url", ["https://localhost/done", "https://127.0.0.1:8443/back?order=1"])
def test_an_allowed_return_url_is_passed_to_okid(api: Api, return_url: str) -> None:
    created = start_okid(api, return_url=return_url)
    # okID sends the user back there at the end: the portal page links to it.
    assert f'id="return-link" href="{return_url.replace("&", "&amp;")}"' in portal_page(
        created["verification_url"]
    )


@pytest.mark.parametrize(
    "options", [{"mode": "qr"}, {"mode": "select", "min_age": 18}, {"return_url": 42}], ids=str
)
def test_invalid_okid_options_are_a_validation_error(api: Api, options: dict[str, object]) -> None:
    answer = api.call(
        "POST", "/v1/sessions", key=api.secret_key, json={"provider": "okid", "options": options}
    )
    assert answer.status_code == 422, answer.text
    assert error_code(answer) == "validation_error"


# ---- each outcome ---------------------------------------------------------------------------------


def test_verified_is_approved_with_okids_status(api: Api) -> None:
    created = start_okid(api)
    act_as_user(created["verification_url"], {"outcome": "verified"})

    session = api.wait_for_status(created["id"], "approved", "declined", "expired", "error")
    assert session["status"] == "approved"
    assert session["result"] == {
        "decision": "approved",
        "provider_status": "verified",
        "risk": None,
        "reasons": [],
        "data": {},
    }
    assert session["finalized_at"] is not None
    assert session["verification_url"] is None  # closed: the link is no longer handed out


def test_rejected_is_declined_with_okids_status(api: Api) -> None:
    created = start_okid(api)
    act_as_user(created["verification_url"], {"outcome": "rejected"})

    session = api.wait_for_status(created["id"], "approved", "declined", "expired", "error")
    assert session["status"] == "declined"
    assert session["result"] == {
        "decision": "declined",
        "provider_status": "rejected",
        "risk": None,
        "reasons": ["provider_declined"],
        "data": {},
    }


@pytest.mark.parametrize(("decision", "status"), [("verified", "approved"), ("rejected", "declined")])
def test_manual_review_is_followed_until_the_reviewer_decides(api: Api, decision: str, status: str) -> None:
    created = start_okid(api)
    okid_expiry = _time(okid_expires_at(created["verification_url"]))
    act_as_user(created["verification_url"], {"outcome": "needs_manual_review"})

    in_review = api.wait_for_status(created["id"], "review", "approved", "declined", "expired", "error")
    assert in_review["status"] == "review"
    assert in_review["result"] is None  # not final yet
    assert in_review["finalized_at"] is None
    # A human may take longer than the verification's own life: the session is followed past it.
    assert _time(in_review["expires_at"]) > okid_expiry + timedelta(hours=1)

    act_as_user(created["verification_url"], {"outcome": decision})  # the reviewer's decision
    session = api.wait_for_status(created["id"], "approved", "declined", "expired", "error")
    assert session["status"] == status
    assert session["result"]["decision"] == status
    assert session["result"]["provider_status"] == decision


def test_an_abandoned_verification_expires_when_okids_does(api: Api) -> None:
    created = start_okid(api)
    act_as_user(created["verification_url"], {"outcome": "abandon"})
    assert api.get(created["id"]).json()["status"] == "pending"  # okID still says pending

    session = api.wait_for_status(created["id"], "approved", "declined", "expired", "error", timeout=25)
    assert session["status"] == "expired"
    assert session["result"]["decision"] == "expired"
    assert session["result"]["reasons"] == ["verification_expired"]
    # At the deadline idgate reads okID once more, and okID says expired.
    assert session["result"]["provider_status"] == "expired"
    assert _time(session["finalized_at"]) >= _time(created["expires_at"])


def test_a_verdict_given_before_okids_expiry_is_not_lost_to_the_deadline(expiring_api: Api) -> None:
    created = start_okid(expiring_api)
    # The user finishes in time; the webhook is lost; the first poll comes after expiresAt.
    outcome = {"outcome": "verified", "webhook": False}
    done = requests.post(created["verification_url"], json=outcome, timeout=10)
    assert done.status_code == 200, "okID's verification expired before the test could act"
    assert done.json()["status"] == "verified"  # okID accepted it before its expiresAt

    session = expiring_api.wait_for_status(created["id"], "approved", "declined", "expired", "error")
    assert session["status"] == "approved", session["result"]


# ---- polling and webhooks -------------------------------------------------------------------------


def test_a_lost_webhook_is_caught_by_polling(api: Api) -> None:
    created = start_okid(api)
    act_as_user(created["verification_url"], {"outcome": "verified", "webhook": False})

    session = api.wait_for_status(created["id"], "approved", "declined", "expired", "error", timeout=10)
    assert session["status"] == "approved"
    assert session["result"]["provider_status"] == "verified"


def test_a_webhook_applies_the_verdict_before_the_next_poll(slow_api: Api) -> None:
    without_webhook = start_okid(slow_api)
    with_webhook = start_okid(slow_api)
    act_as_user(without_webhook["verification_url"], {"outcome": "verified", "webhook": False})
    act_as_user(with_webhook["verification_url"], {"outcome": "verified"})

    session = slow_api.wait_for_status(
        with_webhook["id"], "approved", "declined", "expired", "error", timeout=5
    )
    assert session["status"] == "approved"
    # The next poll is 30 s away: the same verdict without a webhook still waits for it.
    assert slow_api.get(without_webhook["id"]).json()["status"] == "pending"


def test_webhooks_racing_the_poller_write_the_final_status_once(api: Api, stack: RunningStack) -> None:
    created = start_okid(api)
    hook = webhook_url(api)
    payload = okid_payload(verification_id(created), "verified")
    act_as_user(created["verification_url"], {"outcome": "verified"})  # okID's own webhook, too
    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(lambda _: post_webhook(api, hook, payload), range(6)))
    assert [answer.status_code for answer in answers] == [200] * 6

    session = api.wait_for_status(created["id"], "approved", "declined", "expired", "error")
    time.sleep(1.5)  # let the poller (every 1 s) see the verdict too
    assert api.get(created["id"]).json() == session
    assert session["status"] == "approved"
    assert len(finalizations(stack, created["id"])) == 1


def test_duplicate_webhooks_change_nothing(api: Api, stack: RunningStack) -> None:
    created = start_okid(api)
    act_as_user(created["verification_url"], {"outcome": "verified"})
    final = api.wait_for_status(created["id"], "approved", "declined", "expired", "error")
    assert final["status"] == "approved"

    hook = webhook_url(api)
    payload = okid_payload(verification_id(created), "verified")
    for _ in range(3):
        answer = post_webhook(api, hook, payload)
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"received": True}
    assert api.get(created["id"]).json() == final  # status, result, finalized_at, updated_at
    assert len(finalizations(stack, created["id"])) == 1


def test_a_late_webhook_claiming_another_status_changes_nothing(api: Api, stack: RunningStack) -> None:
    created = start_okid(api)
    act_as_user(created["verification_url"], {"outcome": "rejected"})
    final = api.wait_for_status(created["id"], "approved", "declined", "expired", "error")
    assert final["status"] == "declined"

    hook = webhook_url(api)
    for claimed in ("verified", "needs_manual_review", "expired"):
        answer = post_webhook(api, hook, okid_payload(verification_id(created), claimed))
        assert answer.status_code == 200, answer.text
    assert api.get(created["id"]).json() == final
    assert len(finalizations(stack, created["id"])) == 1


def test_a_webhook_naming_the_verification_anywhere_in_its_json_is_applied(slow_api: Api) -> None:
    created = start_okid(slow_api)
    act_as_user(created["verification_url"], {"outcome": "verified", "webhook": False})

    body = {"type": "update", "data": [{"object": {"verificationId": verification_id(created)}}]}
    answer = post_webhook(slow_api, webhook_url(slow_api), body)
    assert answer.status_code == 200, answer.text
    assert slow_api.get(created["id"]).json()["status"] == "approved"  # at once: no poll for 30 s


# ---- forged webhooks ------------------------------------------------------------------------------


def test_a_webhook_with_a_wrong_token_is_a_404_and_reads_nothing(slow_api: Api) -> None:
    created = start_okid(slow_api)
    act_as_user(created["verification_url"], {"outcome": "verified", "webhook": False})
    hook = webhook_url(slow_api)
    token = hook.rsplit("/", 1)[1]
    payload = okid_payload(verification_id(created), "verified")

    wrong = [
        hook + "x",
        hook[:-1],
        hook[: -len(token)] + "A" * len(token),
        hook.replace("/webhooks/okid/", "/webhooks/jekimo/"),
    ]
    for url in wrong:
        answer = post_webhook(slow_api, url, payload)
        assert answer.status_code == 404, (url, answer.text)
        assert error_code(answer) == "webhook_not_found"
    # okID says verified, and a read of it would have approved the session (the next poll is 30 s away):
    assert slow_api.get(created["id"]).json()["status"] == "pending"

    # ... as the right token shows.
    assert post_webhook(slow_api, hook, payload).status_code == 200
    assert slow_api.get(created["id"]).json()["status"] == "approved"


def test_a_webhook_claiming_verified_for_an_unfinished_verification_is_not_trusted(slow_api: Api) -> None:
    created = start_okid(slow_api)
    answer = post_webhook(slow_api, webhook_url(slow_api), okid_payload(verification_id(created), "verified"))

    assert answer.status_code == 200, answer.text
    session = slow_api.get(created["id"]).json()
    assert session["status"] == "pending"
    assert session["result"] is None


def test_a_webhook_claiming_verified_for_a_rejected_verification_applies_okids_rejection(
    slow_api: Api,
) -> None:
    created = start_okid(slow_api)
    act_as_user(created["verification_url"], {"outcome": "rejected", "webhook": False})
    answer = post_webhook(slow_api, webhook_url(slow_api), okid_payload(verification_id(created), "verified"))

    assert answer.status_code == 200, answer.text
    session = slow_api.get(created["id"]).json()
    assert session["status"] == "declined"
    assert session["result"]["provider_status"] == "rejected"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b'{"event": "verification.status_changed", "status": "verified"}', 422, "verification_id_missing"),
        (b'{"verification_id": ""}', 422, "verification_id_missing"),
        (b'{"verification_id": 12345}', 422, "verification_id_missing"),
        (b"[]", 422, "verification_id_missing"),
        (b"null", 422, "verification_id_missing"),
        (b'{"verification_id": "ver_000000000000000000000000"}', 404, "session_not_found"),
        (b'{"data": {"verificationId": "ver_unknown"}}', 404, "session_not_found"),
        (b'{"verification_id": "ver_', 400, "invalid_json"),
        (b"not json", 400, "invalid_json"),
    ],
    ids=[
        "no-id",
        "empty-id",
        "number-id",
        "empty-list",
        "null",
        "unknown",
        "unknown-nested",
        "truncated",
        "text",
    ],
)
def test_a_webhook_body_that_names_no_known_verification_is_refused(
    api: Api, body: bytes, status: int, code: str
) -> None:
    answer = post_webhook(api, webhook_url(api), data=body)
    assert answer.status_code == status, answer.text
    assert error_code(answer) == code


def test_a_webhook_body_over_64_kib_is_refused(api: Api) -> None:
    created = start_okid(api)
    body = {"verification_id": verification_id(created), "padding": "x" * (64 * 1024)}
    answer = post_webhook(api, webhook_url(api), body)
    assert answer.status_code == 413, answer.text
    assert error_code(answer) == "payload_too_large"


# ---- the webhook URL ------------------------------------------------------------------------------


def test_the_webhook_url_is_given_to_the_secret_key_only(api: Api) -> None:
    answer = api.call("GET", "/v1/providers/okid/webhook", key=api.secret_key)
    assert answer.status_code == 200, answer.text
    assert answer.json()["provider"] == "okid"
    url = answer.json()["url"]
    assert url.startswith(f"{api.base}/v1/webhooks/okid/")
    token = url.rsplit("/", 1)[1]
    assert len(token) >= 32
    assert webhook_url(api) == url  # stable: it is pasted once into okID's dashboard

    publishable = api.call("GET", "/v1/providers/okid/webhook", key=api.publishable_key)
    assert publishable.status_code == 403, publishable.text
    assert error_code(publishable) == "secret_key_required"

    anonymous = api.call("GET", "/v1/providers/okid/webhook")
    assert anonymous.status_code == 401, anonymous.text
    assert anonymous.json() == {"message": "Unauthorized"}


def test_a_provider_without_webhooks_has_no_webhook_url(api: Api) -> None:
    answer = api.call("GET", "/v1/providers/jekimo/webhook", key=api.secret_key)
    assert answer.status_code == 404, answer.text
    assert error_code(answer) == "webhook_not_found"


# ---- document images ------------------------------------------------------------------------------


def test_no_image_exists_before_the_user_finishes(api: Api) -> None:
    created = start_okid(api)
    for side in ("front", "back"):
        answer = fetch_image(api, created["id"], side, key=api.secret_key)
        assert answer.status_code == 404, answer.text
        assert error_code(answer) == "image_not_found"


def test_a_verified_session_has_a_redacted_front_png(api: Api) -> None:
    created = start_okid(api)
    act_as_user(created["verification_url"], {"outcome": "verified"})
    api.wait_for_status(created["id"], "approved")

    answer = fetch_image(api, created["id"], "front", key=api.secret_key)
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"] == "image/png"
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.content.startswith(PNG_SIGNATURE)
    assert b"okID sandbox FRONT redacted" in answer.content
    # okID's redacted endpoint has no side: it is the front, and there is no redacted back.
    back = fetch_image(api, created["id"], "back", key=api.secret_key)
    assert back.status_code == 404, back.text
    assert error_code(back) == "image_not_found"


def test_the_unredacted_sides_are_given_when_the_stack_allows_it(api: Api) -> None:
    created = start_okid(api)
    act_as_user(created["verification_url"], {"outcome": "verified"})
    api.wait_for_status(created["id"], "approved")

    redacted = fetch_image(api, created["id"], "front", key=api.secret_key, redacted="true")
    front = fetch_image(api, created["id"], "front", key=api.secret_key, redacted="false")
    back = fetch_image(api, created["id"], "back", key=api.secret_key, redacted="false")
    assert redacted.status_code == front.status_code == back.status_code == 200
    for answer in (front, back):
        assert answer.headers["Content-Type"] == "image/png"
        assert answer.content.startswith(PNG_SIGNATURE)
    assert len({redacted.content, front.content, back.content}) == 3
    assert fetch_image(api, created["id"], "front", key=api.secret_key).content == redacted.content


def test_the_unredacted_front_is_refused_when_the_stack_does_not_allow_it(slow_api: Api) -> None:
    created = start_okid(slow_api)
    act_as_user(created["verification_url"], {"outcome": "verified"})
    slow_api.wait_for_status(created["id"], "approved", timeout=5)

    assert fetch_image(slow_api, created["id"], "front", key=slow_api.secret_key).status_code == 200
    answer = fetch_image(slow_api, created["id"], "front", key=slow_api.secret_key, redacted="false")
    assert answer.status_code == 403, answer.text
    assert error_code(answer) == "unredacted_images_disabled"


def test_a_jekimo_session_has_no_images(api: Api) -> None:
    created = api.create({"provider": "jekimo", "options": {"min_age": 18}})
    answer = fetch_image(api, created["id"], "front", key=api.secret_key)
    assert answer.status_code == 404, answer.text
    assert error_code(answer) == "image_not_found"


def test_images_need_a_known_side_a_known_session_and_the_secret_key(api: Api) -> None:
    created = start_okid(api)
    act_as_user(created["verification_url"], {"outcome": "verified"})
    api.wait_for_status(created["id"], "approved")
    assert fetch_image(api, created["id"], "front", key=api.secret_key).status_code == 200

    left = fetch_image(api, created["id"], "left", key=api.secret_key)
    assert left.status_code == 404, left.text
    assert error_code(left) == "image_not_found"

    for session_id in ("ses_doesnotexist000000", created["id"] + "x", "not-a-session"):
        answer = fetch_image(api, session_id, "front", key=api.secret_key)
        assert answer.status_code == 404, (session_id, answer.text)
        assert error_code(answer) == "session_not_found"

    publishable = fetch_image(api, created["id"], "front", key=api.publishable_key)
    assert publishable.status_code == 403, publishable.text
    assert error_code(publishable) == "secret_key_required"

    anonymous = fetch_image(api, created["id"], "front", key=None)
    assert anonymous.status_code == 401, anonymous.text
    # The browser's client secret reads its session, not the document images.
    browser = fetch_image(api, created["id"], "front", key=None, client_secret=created["client_secret"])
    assert browser.status_code == 401, browser.text
