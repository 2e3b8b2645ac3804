"""Races made, not hoped for: the local stack runs a function's invocations concurrently, as Lambda does,
and its DynamoDB applies conditional writes atomically, as DynamoDB does (devstack/atomic_writes.py).

- A thousand copies of one webhook at once: one final write, one event.
- Parallel PIN tries: the right PIN within the allowed tries approves, every time, and a 200 always
  says `approved`.
"""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from tests.integration.conftest import Integration, act, eventually

DUPLICATES = 1000
PIN_ROUNDS = 12
PER_GROUP = 3
WRONG_PIN, RIGHT_PIN = "111111", "654321"


def final_writes(integration: Integration, session_id: str) -> int:
    """The stream records of writes that made the session final: the first record with `finalized_at`,
    before the publisher's claim (`event_claimed_at`) and mark (`event_published`) followed."""
    streams = integration.client("dynamodbstreams")
    arn = integration.stack.provisioned.streams["SessionsTable"] if integration.stack.provisioned else ""
    count = 0
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            answer = streams.get_records(ShardIterator=iterator, Limit=1000)
            for record in answer["Records"]:
                image = record["dynamodb"].get("NewImage", {})
                if (
                    image.get("pk", {}).get("S") == session_id
                    and "finalized_at" in image
                    and "event_claimed_at" not in image
                    and image.get("event_published", {}).get("BOOL") is False
                ):
                    count += 1
            if not answer["Records"]:
                break
            iterator = answer.get("NextShardIterator")
    return count


def test_a_thousand_copies_of_one_webhook_write_once_and_announce_once(integration: Integration):
    created = integration.create({"provider": "okid"})
    verification_id = created["verification_url"].rsplit("verification_id=", 1)[1].split("&")[0]
    act(created["verification_url"], {"outcome": "verified", "webhook": False})
    url = integration.stack.webhook_url("okid")
    assert url is not None
    barrier = threading.Barrier(50)

    def send(number: int) -> int:
        if number < 50:
            barrier.wait()  # the first fifty leave together
        return requests.post(url, json={"verification_id": verification_id}, timeout=30).status_code

    with ThreadPoolExecutor(50) as pool:
        statuses = list(pool.map(send, range(DUPLICATES)))
    # The stage's throttle may answer some with 429 (API Gateway's own answer), never anything else.
    assert set(statuses) <= {200, 429}, sorted(set(statuses))
    assert statuses.count(200) >= 100
    session = integration.wait_for(created["id"], "approved")
    assert session["status"] == "approved"
    assert len(integration.final_events(created["id"])) == 1
    assert final_writes(integration, created["id"]) == 1


def test_the_right_pin_always_wins_against_parallel_wrong_ones(integration: Integration):
    for group in range(PIN_ROUNDS // PER_GROUP):
        race_pins(integration, group)


def race_pins(integration: Integration, group: int) -> None:
    """PER_GROUP sessions await their PIN; all their tries (four wrong, one right, shuffled) leave at once."""
    body = {"provider": "jekimo", "email": "racer@example.com", "options": {"two_factor": True}}
    sessions = [integration.create(body) for _ in range(PER_GROUP)]
    for created in sessions:
        act(created["verification_url"], {"outcome": "approved", "risk": True, "pin": int(RIGHT_PIN)})
    for created in sessions:
        integration.wait_for(created["id"], "awaiting_pin")
    tries: list[tuple[dict[str, Any], str]] = []
    for number, created in enumerate(sessions):
        pins = [WRONG_PIN] * 4 + [RIGHT_PIN]  # five tries, the allowed number: the right one must win
        random.Random(group * PER_GROUP + number).shuffle(pins)
        tries += [(created, pin) for pin in pins]
    barrier = threading.Barrier(len(tries))

    def attempt(entry: tuple[dict[str, Any], str]) -> tuple[str, str, int, dict[str, Any]]:
        created, pin = entry
        barrier.wait()
        answer = requests.post(
            f"{integration.api}/v1/sessions/{created['id']}/pin",
            json={"pin": pin},
            headers={"X-Client-Secret": created["client_secret"]},
            timeout=30,
        )
        return created["id"], pin, answer.status_code, answer.json()

    with ThreadPoolExecutor(len(tries)) as pool:
        answers = list(pool.map(attempt, tries))
    for session_id, pin, status, answered in answers:
        if pin == RIGHT_PIN:
            assert (status, answered.get("status")) == (200, "approved"), (session_id, answered)
        else:
            assert status in (409, 422), (session_id, status, answered)
    for created in sessions:
        assert integration.session(created["id"])["status"] == "approved"
        # The event leaves from the table's stream, a moment after the write.
        eventually(lambda: bool(integration.final_events(created["id"], settle=0.3)))  # noqa: B023
        assert len(integration.final_events(created["id"])) == 1


def test_events_wait_out_an_eventbridge_outage_and_arrive_once(integration: Integration):
    """EventBridge answers every PutEvents with an error for a while: final statuses are written all the
    same, their events are held in the table's stream, and every one arrives once EventBridge is back."""
    faults = integration.stack.faults
    faults.update(aws_faults=1.0, services=["events"])
    try:
        created = [integration.create({"provider": "faceki"}) for _ in range(4)]
        for session in created:
            act(session["verification_url"], {"outcome": "accepted"})
        for session in created:
            integration.wait_for(session["id"], "approved")
        time.sleep(2)
        assert not any(integration.final_events(session["id"], settle=0.2) for session in created)
        refused = faults.state()["counts"]["aws"]["events"]
        assert sum(count for code, count in refused.items() if code != "calls") > 0
    finally:
        faults.update(aws_faults=0.0)
    for session in created:
        eventually(
            lambda session=session: bool(integration.final_events(session["id"], settle=0.3)), timeout=30
        )
    for session in created:
        assert len(integration.final_events(session["id"])) == 1
