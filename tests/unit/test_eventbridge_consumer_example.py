"""examples/eventbridge-consumer (README, Deploy): its rule matches what idgate's publisher puts, and only
that rule may send to its queues.

The rule and its target are made in moto from the example's own template, and the event is put by idgate's
own EventPublisher, so a change to either side that breaks the example fails here."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from moto import mock_aws

from devstack.cfn import CfnLoader
from devstack.template import load_template
from idgate.announced import announced_session
from idgate.domain import Result, Status
from idgate.notify import EventPublisher
from tests.support.sessions import open_session

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "eventbridge-consumer" / "template.yaml"
RULE = "SessionFinalizedRule"


def rule_properties(**parameters: str) -> dict[str, Any]:
    resolver = load_template(EXAMPLE).resolver(parameters=parameters)
    return {
        name: resolver.resolve(value)
        for name, value in resolver.properties(RULE).items()
        if name in ("EventPattern", "EventBusName")
    }


def final(status: Status) -> Any:
    session = open_session("jekimo", reference="order-1234")
    now = datetime.now(UTC)
    result = Result(decision=status, provider_status="OK", risk=False)
    return session.model_copy(update={"status": status, "result": result, "finalized_at": now})


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


def consumer(**parameters: str) -> str:
    """The example's rule and queue in moto; the queue's URL."""
    sqs = boto3.client("sqs", region_name="us-east-1")
    events = boto3.client("events", region_name="us-east-1")
    url = sqs.create_queue(QueueName="finalized")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    rule = rule_properties(**parameters)
    events.put_rule(
        Name=RULE, EventBusName=rule["EventBusName"], EventPattern=json.dumps(rule["EventPattern"])
    )
    events.put_targets(Rule=RULE, EventBusName=rule["EventBusName"], Targets=[{"Id": "queue", "Arn": arn}])
    return url


def received(url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", region_name="us-east-1")
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
        "Messages", []
    )
    return [json.loads(message["Body"]) for message in messages]


def publish(status: Status) -> None:
    # The bus idgate's functions publish to (template.yaml's EVENT_BUS_NAME).
    EventPublisher("default", client=boto3.client("events", region_name="us-east-1")).session_finalized(
        announced_session(final(status))
    )


@pytest.mark.usefixtures("aws")
def test_every_final_status_event_reaches_the_queue() -> None:
    # Given the example's rule, with its default parameters
    url = consumer()
    # When idgate's publisher announces one session of each final status
    for status in (Status.APPROVED, Status.DECLINED, Status.EXPIRED, Status.ERROR):
        publish(status)
    # Then each arrives, as idgate documents the event
    events = received(url)
    assert sorted(event["detail"]["status"] for event in events) == [
        "approved",
        "declined",
        "error",
        "expired",
    ]
    assert {(event["source"], event["detail-type"]) for event in events} == {("idgate", "Session Finalized")}
    assert {event["detail"]["reference"] for event in events} == {"order-1234"}


@pytest.mark.usefixtures("aws")
def test_the_statuses_parameter_narrows_what_arrives() -> None:
    url = consumer(Statuses="approved")
    publish(Status.DECLINED)
    publish(Status.APPROVED)
    assert [event["detail"]["status"] for event in received(url)] == ["approved"]


@pytest.mark.usefixtures("aws")
def test_another_source_does_not_reach_the_queue() -> None:
    url = consumer()
    events = boto3.client("events", region_name="us-east-1")
    detail = json.dumps({"id": "ses_x", "status": "approved"})
    events.put_events(Entries=[{"Source": "not-idgate", "DetailType": "Session Finalized", "Detail": detail}])
    assert received(url) == []


def test_only_the_rule_may_send_to_the_queues() -> None:
    document = yaml.load(EXAMPLE.read_text(), Loader=CfnLoader)  # noqa: S506 - CfnLoader is a SafeLoader
    resources = document["Resources"]
    policy = resources["FinalizedEventsQueuePolicy"]["Properties"]
    queues = {"FinalizedEventsQueue", "FinalizedEventsDeadLetterQueue"}
    # Both queues, and nothing else, are under the policy
    assert {queue["Ref"] for queue in policy["Queues"]} == queues
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    assert {arn["Fn::GetAtt"][0] for arn in statement["Resource"]} == queues
    assert statement["Condition"] == {
        "ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["SessionFinalizedRule", "Arn"]}}
    }
    # And the rule sends to the queue, and what it cannot deliver to the dead-letter queue
    (target,) = resources[RULE]["Properties"]["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["FinalizedEventsQueue", "Arn"]}
    assert target["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": ["FinalizedEventsDeadLetterQueue", "Arn"]}
    redrive = resources["FinalizedEventsQueue"]["Properties"]["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": ["FinalizedEventsDeadLetterQueue", "Arn"]}
