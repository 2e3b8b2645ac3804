"""okID sessions: the real state machine's schedule, webhooks racing polls, and write-once verdicts."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import requests

from idgate.domain import Session, Status
from idgate.providers.base import Observation
from idgate.settings import get_settings
from idgate.store import SessionStore
from idgate.wiring import default_service
from tests.integration.conftest import OTHER_OKID_KEY, Integration, act, eventually
from tests.support.caches import reset_idgate_caches


def stored_session(session_id: str) -> Session | None:
    """The session as the table holds it (what the handlers read)."""
    return SessionStore(get_settings().sessions_table, retention=timedelta(days=1)).get(session_id)


def details_calls(integration: Integration, created: dict) -> int:
    verification_id = created["verification_url"].split("verification_id=")[1].split("&")[0]
    return integration.okid.count(f"/api/get-verification-details/{verification_id}")


def test_the_schedule_starts_at_the_interval_and_backs_off(integration: Integration):
    created = integration.create({"provider": "okid"})
    # Long enough for the seventh check, the first after the interval doubles (6 x 1 s, then 2 s).
    time.sleep(9.5)
    act(created["verification_url"], {"outcome": "rejected", "webhook": False})
    session = integration.wait_for(created["id"], "declined", timeout=10)
    assert session["result"]["provider_status"] == "rejected"
    assert integration.wait_for_execution_end(created["id"])["status"] == "SUCCEEDED"
    waits = integration.waits(created["id"])
    assert waits[:7] == [1, 1, 1, 1, 1, 1, 2]
    assert waits == sorted(waits)
    # Each Check step made exactly one call to okID: polling caught the verdict without a webhook.
    assert details_calls(integration, created) == integration.checks(created["id"])


def test_a_webhook_finalizes_first_and_the_next_step_stops_without_calling_okid(integration: Integration):
    created = integration.create({"provider": "okid"})
    time.sleep(1.2)
    act(created["verification_url"], {"outcome": "verified"})  # the sandbox sends the webhook
    integration.wait_for(created["id"], "approved", timeout=5)
    assert integration.wait_for_execution_end(created["id"])["status"] == "SUCCEEDED"
    # One re-read for the webhook, one per Check step but the last: that one found the session final
    # and stopped without calling okID.
    webhook_reads = 1
    assert details_calls(integration, created) == webhook_reads + integration.checks(created["id"]) - 1
    assert len(integration.final_events(created["id"])) == 1


def test_manual_review_is_followed_until_the_reviewer_decides(integration: Integration):
    created = integration.create({"provider": "okid"})
    act(created["verification_url"], {"outcome": "needs_manual_review", "webhook": False})
    in_review = integration.wait_for(created["id"], "review", timeout=5)
    item = integration.client("dynamodb").get_item(
        TableName="SessionsTable", Key={"pk": {"S": created["id"]}}
    )
    # Followed for ReviewFollowHours, and kept (TTL) at least that long.
    review_deadline = datetime.fromisoformat(in_review["expires_at"])
    assert review_deadline > datetime.fromisoformat(created["expires_at"])
    assert int(item["Item"]["expires_ttl"]["N"]) == int((review_deadline + timedelta(days=30)).timestamp())
    # In review the schedule slows to 12 intervals between checks.
    eventually(lambda: 12 in integration.waits(created["id"]), timeout=5)
    act(created["verification_url"], {"outcome": "verified"})
    session = integration.wait_for(created["id"], "approved", timeout=5)
    assert session["result"]["provider_status"] == "verified"
    assert len(integration.final_events(created["id"])) == 1


def test_results_arriving_out_of_order_never_move_a_session_backwards(integration: Integration):
    created = integration.create({"provider": "okid"})
    act(created["verification_url"], {"outcome": "needs_manual_review", "webhook": False})
    integration.wait_for(created["id"], "review", timeout=5)
    service = default_service()
    stored = stored_session(created["id"])
    assert stored is not None
    for stale in (Status.PENDING, Status.PROCESSING):
        service.apply(stored, Observation(stale, "pending"))
        assert integration.session(created["id"])["status"] == "review"
    service.apply(stored, Observation(Status.APPROVED, "verified"))
    approved = integration.session(created["id"])
    service.apply(stored, Observation(Status.DECLINED, "rejected", reasons=("provider_declined",)))
    assert integration.session(created["id"]) == approved


def test_racing_verdicts_write_one_final_status_and_one_event(integration: Integration):
    created = integration.create({"provider": "okid"})
    service = default_service()
    stored = stored_session(created["id"])
    assert stored is not None
    verdicts = [
        Observation(Status.APPROVED, "verified") if n % 2 else Observation(Status.DECLINED, "rejected")
        for n in range(12)
    ]
    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(lambda observation: service.apply(stored, observation), verdicts))
    session = integration.session(created["id"])
    assert session["status"] in ("approved", "declined")
    assert session["result"]["decision"] == session["status"]
    assert len(integration.final_events(created["id"])) == 1


def test_repeated_poll_steps_on_a_final_session_change_nothing(integration: Integration):
    created = integration.create({"provider": "okid"})
    act(created["verification_url"], {"outcome": "verified"})
    final = integration.wait_for(created["id"], "approved", timeout=5)
    calls = details_calls(integration, created)
    state = {
        "session_id": created["id"],
        "interval_seconds": 1,
        "wait_seconds": 1,
        "attempt": 3,
        "done": False,
    }
    for _ in range(3):
        assert integration.stack.lambdas.invoke("PollFunction", state)["done"] is True
    assert details_calls(integration, created) == calls
    assert integration.session(created["id"]) == final
    assert len(integration.final_events(created["id"])) == 1


def test_a_verification_okid_refuses_to_show_us_ends_in_error(integration: Integration):
    foreign = requests.post(
        f"{integration.okid_sandbox.public_base_url}/api/generate-verification",
        headers={"X-SDK-Key": OTHER_OKID_KEY},
        timeout=5,
    ).json()["verificationId"]
    created = integration.create({"provider": "okid"})
    # As if okID had handed us another customer's verification: our key gets a 403 for it.
    integration.client("dynamodb").update_item(
        TableName="SessionsTable",
        Key={"pk": {"S": created["id"]}},
        UpdateExpression="SET provider_ref = :foreign",
        ExpressionAttributeValues={":foreign": {"S": foreign}},
    )
    session = integration.wait_for(created["id"], "error", timeout=5)
    assert session["result"]["reasons"] == ["provider_access_denied"]
    assert integration.wait_for_execution_end(created["id"])["status"] == "SUCCEEDED"
    assert len(integration.final_events(created["id"])) == 1


def test_a_long_follow_up_continues_in_new_executions(integration: Integration, monkeypatch):
    # Step Functions ends an execution at 25,000 history events: days of review must span several.
    # Shortened here: 3 checks per execution, a 2 s fast phase, the long phase's waits at most 1 s.
    for name, value in {
        "CHECKS_PER_EXECUTION": "3",
        "FAST_PHASE_LIMIT_SECONDS": "2",
        "LONG_WAIT_LIMIT_SECONDS": "1",
    }.items():
        monkeypatch.setenv(name, value)
    reset_idgate_caches()
    try:
        created = integration.create({"provider": "okid"})
        act(created["verification_url"], {"outcome": "needs_manual_review", "webhook": False})
        integration.wait_for(created["id"], "review", timeout=5)
        eventually(lambda: execution_status(integration, f"{created['id']}.2") is not None, timeout=15)
        act(created["verification_url"], {"outcome": "verified", "webhook": False})
        integration.wait_for(created["id"], "approved", timeout=10)
    finally:
        for name in ("CHECKS_PER_EXECUTION", "FAST_PHASE_LIMIT_SECONDS", "LONG_WAIT_LIMIT_SECONDS"):
            monkeypatch.delenv(name)
        reset_idgate_caches()
    assert integration.wait_for_execution_end(created["id"])["status"] == "SUCCEEDED"
    # The fast phase (Express) handed the review to the long phase (Standard), which went on in
    # executions <id>, <id>.1, <id>.2 ...
    phases = integration.phases(created["id"])
    assert phases[0] == "EXPRESS"
    assert set(phases[1:]) == {"STANDARD"}
    assert len(phases) >= 4
    assert execution_status(integration, created["id"]) == "SUCCEEDED"
    assert execution_status(integration, f"{created['id']}.1") == "SUCCEEDED"
    # The schedule goes on where it was: attempts count across executions.
    assert details_calls(integration, created) >= 7
    assert details_calls(integration, created) == integration.checks(created["id"])
    assert len(integration.final_events(created["id"])) == 1


def execution_status(integration: Integration, name: str) -> str | None:
    assert integration.stack.provisioned is not None
    machine = integration.stack.provisioned.state_machines["PollStateMachine"]
    arn = machine.replace(":stateMachine:", ":execution:") + f":{name}"
    try:
        return str(integration.client("stepfunctions").describe_execution(executionArn=arn)["status"])
    except integration.client("stepfunctions").exceptions.ExecutionDoesNotExist:
        return None
