"""Datakeen IDify end to end: the real local stack, its Datakeen sandbox acting as the user, the reviewer
and Datakeen's webhooks, and the API checked against openapi.yaml.

The shared FAST stack polls every 1 s (so the follow-up's first look comes 6 s after creation, then
every 12 s) and lets a Datakeen session live 20 s.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
import requests

from tests.e2e.client import Api, act_as_user

pytestmark = pytest.mark.e2e

#: Personal data sent to Datakeen that must never be stored or logged by idgate.
FIRST_NAME, LAST_NAME, BIRTH_DATE = "Zephyrine", "Quillfeather", "1971-03-29"


def start(api: Api, **options: Any) -> dict[str, Any]:
    return api.create({"provider": "datakeen", "reference": "order-dk", "options": options})


def datakeen_session_id(created: dict[str, Any]) -> str:
    return str(created["verification_url"].rsplit("sessionId=", 1)[1])


def webhook_url(api: Api) -> str:
    answer = api.call("GET", "/v1/providers/datakeen/webhook", key=api.secret_key)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["url"])


def test_an_approval_reaches_idgate_by_webhook(api: Api):
    created = start(api)
    assert created["qr_code"].startswith("data:image/png;base64,")
    act_as_user(created["verification_url"], {"outcome": "approved"})
    session = api.wait_for_status(created["id"], "approved", timeout=5)
    assert session["result"]["provider_status"] == "ai_approved"
    assert session["result"]["reasons"] == []
    assert session["verification_url"] is None


def test_a_rejection_is_declined_with_reason_codes(api: Api):
    created = start(api)
    act_as_user(created["verification_url"], {"outcome": "rejected"})
    session = api.wait_for_status(created["id"], "declined", timeout=5)
    assert session["result"]["provider_status"] == "ai_rejected"
    assert "document_invalid" in session["result"]["reasons"]


def test_a_review_then_the_reviewers_decision(api: Api):
    created = start(api)
    act_as_user(created["verification_url"], {"outcome": "review"})
    api.wait_for_status(created["id"], "review", timeout=5)
    act_as_user(created["verification_url"], {"outcome": "approved"})  # now as the reviewer
    session = api.wait_for_status(created["id"], "approved", timeout=5)
    assert session["result"]["provider_status"] == "user_approved"


def test_an_under_age_user_is_declined_and_an_adult_approved_with_only_the_age_checked(api: Api):
    young = start(api, min_age=18)
    act_as_user(
        young["verification_url"],
        {"outcome": "approved", "birth_date": f"{datetime.now(UTC).year - 12}-05-01"},
    )
    declined = api.wait_for_status(young["id"], "declined", timeout=5)
    assert declined["result"]["reasons"] == ["under_min_age"]
    adult = start(api, min_age=18)
    act_as_user(adult["verification_url"], {"outcome": "approved", "birth_date": "1990-05-01"})
    approved = api.wait_for_status(adult["id"], "approved", timeout=5)
    assert approved["result"]["data"] == {"min_age_verified": 18}


def test_a_lost_webhook_is_caught_by_the_follow_up(api: Api):
    created = start(api)
    act_as_user(created["verification_url"], {"outcome": "approved", "webhook": False})
    session = api.wait_for_status(created["id"], "approved", timeout=30)
    assert session["result"]["provider_status"] == "ai_approved"


def test_an_abandoned_session_expires_at_its_deadline(api: Api):
    created = start(api)
    act_as_user(created["verification_url"], {"outcome": "abandon"})
    session = api.wait_for_status(created["id"], "expired", "approved", "declined", "error", timeout=40)
    assert session["status"] == "expired"
    assert session["result"]["reasons"] == ["verification_expired"]


def test_forged_wrong_token_and_duplicate_webhooks_change_nothing(api: Api):
    url = webhook_url(api)
    created = start(api)
    reference = datakeen_session_id(created)
    # A forged dashboard webhook claims an approval: Datakeen says pending, and that is what counts.
    forged = requests.post(url, json={"sessionId": reference, "newStatus": "user_approved"}, timeout=10)
    assert forged.status_code == 200
    assert api.get(created["id"]).json()["status"] == "pending"
    wrong = requests.post(url[:-2] + "xx", json={"sessionId": reference}, timeout=10)
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (404, "webhook_not_found")
    unknown = requests.post(url, json={"sessionId": "0" * 24}, timeout=10)
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "session_not_found")

    act_as_user(created["verification_url"], {"outcome": "rejected", "webhook": False})
    bodies = [
        {"sessionId": reference},
        {"sessionId": reference, "newStatus": "ai_approved"},
        {
            "analysisId": "a",
            "entityId": "e",
            "correlationId": "c",
            "sessionId": reference,
            "newStatus": "user_approved",
        },
    ] * 4
    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(lambda body: requests.post(url, json=body, timeout=10), bodies))
    assert {answer.status_code for answer in answers} == {200}
    final = api.wait_for_status(created["id"], "declined", timeout=5)
    assert final["result"]["provider_status"] == "ai_rejected"
    finalized_at = final["finalized_at"]
    requests.post(url, json={"sessionId": reference, "newStatus": "user_approved"}, timeout=10)
    assert api.get(created["id"]).json()["finalized_at"] == finalized_at


def test_names_and_birth_date_are_neither_stored_nor_logged(api: Api):
    created = start(api, first_name=FIRST_NAME, last_name=LAST_NAME, birth_date=BIRTH_DATE, min_age=18)
    act_as_user(created["verification_url"], {"outcome": "approved"})
    api.wait_for_status(created["id"], "approved", timeout=5)
    table = boto3.client(
        "dynamodb",
        endpoint_url=api.stack.aws,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    items = table.scan(TableName="SessionsTable")["Items"]
    stored = json.dumps(items, default=str)  # the shared token item holds binary ciphertext
    logged = api.stack.output()
    for personal in (FIRST_NAME, LAST_NAME, BIRTH_DATE, "29/03/1971"):
        assert personal not in stored
        assert personal not in logged
    ours = next(item for item in items if item["pk"]["S"] == created["id"])
    assert "first_name" not in json.dumps(ours)


@pytest.mark.parametrize(
    ("options", "code"),
    [
        ({"min_age": "18"}, "validation_error"),
        ({"birth_date": "29/03/1971"}, "validation_error"),
        ({"nickname": "zed"}, "validation_error"),
        ({"template_id": "000000000000000000000000"}, "unknown_template"),
        ({"return_url": "https://evil.example/"}, "return_url_not_allowed"),
    ],
)
def test_bad_options_are_refused_with_a_stable_code(api: Api, options, code):
    answer = api.call(
        "POST", "/v1/sessions", key=api.secret_key, json={"provider": "datakeen", "options": options}
    )
    assert (answer.status_code, answer.json()["error"]["code"]) == (422, code)


def test_templates_are_listed_for_a_secret_key_and_an_active_one_is_usable(api: Api):
    listed = api.call("GET", "/v1/providers/datakeen/templates", key=api.secret_key)
    assert listed.status_code == 200
    active = [t for t in listed.json()["templates"] if t["status"] == "active"]
    assert active
    created = start(api, template_id=active[0]["id"])
    assert created["status"] == "pending"
    refused = api.call("GET", "/v1/providers/datakeen/templates", key=api.publishable_key)
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "secret_key_required")
    missing = api.call("GET", "/v1/providers/datakeen/nothing", key=api.secret_key)
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "resource_not_found")


def test_the_provider_list_offers_datakeen_with_its_options(api: Api):
    answer = api.call("GET", "/v1/providers", key=api.publishable_key)
    providers = {provider["name"]: provider for provider in answer.json()["providers"]}
    assert {"jekimo", "okid", "datakeen"} <= set(providers)
    options = providers["datakeen"]["options"]["properties"]
    assert {"template_id", "first_name", "last_name", "birth_date", "min_age", "return_url"} == set(options)
