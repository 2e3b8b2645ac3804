"""Partial batch responses (idgate.batches), held to what Powertools' batch utility answered for the same
batches before the stream and queue functions stopped importing it: the same failures reported, the same
whole-batch failure, every record handled."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from idgate.batches import BatchFailed, is_true, plain_image, queue_batch, stream_batch, text_of


def stream_record(number: int, image: dict[str, Any] | None) -> dict[str, Any]:
    change: dict[str, Any] = {"Keys": {"pk": {"S": f"k{number}"}}, "SequenceNumber": f"1000{number}"}
    if image is not None:
        change["NewImage"] = image
    return {"eventName": "MODIFY", "eventSource": "aws:dynamodb", "dynamodb": change}


def message(number: int) -> dict[str, Any]:
    return {"messageId": f"m-{number}", "body": f"body {number}", "eventSource": "aws:sqs"}


def failing_on(bad: set[str], seen: list[str]) -> Callable[[str], None]:
    def handle(name: str) -> None:
        seen.append(name)
        if name in bad:
            raise RuntimeError(f"{name} failed")

    return handle


def stream_event(count: int) -> dict[str, Any]:
    # The 0th record has no new image (a deletion), as the stream sends it.
    return {"Records": [stream_record(n, {"pk": {"S": f"k{n}"}} if n else None) for n in range(count)]}


@pytest.mark.parametrize("bad", [set(), {"k1"}, {"k0", "k2"}, {"k0", "k1", "k2"}], ids=str)
def test_a_stream_batch_reports_what_powertools_reported(bad):
    event = stream_event(3)
    ours: list[str] = []
    theirs: list[str] = []
    handle_ours = failing_on(bad, ours)
    handle_theirs = failing_on(bad, theirs)

    def powertools_record(record: DynamoDBRecord) -> None:
        image = record.dynamodb.new_image if record.dynamodb else {}
        handle_theirs(image.get("pk") or "k0")

    def our_record(image: dict[str, Any]) -> None:
        handle_ours(text_of(image, "pk") or "k0")

    processor = BatchProcessor(event_type=EventType.DynamoDBStreams)
    if bad == {"k0", "k1", "k2"}:
        with pytest.raises(BatchProcessingError):
            process_partial_response(event=event, record_handler=powertools_record, processor=processor)
        with pytest.raises(BatchFailed) as failed:
            stream_batch(event, our_record)
        assert [str(exc) for exc in failed.value.exceptions] == ["k0 failed", "k1 failed", "k2 failed"]
    else:
        expected = process_partial_response(
            event=event, record_handler=powertools_record, processor=processor
        )
        assert stream_batch(event, our_record) == expected
    assert ours == theirs == ["k0", "k1", "k2"]  # every record is handled, in order, whatever failed


@pytest.mark.parametrize("bad", [set(), {"body 0"}, {"body 0", "body 1"}], ids=str)
def test_a_queue_batch_reports_what_powertools_reported(bad):
    event = {"Records": [message(0), message(1)]}
    ours: list[str] = []
    theirs: list[str] = []
    handle_ours = failing_on(bad, ours)
    handle_theirs = failing_on(bad, theirs)

    def powertools_record(record: SQSRecord) -> None:
        handle_theirs(record.body)

    processor = BatchProcessor(event_type=EventType.SQS)
    if len(bad) == 2:
        with pytest.raises(BatchProcessingError):
            process_partial_response(event=event, record_handler=powertools_record, processor=processor)
        with pytest.raises(BatchFailed):
            queue_batch(event, handle_ours)
    else:
        expected = process_partial_response(
            event=event, record_handler=powertools_record, processor=processor
        )
        assert queue_batch(event, handle_ours) == expected
    assert ours == theirs == ["body 0", "body 1"]


def test_an_empty_batch_reports_nothing():
    assert stream_batch({"Records": []}, lambda image: None) == {"batchItemFailures": []}


def test_an_images_attributes_are_read_as_powertools_deserialized_them():
    image = {
        "pk": {"S": "ses_x"},
        "event_published": {"BOOL": True},
        "redaction_published": {"BOOL": False},
        "count": {"N": "3"},
        "ratio": {"N": "0.5"},
        "none": {"NULL": True},
        "tags": {"L": [{"S": "a"}, {"M": {"b": {"N": "1"}}}]},
    }
    record = DynamoDBRecord(stream_record(1, image))
    assert record.dynamodb is not None
    assert plain_image(image) == record.dynamodb.new_image
    assert text_of(image, "pk") == "ses_x"
    assert text_of(image, "count") is None
    assert text_of(image, "missing") is None
    assert is_true(image, "event_published")
    assert not is_true(image, "redaction_published")
    assert not is_true(image, "missing")
