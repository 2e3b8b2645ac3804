"""Chaos: every provider through every outcome, abandoned sessions included, while 30% of the provider API
calls idgate makes fail (5xx, resets, garbage, truncated bodies, slow answers, hangs past our time-outs)
and 10% of its DynamoDB, EventBridge and SES calls answer AWS's throttling and service errors. Every
session must end in its right final status, none may stay open, and each must be announced by exactly
one event; the right PIN must always approve.

Its own stack: sessions live 25 s (a FACEKI minute lasts 5 s), the follow-up polls every second, and
the faults are seeded so that a failing run can be replayed (`--fault-seed`).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from tests.e2e.stack import RunningStack, running_stack

pytestmark = pytest.mark.e2e

LIFE = 25
CHAOS = (
    "--poll-interval", "1", "--jekimo-token-ttl", str(LIFE), "--okid-verification-ttl", str(LIFE),
    "--datakeen-session-ttl", str(LIFE), "--faceki-minute-seconds", str(LIFE // 5), "--pin-ttl", "60",
    "--provider-faults", "0.3", "--aws-faults", "0.1", "--fault-seed", "20261123",
)  # fmt: skip
FINAL = {"approved", "declined", "expired", "error"}
RIGHT_PIN = 480213


@dataclass
class Case:
    """One session: its provider, what the user (and the reviewer) do, and the status that is right."""

    name: str
    provider: str
    expected: str
    steps: list[dict[str, Any]] = field(default_factory=list)  # outcomes posted to the provider's page
    options: dict[str, Any] = field(default_factory=dict)
    email: str | None = None
    pin: bool = False


CASES = [
    Case("jekimo approved", "jekimo", "approved", [{"outcome": "approved"}]),
    Case("jekimo declined", "jekimo", "declined", [{"outcome": "declined"}]),
    Case("jekimo abandoned", "jekimo", "expired"),
    Case(
        "jekimo PIN", "jekimo", "approved", [{"outcome": "approved", "risk": True, "pin": RIGHT_PIN}],
        options={"two_factor": True}, email="chaos@example.com", pin=True,
    ),
    Case("okid verified", "okid", "approved", [{"outcome": "verified"}]),
    Case("okid rejected", "okid", "declined", [{"outcome": "rejected"}]),
    Case("okid reviewed", "okid", "approved", [{"outcome": "needs_manual_review"}, {"outcome": "verified"}]),
    Case("okid abandoned", "okid", "expired", [{"outcome": "abandon"}]),
    Case("datakeen approved", "datakeen", "approved", [{"outcome": "approved"}]),
    Case("datakeen rejected", "datakeen", "declined", [{"outcome": "rejected"}]),
    Case("datakeen reviewed", "datakeen", "declined", [{"outcome": "review"}, {"outcome": "rejected"}]),
    Case("datakeen abandoned", "datakeen", "expired", [{"outcome": "abandon"}]),
    Case("faceki accepted", "faceki", "approved", [{"outcome": "accepted"}], options={"expiry_minutes": 5}),
    Case(
        "faceki declined", "faceki", "declined", [{"outcome": "declined", "code": 8006}],
        options={"expiry_minutes": 5},
    ),
    Case(
        "faceki reviewed", "faceki", "approved", [{"outcome": "review"}, {"outcome": "accepted"}],
        options={"expiry_minutes": 5},
    ),
    Case("faceki abandoned", "faceki", "expired", [{"outcome": "abandon"}], options={"expiry_minutes": 5}),
]  # fmt: skip


@pytest.fixture(scope="module")
def chaos(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    log_path: Path = tmp_path_factory.mktemp("chaos") / "devstack.log"
    with running_stack(*CHAOS, log_path=log_path) as running:
        yield running


def retried(call: Callable[[], requests.Response], *, accept: Callable[[requests.Response], bool]) -> Any:
    """A call repeated while the stack answers a transient failure: the test's own calls must get
    through the chaos too (idgate answers 502/503 when a provider or AWS stayed down for one request)."""
    deadline = time.monotonic() + 60
    while True:
        try:
            answer = call()
            if accept(answer):
                return answer
            assert answer.status_code in (429, 500, 502, 503, 504), (answer.status_code, answer.text[:300])
        except requests.RequestException:
            pass
        assert time.monotonic() < deadline, "the stack never answered"
        time.sleep(0.5)


def run(stack: RunningStack, case: Case) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {stack.keys['secret']}", "Idempotency-Key": str(uuid.uuid4())}
    body: dict[str, Any] = {"provider": case.provider, "reference": case.name, "options": case.options}
    if case.email:
        body["email"] = case.email
    created = retried(
        lambda: requests.post(f"{stack.api}/v1/sessions", json=body, headers=headers, timeout=30),
        accept=lambda answer: answer.status_code == 201,
    ).json()
    for number, step in enumerate(case.steps):
        if number:
            time.sleep(3)  # the reviewer decides a while after the user
        # The user's page and the reviewer's buttons are never faulted: only idgate's calls are.
        page = requests.post(created["verification_url"], json=step, timeout=30)
        assert page.status_code == 200, (case.name, page.text)
    secret = {"X-Client-Secret": created["client_secret"]}

    def read() -> dict[str, Any]:
        answer = retried(
            lambda: requests.get(f"{stack.api}/v1/sessions/{created['id']}", headers=secret, timeout=30),
            accept=lambda answer: answer.status_code == 200,
        )
        return dict(answer.json())

    deadline = time.monotonic() + LIFE + 90
    while (session := read())["status"] not in FINAL:
        if case.pin and session["status"] == "awaiting_pin":
            pin_url = f"{stack.api}/v1/sessions/{created['id']}/pin"
            proved = retried(
                lambda url=pin_url: requests.post(
                    url, json={"pin": str(RIGHT_PIN)}, headers=secret, timeout=30
                ),
                accept=lambda answer: answer.status_code in (200, 409),
            )
            assert proved.status_code == 200, proved.text
            assert proved.json()["status"] == "approved", proved.text
        assert time.monotonic() < deadline, f"{case.name}: still {session['status']}"
        time.sleep(0.5)
    return {"case": case.name, "expected": case.expected, "session": session}


def events_by_session(stack: RunningStack, queue_url: str, settle: float) -> dict[str, int]:
    sqs = aws_client(stack, "sqs")
    counts: dict[str, int] = {}
    deadline = time.monotonic() + settle
    while time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for message in messages.get("Messages", []):
            session_id = json.loads(message["Body"])["detail"]["id"]
            counts[session_id] = counts.get(session_id, 0) + 1
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return counts


def aws_client(stack: RunningStack, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=stack.aws,
        region_name="us-east-1",
        aws_access_key_id="chaos",
        aws_secret_access_key="chaos",
    )


def test_every_session_ends_right_and_is_announced_once_under_faults(chaos: RunningStack):
    sqs, events = aws_client(chaos, "sqs"), aws_client(chaos, "events")
    queue_url = sqs.create_queue(QueueName="chaos-final-events")["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]
    events.put_rule(Name="chaos-final", EventPattern=json.dumps({"source": ["idgate"]}))
    events.put_targets(Rule="chaos-final", Targets=[{"Id": "queue", "Arn": attributes["QueueArn"]}])

    with ThreadPoolExecutor(len(CASES)) as pool:
        outcomes = list(pool.map(lambda case: run(chaos, case), CASES))

    wrong = [
        (outcome["case"], outcome["session"]["status"], outcome["session"]["result"])
        for outcome in outcomes
        if outcome["session"]["status"] != outcome["expected"]
    ]
    assert not wrong, wrong
    counts = events_by_session(chaos, queue_url, settle=15)
    for outcome in outcomes:
        session_id = outcome["session"]["id"]
        assert counts.get(session_id) == 1, (outcome["case"], counts.get(session_id))
    faults = requests.get(f"{chaos.api}/_devstack/faults", timeout=10).json()["counts"]
    provider_faults = sum(
        count for kinds in faults["providers"].values() for kind, count in kinds.items() if kind != "calls"
    )
    aws_faults = sum(
        count for codes in faults["aws"].values() for code, count in codes.items() if code != "calls"
    )
    assert provider_faults >= 20, faults  # the chaos really happened
    assert aws_faults >= 5, faults
