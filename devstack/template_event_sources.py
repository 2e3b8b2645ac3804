"""The template's event source mappings, as the local stream and queue pollers run them.

Separate from devstack.template, which reads the other resources: a mapping's source (a DynamoDB stream or an
SQS queue) is told by its ARN, and both kinds share what a mapping says about its function, batches and
partial failures; devstack.streams and devstack.queues each take one kind.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from devstack.cfn import EVENT_SOURCE_MAPPING_TYPE, Resolver


@dataclass(frozen=True)
class StreamSource:
    """An event source mapping from a DynamoDB stream to a function (SAM's `Type: DynamoDB` event)."""

    logical_id: str
    function: str  # logical id
    stream_arn: str
    starting_position: str  # TRIM_HORIZON or LATEST
    batch_size: int
    batching_window_seconds: int
    reports_item_failures: bool
    #: The mapping's FilterCriteria patterns: a record goes to the function when one matches (none: all do).
    filters: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True)
class QueueSource:
    """An event source mapping from an SQS queue to a function (SAM's `Type: SQS` event)."""

    logical_id: str
    function: str  # logical id
    queue_arn: str
    batch_size: int
    reports_item_failures: bool


@dataclass(frozen=True)
class _Mapping:
    """One event source mapping's resolved properties, with its source's ARN."""

    logical_id: str
    properties: Mapping[str, Any]
    source_arn: str

    @property
    def from_queue(self) -> bool:
        return self.source_arn.startswith("arn:aws:sqs:")

    def function(self, r: Resolver) -> str:
        return r.function_for(self.properties["FunctionName"])

    def batch_size(self, default: int) -> int:
        return int(self.properties.get("BatchSize", default))

    @property
    def reports_item_failures(self) -> bool:
        return "ReportBatchItemFailures" in (self.properties.get("FunctionResponseTypes") or [])


def _mappings(r: Resolver) -> Iterator[_Mapping]:
    for lid in r.logical_ids(EVENT_SOURCE_MAPPING_TYPE):
        props = r.resolve(r.properties(lid))
        yield _Mapping(lid, props, str(props.get("EventSourceArn", "")))


def read_stream_sources(r: Resolver) -> dict[str, StreamSource]:
    """The mappings from DynamoDB streams; any source but a stream or a queue is refused."""
    result = {}
    for m in _mappings(r):
        if m.from_queue:
            continue  # read_queue_sources
        if ":dynamodb:" not in m.source_arn or "/stream/" not in m.source_arn:
            raise ValueError(f"{m.logical_id}: only DynamoDB stream sources are emulated")
        filters = (m.properties.get("FilterCriteria") or {}).get("Filters", [])
        result[m.logical_id] = StreamSource(
            logical_id=m.logical_id,
            function=m.function(r),
            stream_arn=m.source_arn,
            starting_position=str(m.properties.get("StartingPosition", "LATEST")),
            batch_size=m.batch_size(100),  # Lambda's default for a stream
            batching_window_seconds=int(m.properties.get("MaximumBatchingWindowInSeconds", 0)),
            reports_item_failures=m.reports_item_failures,
            filters=tuple(json.loads(f["Pattern"]) for f in filters),
        )
    return result


def read_queue_sources(r: Resolver) -> dict[str, QueueSource]:
    """The mappings from SQS queues (read_stream_sources refuses the sources neither reads)."""
    return {
        m.logical_id: QueueSource(
            logical_id=m.logical_id,
            function=m.function(r),
            queue_arn=m.source_arn,
            batch_size=m.batch_size(10),  # Lambda's default for a queue
            reports_item_failures=m.reports_item_failures,
        )
        for m in _mappings(r)
        if m.from_queue
    }
