"""The local stack's SQS event sources: messages reach the function in Lambda's event shape, what succeeded is
deleted, and a failed message (the handler raised, or it is named in batchItemFailures) stays for SQS to offer
again."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from devstack.queues import QueuePoller, failed_ids, lambda_record
from devstack.template import DEFAULT_TEMPLATE, QueueSource, load_template


@pytest.fixture
def sqs(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield boto3.client("sqs")


def source(reports: bool = True) -> QueueSource:
    return QueueSource("Tries", "DeliveryFunction", "arn:aws:sqs:us-east-1:123456789012:tries", 1, reports)


def test_a_message_is_shaped_as_lambda_hands_it_over():
    record = lambda_record(
        {
            "MessageId": "m1",
            "ReceiptHandle": "r1",
            "Body": "{}",
            "Attributes": {"ApproximateReceiveCount": "1"},
        },
        "arn:aws:sqs:us-east-1:123456789012:tries",
    )
    assert record["messageId"] == "m1"
    assert record["body"] == "{}"
    assert record["eventSource"] == "aws:sqs"
    assert record["attributes"]["ApproximateReceiveCount"] == "1"


def test_batch_item_failures_name_the_messages_to_keep():
    batch = [{"MessageId": "a"}, {"MessageId": "b"}]
    assert failed_ids({"batchItemFailures": []}, batch) == set()
    assert failed_ids({"batchItemFailures": [{"itemIdentifier": "b"}]}, batch) == {"b"}
    assert failed_ids({"batchItemFailures": [{"itemIdentifier": "zzz"}]}, batch) == {"a", "b"}


def test_handled_messages_are_deleted_and_failed_ones_stay(sqs: Any):
    url = sqs.create_queue(QueueName="tries", Attributes={"VisibilityTimeout": "60"})["QueueUrl"]
    seen: list[str] = []

    def invoke(function: str, event: Any) -> Any:
        body = event["Records"][0]["body"]
        seen.append(body)
        if body == "fail":
            return {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
        return {"batchItemFailures": []}

    sqs.send_message(QueueUrl=url, MessageBody="ok")
    sqs.send_message(QueueUrl=url, MessageBody="fail")
    poller = QueuePoller(source(), sqs, invoke, pollers=1, wait=0).start()
    try:
        deadline = time.monotonic() + 5
        while len(seen) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        poller.stop()
    assert sorted(seen) == ["fail", "ok"]
    assert (poller.delivered, poller.failed) == (1, 1)
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "1"  # the failed one, offered again later
    assert attributes["ApproximateNumberOfMessages"] == "0"


def test_the_template_maps_the_delivery_queue_to_the_delivery_function_and_its_dead_letter_queue():
    template = load_template(DEFAULT_TEMPLATE)
    (queue_source,) = template.queue_sources().values()
    assert queue_source.function == "WebhookDeliveryFunction"
    assert queue_source.queue_arn == "arn:aws:sqs:us-east-1:123456789012:WebhookDeliveryQueue"
    assert (queue_source.batch_size, queue_source.reports_item_failures) == (1, True)
    queues = template.queues()
    assert set(queues) == {"WebhookDeliveryQueue", "WebhookDeadLetterQueue"}
    assert "WebhookDeadLetterQueue" in queues["WebhookDeliveryQueue"].attributes["RedrivePolicy"]
