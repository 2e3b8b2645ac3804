"""FACEKI end to end: the real local stack, its FACEKI sandbox acting as the user, the reviewer and
FACEKI's dashboard webhook, and the API checked against openapi.yaml.

The shared FAST stack polls every 1 s (so the follow-up's first look comes 3 s after creation, then
every 6 s), makes a minute of a KYC link last 2 s (a 5-minute link lives 10 s), and FACEKI's tokens
30 s (so tokens are renewed while the tests run).
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
import requests

from devstack.sandboxes.faceki_records import FAKE_BIRTH_DATE, FAKE_DOCUMENT_NUMBER, FAKE_FULL_NAME
from tests.e2e.client import Api, act_as_user

pytestmark = pytest.mark.e2e


def start(api: Api, **options: Any) -> dict[str, Any]:
    return api.create({"provider": "faceki", "reference": "order-fk", "options": options})


def webhook_url(api: Api) -> str:
    answer = api.call("GET", "/v1/providers/faceki/webhook", key=api.secret_key)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["url"])


def sandbox(api: Api) -> str:
    return api.stack.providers["faceki"]


def test_an_acceptance_reaches_idgate_by_webhook(api: Api):
    created = start(api)
    assert created["verification_url"].startswith(f"{sandbox(api)}/kycverify/")
    assert created["qr_code"].startswith("data:image/png;base64,")
    act_as_user(created["verification_url"], {"outcome": "accepted", "documentType": "PASSPORT"})
    session = api.wait_for_status(created["id"], "approved", timeout=5)
    assert session["result"]["provider_status"] == "ACCEPTED"
    assert session["result"]["data"] == {"document_type": "passport"}
    assert session["verification_url"] is None


def test_a_decline_gives_its_codes_reason(api: Api):
    created = start(api)
    act_as_user(created["verification_url"], {"outcome": "declined", "code": 5004})
    session = api.wait_for_status(created["id"], "declined", timeout=5)
    assert session["result"]["provider_status"] == "DECLINED"
    assert session["result"]["reasons"] == ["selfie_liveness_failed"]


def test_a_review_then_the_reviewers_decision(api: Api):
    created = start(api)
    act_as_user(created["verification_url"], {"outcome": "review"})
    api.wait_for_status(created["id"], "review", timeout=5)
    act_as_user(created["verification_url"], {"outcome": "declined", "code": 8012})  # the reviewer
    session = api.wait_for_status(created["id"], "declined", timeout=5)
    assert session["result"]["reasons"] == ["passport_invalid"]


def test_a_lost_webhook_is_caught_by_the_follow_up(api: Api):
    created = start(api)
    act_as_user(created["verification_url"], {"outcome": "accepted", "webhook": False})
    session = api.wait_for_status(created["id"], "approved", timeout=30)
    assert session["result"]["provider_status"] == "ACCEPTED"


def test_an_abandoned_session_expires_with_its_link(api: Api):
    created = start(api, expiry_minutes=5)  # 10 s here
    act_as_user(created["verification_url"], {"outcome": "abandon"})
    session = api.wait_for_status(created["id"], "expired", "approved", "declined", "error", timeout=40)
    assert session["status"] == "expired"
    assert session["result"]["reasons"] in (["verification_link_expired"], ["verification_expired"])


def test_forged_wrong_token_and_duplicate_webhooks_change_nothing(api: Api):
    url = webhook_url(api)
    created = start(api)
    made = act_as_user(created["verification_url"], {"outcome": "review", "webhook": False})
    api.wait_for_status(created["id"], "review", timeout=15)
    # A forged webhook claims an acceptance: FACEKI's record says REVIEW, and that is what counts.
    forged = requests.post(url, json={"requestId": made["requestId"], "status": "ACCEPTED"}, timeout=10)
    assert forged.status_code == 200
    assert api.get(created["id"]).json()["status"] == "review"
    wrong = requests.post(url[:-2] + "xx", json={"requestId": made["requestId"]}, timeout=10)
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (404, "webhook_not_found")
    unknown = requests.post(url, json={"requestId": "f" * 24, "status": "ACCEPTED"}, timeout=10)
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (422, "verification_id_missing")
    nothing = requests.post(url, json={"fullName": FAKE_FULL_NAME}, timeout=10)
    assert (nothing.status_code, nothing.json()["error"]["code"]) == (422, "verification_id_missing")

    act_as_user(created["verification_url"], {"outcome": "declined", "code": 8006, "webhook": False})
    body = {"requestId": made["requestId"], "fullName": FAKE_FULL_NAME, "status": "ACCEPTED", "kycData": {}}
    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(lambda _: requests.post(url, json=body, timeout=10), range(12)))
    assert {answer.status_code for answer in answers} == {200}
    final = api.wait_for_status(created["id"], "declined", timeout=5)
    assert final["result"]["reasons"] == ["face_not_found"]
    finalized_at = final["finalized_at"]
    requests.post(url, json=body, timeout=10)
    assert api.get(created["id"]).json()["finalized_at"] == finalized_at


def test_the_users_name_and_document_data_are_neither_stored_nor_logged(api: Api):
    created = start(api)
    act_as_user(created["verification_url"], {"outcome": "accepted"})  # the webhook carries them
    api.wait_for_status(created["id"], "approved", timeout=5)
    table = boto3.client(
        "dynamodb",
        endpoint_url=api.stack.aws,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    stored = json.dumps(table.scan(TableName="SessionsTable")["Items"], default=str)
    logged = api.stack.output()
    for personal in (FAKE_FULL_NAME, FAKE_DOCUMENT_NUMBER, FAKE_BIRTH_DATE, "kycData", "fullName"):
        assert personal not in stored
        assert personal not in logged


@pytest.mark.parametrize(
    ("account", "code"),
    [
        ({"credit": False}, "provider_quota_exceeded"),
        ({"kyc_limit_reached": True}, "provider_quota_exceeded"),
        ({"link_limit_reached": True}, "provider_quota_exceeded"),
        ({"rules": False}, "provider_not_configured"),
    ],
)
def test_an_account_that_cannot_make_links_is_a_502_with_a_stable_code(api: Api, account, code):
    control = f"{sandbox(api)}/sandbox/account"
    healthy = requests.get(control, timeout=5).json()
    requests.post(control, json=account, timeout=5).raise_for_status()
    try:
        answer = api.call(
            "POST", "/v1/sessions", key=api.secret_key, json={"provider": "faceki"}, provider_refusal=True
        )
    finally:
        requests.post(
            control, json={key: healthy[key] for key in ("rules", "credit", "kyc_limit_reached",
                                                           "link_limit_reached", "fail_link")}, timeout=5,
        ).raise_for_status()  # fmt: skip
    assert (answer.status_code, answer.json()["error"]["code"]) == (502, code)


@pytest.mark.parametrize(
    ("options", "code"),
    [
        ({"expiry_minutes": 4}, "validation_error"),
        ({"expiry_minutes": "60"}, "validation_error"),
        ({"expiry_minutes": None}, "validation_error"),
        ({"document_optional": "true"}, "validation_error"),
        ({"redirect_url": "https://shop.example.com/"}, "validation_error"),
        ({"return_url": "https://evil.example/"}, "return_url_not_allowed"),
    ],
)
def test_bad_options_are_refused_with_a_stable_code(api: Api, options, code):
    answer = api.call(
        "POST", "/v1/sessions", key=api.secret_key, json={"provider": "faceki", "options": options}
    )
    assert (answer.status_code, answer.json()["error"]["code"]) == (422, code)


def test_one_token_serves_many_sessions(api: Api):
    control = f"{sandbox(api)}/sandbox/account"
    start(api)  # the token exists (and is renewed, should it be near its end)
    before = requests.get(control, timeout=5).json()["tokens_issued"]
    for _ in range(4):
        created = start(api)
        assert api.get(created["id"]).status_code == 200
    assert requests.get(control, timeout=5).json()["tokens_issued"] - before <= 1  # at most a renewal


def test_the_provider_list_offers_faceki_with_its_options(api: Api):
    answer = api.call("GET", "/v1/providers", key=api.publishable_key)
    providers = {provider["name"]: provider for provider in answer.json()["providers"]}
    options = providers["faceki"]["options"]["properties"]
    assert {"expiry_minutes", "document_optional", "return_url"} == set(options)
    assert options["expiry_minutes"]["minimum"] == 5
