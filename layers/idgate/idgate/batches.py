"""Partial batch responses of the functions a stream or a queue invokes (functions/publisher, fanout and
delivery, whose event source mappings report batch item failures): each record handled in turn, each
failure reported by its item identifier, so that Lambda retries only those (on a stream, with the records
after them in their shard).

Why not Powertools' batch utility (`process_partial_response`), the library made for this: importing it
imports every event source's data class and asyncio, 18 to 20 ms, about 0.10 of the floor of these
functions' cold starts (README, "cold starts"), for what is a loop here. What it did is kept: every record
is handled whatever failed before it; a failure is reported as `{"itemIdentifier": ...}`, a stream record's
sequence number or a message's id; a batch whose every record failed raises, so that Lambda retries it whole.
A DynamoDB image is handed over as the stream types it (`{"S": ...}`): the handlers read a few attributes
of it, and only what is a session needs more (`plain_image`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypedDict

from aws_lambda_powertools import Logger

logger = Logger(service="idgate", child=True)

#: A DynamoDB image as a stream record holds it: each attribute typed (`{"S": "ses_..."}`, `{"BOOL": true}`).
Image = Mapping[str, Any]


class ItemFailure(TypedDict):
    itemIdentifier: str


class PartialResponse(TypedDict):
    batchItemFailures: list[ItemFailure]


class BatchFailed(ExceptionGroup[Exception]):
    """Every record of a batch failed: Lambda retries the batch whole. Each record's exception is in it."""


def stream_batch(event: Mapping[str, Any], handle: Callable[[Image], None]) -> PartialResponse:
    """A DynamoDB stream's batch: `handle` is given each record's new image (empty when it has none, as a
    deletion's record)."""
    return _batch(
        event["Records"],
        lambda record: handle(record.get("dynamodb", {}).get("NewImage") or {}),
        lambda record: str(record["dynamodb"]["SequenceNumber"]),
    )


def queue_batch(event: Mapping[str, Any], handle: Callable[[str], None]) -> PartialResponse:
    """An SQS batch: `handle` is given each message's body."""
    return _batch(
        event["Records"], lambda record: handle(record["body"]), lambda record: str(record["messageId"])
    )


def text_of(image: Image, name: str) -> str | None:
    """The attribute `name` of `image` if it is a string, else None."""
    value = image.get(name, {}).get("S")
    return value if isinstance(value, str) else None


def is_true(image: Image, name: str) -> bool:
    """Whether the attribute `name` of `image` is the boolean true."""
    return image.get(name) == {"BOOL": True}


def plain_image(image: Image) -> dict[str, Any]:
    """`image` as Python values, as idgate.store reads an item (numbers as Decimal): for a session's image
    only, since boto3's deserializer refuses the binary attributes of the table's other items as a stream
    gives them (base64 text)."""
    from idgate.dynamo import AttributeValues  # boto3's: with the first session, not at the handler's import

    return AttributeValues().plain(image)


def _batch(
    records: list[Mapping[str, Any]],
    handle: Callable[[Mapping[str, Any]], None],
    identifier: Callable[[Mapping[str, Any]], str],
) -> PartialResponse:
    failures: list[ItemFailure] = []
    errors: list[Exception] = []
    for record in records:
        try:
            handle(record)
        except Exception as exc:
            # Any failure is the record's, reported for its retry; logged at debug, as Powertools' was.
            logger.debug("record processing failed; reported for retry", exc_info=True)
            failures.append({"itemIdentifier": identifier(record)})
            errors.append(exc)
    if errors and len(errors) == len(records):
        raise BatchFailed(f"All records failed processing ({len(errors)})", errors)
    return {"batchItemFailures": failures}
