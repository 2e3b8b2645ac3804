"""Jekimo sessions followed by the real state machine and the real poll handler."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from tests.integration.conftest import PIN_TTL, TOKEN_TTL, Integration, act


def token_of(session: dict) -> str:
    return session["verification_url"].rsplit("/", 1)[1]


def test_an_approved_session_stops_polling_after_the_verdict(integration: Integration):
    created = integration.create({"provider": "jekimo", "options": {"min_age": 18}})
    token = token_of(created)
    time.sleep(1.5)
    act(created["verification_url"], {"outcome": "approved"})
    session = integration.wait_for(created["id"], "approved")
    assert session["result"] == {
        "decision": "approved",
        "provider_status": "OK",
        "risk": False,
        "reasons": [],
        "data": {"min_age_verified": 18},
    }
    assert integration.wait_for_execution_end(created["id"])["status"] == "SUCCEEDED"
    checks = integration.jekimo.count("/auth/check", token)
    # One provider call per Check step, the first after one interval: no hidden extra calls.
    assert checks == integration.checks(created["id"])
    assert 1 <= checks <= 4
    time.sleep(2.5)
    assert integration.jekimo.count("/auth/check", token) == checks
    assert len(integration.final_events(created["id"])) == 1


def test_an_idle_session_expires_when_the_token_does(integration: Integration):
    created = integration.create({"provider": "jekimo"})
    session = integration.wait_for(created["id"], "expired", timeout=TOKEN_TTL + 10)
    assert session["result"]["reasons"] == ["verification_expired"]
    assert integration.wait_for_execution_end(created["id"])["status"] == "SUCCEEDED"
    # One check every interval, the last one at the deadline (a verdict given just before it counts).
    checks = integration.jekimo.count("/auth/check", token_of(created))
    assert TOKEN_TTL - 1 <= checks <= TOKEN_TTL + 1
    assert checks == integration.checks(created["id"])
    assert all(wait <= 1 for wait in integration.waits(created["id"]))
    assert len(integration.final_events(created["id"])) == 1
    # The token's whole life, its look at the deadline included, is the fast phase's (Express): the
    # Standard workflow, billed per transition, is never started.
    assert integration.phases(created["id"]) == ["EXPRESS"]


def test_a_transient_provider_failure_is_retried_inside_the_state_machine(integration: Integration):
    created = integration.create({"provider": "jekimo"})
    token = token_of(created)
    integration.jekimo.fail("/auth/check", 2)
    act(created["verification_url"], {"outcome": "approved"})
    integration.wait_for(created["id"], "approved", timeout=15)
    failures = [
        event
        for event in integration.history(created["id"])
        if event["type"] == "TaskFailed" and event["taskFailedEventDetails"]["error"] == "ProviderUnavailable"
    ]
    assert len(failures) == 2
    assert integration.jekimo.count("/auth/check", token) == 3
    assert integration.wait_for_execution_end(created["id"])["status"] == "SUCCEEDED"


def test_a_provider_unreachable_until_the_deadline_ends_the_session_in_error(integration: Integration):
    created = integration.create({"provider": "jekimo"})
    integration.jekimo.fail("/auth/check", None)
    try:
        session = integration.wait_for(created["id"], "error", "expired", timeout=TOKEN_TTL + 15)
    finally:
        integration.jekimo.heal()
    assert session["status"] == "error"
    assert session["result"]["reasons"] == ["provider_unreachable"]
    # Bounded: one call per interval plus two retries of each, never more.
    calls = integration.jekimo.count("/auth/check", token_of(created))
    assert 1 <= calls <= 3 * TOKEN_TTL
    assert integration.wait_for_execution_end(created["id"])["status"] == "SUCCEEDED"
    assert len(integration.final_events(created["id"])) == 1


def test_a_pin_not_proven_in_time_declines_the_session(integration: Integration):
    created = integration.create(
        {"provider": "jekimo", "email": "user@example.com", "options": {"two_factor": True}}
    )
    act(created["verification_url"], {"outcome": "approved", "risk": True, "pin": 123456})
    integration.wait_for(created["id"], "awaiting_pin")
    session = integration.wait_for(created["id"], "declined", timeout=PIN_TTL + 8)
    assert session["result"]["reasons"] == ["pin_expired"]
    assert integration.wait_for_execution_end(created["id"])["status"] == "SUCCEEDED"
    assert len(integration.final_events(created["id"])) == 1
    # The email and the PIN hash are personal data / secrets of an open session only.
    item = integration.client("dynamodb").get_item(
        TableName="SessionsTable", Key={"pk": {"S": created["id"]}}
    )
    assert not {"email", "pin_hash", "provider_token"} & set(item["Item"])
    # Kept RetentionDays (30) after its final status, to the second.
    finalized_at = datetime.fromisoformat(item["Item"]["finalized_at"]["S"])
    assert int(item["Item"]["expires_ttl"]["N"]) == int((finalized_at + timedelta(days=30)).timestamp())
