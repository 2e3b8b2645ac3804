"""Integration tests: the real template provisioned in moto (server mode, in this process), the real
state machine executed by moto's Step Functions engine, calling the real poll handler; providers are
the sandboxes, behind counters."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests

from devstack.sandboxes import SANDBOXES
from devstack.sandboxes.faceki import FacekiSandbox
from devstack.sandboxes.okid import OkidSandbox
from devstack.stack import LocalStack, StackOptions
from tests.support.caches import reset_idgate_caches
from tests.support.counting import CountingProvider

TOKEN_TTL = 6
PIN_TTL = 6
OKID_TTL = 60
DATAKEEN_TTL = 60
#: Another okID customer's key: its verifications are forbidden (403) to ours.
OTHER_OKID_KEY = "okid-another-customer"


@dataclass
class Integration:
    stack: LocalStack
    counters: dict[str, CountingProvider]
    queue_url: str

    @property
    def jekimo(self) -> CountingProvider:
        return self.counters["jekimo"]

    @property
    def okid(self) -> CountingProvider:
        return self.counters["okid"]

    @property
    def datakeen(self) -> CountingProvider:
        return self.counters["datakeen"]

    @property
    def faceki(self) -> CountingProvider:
        return self.counters["faceki"]

    @property
    def faceki_sandbox(self) -> FacekiSandbox:
        sandbox = self.stack.sandboxes["faceki"]
        assert isinstance(sandbox, FacekiSandbox)
        return sandbox

    @property
    def okid_sandbox(self) -> OkidSandbox:
        sandbox = self.stack.sandboxes["okid"]
        assert isinstance(sandbox, OkidSandbox)
        return sandbox

    @property
    def api(self) -> str:
        assert self.stack.urls is not None
        return self.stack.urls.api

    def client(self, service: str) -> Any:
        assert self.stack.aws is not None
        return self.stack.aws.client(service)

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        answer = requests.post(
            f"{self.api}/v1/sessions", json=body, headers={"Authorization": "Bearer sk_local_dev"}, timeout=10
        )
        assert answer.status_code == 201, answer.text
        return answer.json()

    def session(self, session_id: str) -> dict[str, Any]:
        answer = requests.get(
            f"{self.api}/v1/sessions/{session_id}",
            headers={"Authorization": "Bearer sk_local_dev"},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        return answer.json()

    def wait_for(self, session_id: str, *statuses: str, timeout: float = 20) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while (session := self.session(session_id))["status"] not in statuses:
            assert time.monotonic() < deadline, f"still {session['status']}"
            time.sleep(0.2)
        return session

    def executions(self, session_id: str) -> list[dict[str, Any]]:
        """The session's executions, oldest first: its fast phase (Express), then its long phase's
        (Standard). The local Step Functions lists and keeps Express executions, which AWS does not."""
        assert self.stack.provisioned is not None
        sfn = self.client("stepfunctions")
        found = [
            execution
            for machine in self.stack.provisioned.state_machines.values()
            for execution in sfn.list_executions(stateMachineArn=machine)["executions"]
            if execution["name"] == session_id or execution["name"].startswith(f"{session_id}.")
        ]
        return sorted(found, key=lambda execution: execution["startDate"])

    def execution(self, session_id: str) -> dict[str, Any]:
        """The session's latest execution."""
        executions = self.executions(session_id)
        assert executions, f"no execution follows {session_id}"
        return self.client("stepfunctions").describe_execution(executionArn=executions[-1]["executionArn"])

    def phases(self, session_id: str) -> list[str]:
        """The types (EXPRESS, STANDARD) of the state machines that followed the session, in order."""
        assert self.stack.provisioned is not None
        sfn = self.client("stepfunctions")
        return [
            sfn.describe_state_machine(stateMachineArn=execution["stateMachineArn"])["type"]
            for execution in self.executions(session_id)
        ]

    def wait_for_execution_end(self, session_id: str, timeout: float = 30) -> dict[str, Any]:
        """Waits until every execution of the session has ended (a hand-off starts the next one before
        the fast phase's ends), and answers the latest."""
        deadline = time.monotonic() + timeout
        while any(execution["status"] == "RUNNING" for execution in self.executions(session_id)):
            assert time.monotonic() < deadline, "an execution is still running"
            time.sleep(0.2)
        return self.execution(session_id)

    def history(self, session_id: str) -> list[dict[str, Any]]:
        """The events of every execution of the session, oldest execution first."""
        sfn = self.client("stepfunctions")
        return [
            event
            for execution in self.executions(session_id)
            for event in sfn.get_execution_history(executionArn=execution["executionArn"], maxResults=1000)[
                "events"
            ]
        ]

    def waits(self, session_id: str) -> list[int]:
        """The wait_seconds of every Wait state the execution entered, in order."""
        return [
            json.loads(event["stateEnteredEventDetails"]["input"])["wait_seconds"]
            for event in self.history(session_id)
            if event["type"] == "WaitStateEntered"
        ]

    def checks(self, session_id: str) -> int:
        """How many Check steps (poll function invocations that returned) the execution made."""
        return sum(
            1
            for event in self.history(session_id)
            if event["type"] == "TaskStateExited" and event["stateExitedEventDetails"]["name"] == "Check"
        )

    def final_events(self, session_id: str, settle: float = 1.5) -> list[dict[str, Any]]:
        """Every final-status event published for the session (read from an SQS queue the rule feeds)."""
        return self.events(session_id, "Session Finalized", settle)

    def events(self, session_id: str, detail_type: str, settle: float = 1.5) -> list[dict[str, Any]]:
        """Every idgate event of `detail_type` published for the session."""
        deadline = time.monotonic() + settle
        sqs = self.client("sqs")
        while time.monotonic() < deadline:
            messages = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            for message in messages.get("Messages", []):
                event = json.loads(message["Body"])
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
                self._seen.append(event)
            time.sleep(0.2)
        return [
            event
            for event in self._seen
            if event["detail"]["id"] == session_id and event["detail-type"] == detail_type
        ]

    _seen: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture(scope="package")
