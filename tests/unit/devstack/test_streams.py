"""The local stack's DynamoDB stream event sources: records reach the function in Lambda's shape, in
order, and a failed batch is retried from its first failed record until it succeeds."""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from devstack.aws import LocalAws
from devstack.streams import StreamPoller, failed_from, lambda_record, matches
from devstack.template import DEFAULT_TEMPLATE, StreamSource, load_template


@pytest.fixture
def stream(local_aws: LocalAws) -> tuple[Any, str]:
    dynamodb = local_aws.client("dynamodb")
    created = dynamodb.create_table(
        TableName="changes",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )
    return dynamodb, created["TableDescription"]["LatestStreamArn"]


def poller(
    local_aws: LocalAws,
    arn: str,
    handler: Callable[[str, Any], Any],
    *,
    reports: bool = True,
    filters: tuple[dict[str, Any], ...] = (),
) -> StreamPoller:
    source = StreamSource("Mapping", "Fn", arn, "TRIM_HORIZON", 2, 0, reports, filters)
    return StreamPoller(
        source, local_aws.client("dynamodbstreams"), handler, idle_seconds=0.02, backoff_seconds=(0.02, 0.1)
    ).start()


def eventually(check: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_records_reach_the_function_in_order_in_lambdas_shape(local_aws: LocalAws, stream):
    dynamodb, arn = stream
    seen: list[dict[str, Any]] = []
    running = poller(local_aws, arn, lambda _name, event: seen.extend(event["Records"]) or None)
    try:
        for number in range(5):
            dynamodb.put_item(TableName="changes", Item={"pk": {"S": f"k{number}"}, "b": {"B": b"\x00\x01"}})
        eventually(lambda: len(seen) == 5)
    finally:
        running.stop()
    assert [record["dynamodb"]["Keys"]["pk"]["S"] for record in seen] == [f"k{n}" for n in range(5)]
    first = seen[0]
    assert first["eventName"] == "INSERT"
    assert first["eventSource"] == "aws:dynamodb"
    assert first["eventSourceARN"] == arn
    assert isinstance(first["dynamodb"]["ApproximateCreationDateTime"], int)
    assert first["dynamodb"]["NewImage"]["b"] == {"B": base64.b64encode(b"\x00\x01").decode()}


def test_a_failed_batch_is_retried_from_its_first_failed_record_and_holds_the_rest(
    local_aws: LocalAws, stream
):
    dynamodb, arn = stream
    delivered: list[str] = []
    failures = {"k1": 3}  # k1 fails three times, then succeeds
    lock = threading.Lock()

    def handler(_name: str, event: dict[str, Any]) -> dict[str, Any]:
        with lock:
            for record in event["Records"]:
                key = record["dynamodb"]["Keys"]["pk"]["S"]
                if failures.get(key):
                    failures[key] -= 1
                    return {"batchItemFailures": [{"itemIdentifier": record["dynamodb"]["SequenceNumber"]}]}
                delivered.append(key)
        return {"batchItemFailures": []}

    running = poller(local_aws, arn, handler)
    try:
        for number in range(4):
            dynamodb.put_item(TableName="changes", Item={"pk": {"S": f"k{number}"}})
        eventually(lambda: len(delivered) == 4)
    finally:
        running.stop()
    assert delivered == ["k0", "k1", "k2", "k3"]  # once each, in order, k2 held until k1 went through
    assert running.retries == 3


def test_a_handler_that_raises_gets_its_whole_batch_again(local_aws: LocalAws, stream):
    dynamodb, arn = stream
    calls: list[list[str]] = []

    def handler(_name: str, event: dict[str, Any]) -> None:
        calls.append([record["dynamodb"]["Keys"]["pk"]["S"] for record in event["Records"]])
        if len(calls) == 1:
            raise RuntimeError("the function failed")

    running = poller(local_aws, arn, handler, reports=False)
    try:
        dynamodb.put_item(TableName="changes", Item={"pk": {"S": "only"}})
        eventually(lambda: len(calls) == 2)
    finally:
        running.stop()
    assert calls == [["only"], ["only"]]


def test_an_unknown_item_identifier_fails_the_whole_batch():
    batch = [{"dynamodb": {"SequenceNumber": "1"}}, {"dynamodb": {"SequenceNumber": "2"}}]
    assert failed_from({"batchItemFailures": []}, batch) is None
    assert failed_from(None, batch) is None
    assert failed_from({"batchItemFailures": [{"itemIdentifier": "2"}]}, batch) == 1
    assert failed_from({"batchItemFailures": [{"itemIdentifier": "9"}]}, batch) == 0


def test_lambda_records_carry_binary_sets_and_nested_binaries_as_base64():
    record = {
        "eventName": "MODIFY",
        "dynamodb": {"NewImage": {"s": {"BS": [b"a"]}, "m": {"M": {"b": {"B": b"c"}}}}},
    }
    shaped = lambda_record(record, "arn:stream")
    assert shaped["dynamodb"]["NewImage"] == {"s": {"BS": ["YQ=="]}, "m": {"M": {"b": {"B": "Yw=="}}}}


def test_records_no_filter_matches_never_reach_the_function(local_aws: LocalAws, stream):
    # Given a mapping that takes `ses_` items past `pending` only (as the webhook fan-out's)
    dynamodb, arn = stream
    seen: list[str] = []
    pattern = {
        "dynamodb": {
            "NewImage": {"pk": {"S": [{"prefix": "ses_"}]}, "status": {"S": [{"anything-but": ["pending"]}]}}
        }
    }

    def handler(_name: str, event: Any) -> Any:
        seen.extend(record["dynamodb"]["Keys"]["pk"]["S"] for record in event["Records"])

    running = poller(local_aws, arn, handler, filters=(pattern,))
    try:
        for pk, status in [
            ("ses_1", "pending"),
            ("token#x", "review"),
            ("ses_2", "review"),
            ("ses_3", None),
            ("ses_4", "approved"),
        ]:
            item = {"pk": {"S": pk}, **({"status": {"S": status}} if status else {})}
            dynamodb.put_item(TableName="changes", Item=item)
        eventually(lambda: running.delivered + running.filtered == 5)
    finally:
        running.stop()
    # Then only the matching ones were handed over, in order
    assert seen == ["ses_2", "ses_4"]
    assert running.filtered == 3


def test_a_filter_pattern_reads_as_lambdas_event_filtering():
    record = {"dynamodb": {"NewImage": {"pk": {"S": "ses_1"}, "status": {"S": "review"}}}}
    assert matches({"dynamodb": {"NewImage": {"status": {"S": ["review", "approved"]}}}}, record)
    assert not matches({"dynamodb": {"NewImage": {"status": {"S": ["approved"]}}}}, record)
    assert matches({"dynamodb": {"NewImage": {"gone": [{"exists": False}]}}}, record)
    assert not matches({"dynamodb": {"NewImage": {"gone": [{"anything-but": ["x"]}]}}}, record)
    assert not matches({"dynamodb": {"OldImage": {"pk": {"S": [{"prefix": "ses_"}]}}}}, record)
    assert matches({"dynamodb": {"NewImage": {"pk": {"S": [{"anything-but": "token#x"}]}}}}, record)


def test_the_template_maps_the_sessions_stream_to_the_publisher_and_the_webhook_fan_out():
    template = load_template(DEFAULT_TEMPLATE)
    sources = template.stream_sources().values()
    assert sorted(source.function for source in sources) == ["PublisherFunction", "WebhookFanoutFunction"]
    for source in sources:
        assert source.stream_arn.startswith(
            "arn:aws:dynamodb:us-east-1:123456789012:table/SessionsTable/stream/"
        )
        assert (source.starting_position, source.reports_item_failures) == ("TRIM_HORIZON", True)
    [fanout] = [source for source in sources if source.function == "WebhookFanoutFunction"]
    [pattern] = fanout.filters
    assert matches(pattern, {"dynamodb": {"NewImage": {"pk": {"S": "ses_x"}, "status": {"S": "review"}}}})
    assert not matches(
        pattern, {"dynamodb": {"NewImage": {"pk": {"S": "ses_x"}, "status": {"S": "pending"}}}}
    )
