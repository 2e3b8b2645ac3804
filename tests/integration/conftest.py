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

from devstack.sandboxes.jekimo import JekimoSandbox
from devstack.sandboxes.okid import OkidSandbox
from devstack.stack import JEKIMO_API_KEY, JEKIMO_API_PATH, OKID_SDK_KEY, LocalStack, StackOptions
from tests.support.caches import reset_idgate_caches
from tests.support.counting import CountingProvider
from tests.support.http_server import serve_wsgi

TOKEN_TTL = 6
PIN_TTL = 3
OKID_TTL = 60
#: Another okID customer's key: its verifications are forbidden (403) to ours.
OTHER_OKID_KEY = "okid-another-customer"


@dataclass
class Integration:
    stack: LocalStack
    jekimo: CountingProvider
    okid: CountingProvider
    okid_sandbox: OkidSandbox
    queue_url: str

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

    def execution(self, session_id: str) -> dict[str, Any]:
        assert self.stack.provisioned is not None
        machine = next(iter(self.stack.provisioned.state_machines.values()))
        arn = machine.replace(":stateMachine:", ":execution:") + f":{session_id}"
        return self.client("stepfunctions").describe_execution(executionArn=arn)

    def wait_for_execution_end(self, session_id: str, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while (execution := self.execution(session_id))["status"] == "RUNNING":
            assert time.monotonic() < deadline, "the execution is still running"
            time.sleep(0.2)
        return execution

    def history(self, session_id: str) -> list[dict[str, Any]]:
        arn = self.execution(session_id)["executionArn"]
        return self.client("stepfunctions").get_execution_history(executionArn=arn, maxResults=1000)["events"]

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
        deadline = time.monotonic() + settle
        sqs = self.client("sqs")
        while time.monotonic() < deadline:
            messages = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            for message in messages.get("Messages", []):
                event = json.loads(message["Body"])
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
                self._seen.append(event)
            time.sleep(0.2)
        return [event for event in self._seen if event["detail"]["id"] == session_id]

    _seen: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture(scope="package")
def integration() -> Iterator[Integration]:
    holders: dict[str, Any] = {}

    def jekimo_app(environ: Any, start_response: Any) -> Any:
        return holders["jekimo"](environ, start_response)

    def okid_app(environ: Any, start_response: Any) -> Any:
        return holders["okid"](environ, start_response)

    with serve_wsgi(jekimo_app) as jekimo_url, serve_wsgi(okid_app) as okid_url:
        jekimo = CountingProvider(JekimoSandbox(JEKIMO_API_KEY, jekimo_url, token_ttl_seconds=TOKEN_TTL))
        okid_sandbox = OkidSandbox(
            OKID_SDK_KEY, okid_url, verification_ttl_seconds=OKID_TTL, extra_sdk_keys=[OTHER_OKID_KEY]
        )
        okid = CountingProvider(okid_sandbox)
        holders.update(jekimo=jekimo, okid=okid)
        reset_idgate_caches()
        options = StackOptions(
            port=0,
            aws_port=0,
            jekimo_port=0,
            okid_port=0,
            poll_interval=1,
            jekimo_token_ttl=TOKEN_TTL,
            pin_ttl=PIN_TTL,
            print_mail=False,
            web_root=None,
            environment={"JEKIMO_BASE_URL": jekimo_url + JEKIMO_API_PATH, "OKID_PORTAL_URL": okid_url},
        )
        with LocalStack(options) as stack:
            assert stack.aws is not None
            assert stack.urls is not None
            sqs, events = stack.aws.client("sqs"), stack.aws.client("events")
            queue_url = sqs.create_queue(QueueName="final-events")["QueueUrl"]
            queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
                "Attributes"
            ]["QueueArn"]
            events.put_rule(Name="idgate-final", EventPattern=json.dumps({"source": ["idgate"]}))
            events.put_targets(Rule="idgate-final", Targets=[{"Id": "queue", "Arn": queue_arn}])
            # The sandbox we count stands where the stack's own would, so it gets the same webhook URL.
            okid_sandbox.webhook_url = f"{stack.urls.api}/v1/webhooks/okid/{stack.webhook_token('okid')}"
            ready = Integration(stack, jekimo, okid, okid_sandbox, queue_url)
            yield ready
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