def integration() -> Iterator[Integration]:
    counters: dict[str, CountingProvider] = {}

    def counted(name: str, app: Any) -> CountingProvider:
        if isinstance(app, OkidSandbox):
            app.add_sdk_key(OTHER_OKID_KEY)  # another okID customer, whose verifications are not ours
        counters[name] = CountingProvider(app)
        return counters[name]

    reset_idgate_caches()
    options = StackOptions(
        port=0,
        aws_port=0,
        sandbox_ports={sandbox.name: 0 for sandbox in SANDBOXES},
        sandbox_arguments={
            "jekimo_token_ttl": TOKEN_TTL,
            "okid_verification_ttl": OKID_TTL,
            "datakeen_session_ttl": DATAKEEN_TTL,
        },
        sandbox_wrapper=counted,
        poll_interval=1,
        pin_ttl=PIN_TTL,
        # Webhook retries at a hundredth of the schedule: 0.05 s, 3 s, 18 s... (test_webhooks.py)
        delivery_backoff_scale=0.01,
        print_mail=False,
        web_root=None,
    )
    with LocalStack(options) as stack:
        assert stack.aws is not None
        sqs, events = stack.aws.client("sqs"), stack.aws.client("events")
        queue_url = sqs.create_queue(QueueName="final-events")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        events.put_rule(Name="idgate-final", EventPattern=json.dumps({"source": ["idgate"]}))
        events.put_targets(Rule="idgate-final", Targets=[{"Id": "queue", "Arn": queue_arn}])
        yield Integration(stack, counters, queue_url)
    reset_idgate_caches()


def act(url: str, outcome: dict[str, Any]) -> dict[str, Any]:
    answer = requests.post(url, json=outcome, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()


def eventually(check: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)
