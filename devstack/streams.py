"""DynamoDB stream event sources run as Lambda runs them: moto keeps a table's stream, but nothing in moto
reads it to invoke a function, so the local stack does.

One poller per event source mapping reads every shard of the stream from its starting position and
invokes the function with batches of records in Lambda's event shape (binary attributes base64, times
in epoch seconds). As Lambda does for a stream source with unlimited retries, a shard's records are
delivered in order: a batch whose invocation fails (the handler raises, or answers
`batchItemFailures` when the mapping reports them) is retried from its first failed record, with a
backoff, until it succeeds, and nothing after it in the shard is delivered meanwhile. Locally a batch
leaves as soon as records are there (no batching window), so the tests see events at once.
"""

from __future__ import annotations

import base64
import logging
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from devstack.template import StreamSource

log = logging.getLogger("devstack.streams")

Invoke = Callable[[str, Any], Any]


def lambda_record(record: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """A record of boto3's GetRecords answer as Lambda hands it to a function."""
    change = dict(record["dynamodb"])
    created = change.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        change["ApproximateCreationDateTime"] = int(created.timestamp())
    for image in ("Keys", "NewImage", "OldImage"):
        if image in change:
            change[image] = {name: _wire(value) for name, value in change[image].items()}
    return {**record, "dynamodb": change, "eventSourceARN": stream_arn}


def _wire(value: Any) -> Any:
    """An attribute value as JSON carries it: bytes (B, BS) as base64 text, nested values alike."""
    if isinstance(value, dict):
        return {key: _wire(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_wire(item) for item in value]
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    return value


def matches(pattern: Mapping[str, Any], event: Any) -> bool:
    """Whether a record matches an event filter pattern, as Lambda's event filtering reads it: nested objects,
    and lists of accepted values, among them `{"prefix": ...}`, `{"anything-but": [...]}` and
    `{"exists": bool}`. A field the record lacks matches only `{"exists": false}`."""
    if not isinstance(event, dict):
        return False
    for key, wanted in pattern.items():
        present = key in event
        value = event.get(key)
        if isinstance(wanted, dict):
            if not present or not matches(wanted, value):
                return False
        elif not any(_accepts(rule, present, value) for rule in wanted):
            return False
    return True


def _accepts(rule: Any, present: bool, value: Any) -> bool:
    if isinstance(rule, dict) and "exists" in rule:
        return bool(rule["exists"]) == present
    if not present:
        return False
    if isinstance(rule, dict) and "prefix" in rule:
        return isinstance(value, str) and value.startswith(rule["prefix"])
    if isinstance(rule, dict) and "anything-but" in rule:
        refused = rule["anything-but"]
        return value not in (refused if isinstance(refused, list) else [refused])
    return bool(value == rule)


def failed_from(result: Any, batch: list[dict[str, Any]]) -> int | None:
    """Where to resume a batch from after a partial failure (None: it all succeeded). An item identifier
    that names no record of the batch fails the whole batch, as Lambda does."""
    failures = result.get("batchItemFailures") if isinstance(result, dict) else None
    if not failures:
        return None
    sequence = [record["dynamodb"]["SequenceNumber"] for record in batch]
    positions = []
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if identifier not in sequence:
            return 0
        positions.append(sequence.index(identifier))
    return min(positions)


class StreamPoller:
    """Delivers one DynamoDB stream to one function, in a background thread."""

    def __init__(
        self,
        source: StreamSource,
        streams: Any,
        invoke: Invoke,
        *,
        idle_seconds: float = 0.1,
        backoff_seconds: tuple[float, float] = (0.2, 2.0),
    ) -> None:
        self.source = source
        self._streams = streams  # a boto3 dynamodbstreams client of the local endpoint
        self._invoke = invoke
        self._idle = idle_seconds
        self._backoff = backoff_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"stream-{source.logical_id}", daemon=True)
        self.delivered = 0  # records handed to the function and not failed
        self.retries = 0  # batches retried after a failure
        self.filtered = 0  # records no filter matched, never handed to the function

    def start(self) -> StreamPoller:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        iterators: dict[str, str | None] = {}
        pending: dict[str, list[dict[str, Any]]] = {}
        pause = self._backoff[0]
        while not self._stop.is_set():
            try:
                self._discover(iterators, pending)
                busy = False
                for shard, iterator in list(iterators.items()):
                    if not pending[shard] and iterator is not None:
                        answer = self._streams.get_records(
                            ShardIterator=iterator, Limit=self.source.batch_size
                        )
                        pending[shard] = list(answer.get("Records", []))
                        iterators[shard] = answer.get("NextShardIterator")
                    if not pending[shard]:
                        continue
                    busy = True
                    if self._deliver(pending, shard):
                        pause = self._backoff[0]
                    else:
                        self._stop.wait(pause)
                        pause = min(pause * 2, self._backoff[1])
                if not busy:
                    self._stop.wait(self._idle)
            except Exception:  # the local endpoint stopping, mostly: keep the thread alive, quietly
                if not self._stop.is_set():
                    log.debug("stream poll failed", exc_info=True)
                self._stop.wait(self._idle)

    def _discover(self, iterators: dict[str, str | None], pending: dict[str, list[dict[str, Any]]]) -> None:
        arn = self.source.stream_arn
        for shard in self._streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
            shard_id = shard["ShardId"]
            if shard_id not in iterators:
                iterators[shard_id] = self._streams.get_shard_iterator(
                    StreamArn=arn, ShardId=shard_id, ShardIteratorType=self.source.starting_position
                )["ShardIterator"]
                pending[shard_id] = []

    def _deliver(self, pending: dict[str, list[dict[str, Any]]], shard: str) -> bool:
        """Invokes the function with the shard's next batch; False when (part of) it must be retried. Records
        no filter of the mapping matches are passed over, as Lambda does (never invoked, never retried)."""
        batch = pending[shard][: self.source.batch_size]
        shaped = [lambda_record(record, self.source.stream_arn) for record in batch]
        if self.source.filters:
            kept = [any(matches(p, s) for p in self.source.filters) for s in shaped]
            batch = [record for record, keep in zip(batch, kept, strict=True) if keep]
            shaped = [record for record, keep in zip(shaped, kept, strict=True) if keep]
            skipped = len(kept) - len(batch)
            pending[shard] = [
                r for r, keep in zip(pending[shard][: len(kept)], kept, strict=True) if keep
            ] + (pending[shard][len(kept) :])
            self.filtered += skipped
            if not batch:
                return True
        event = {"Records": shaped}
        try:
            result = self._invoke(self.source.function, event)
            resume = failed_from(result, batch) if self.source.reports_item_failures else None
        except Exception as exc:
            log.warning(
                "%s failed on a stream batch (%s); retrying it", self.source.function, type(exc).__name__
            )
            resume = 0
        if resume is None:
            pending[shard] = pending[shard][len(batch) :]
            self.delivered += len(batch)
            return True
        self.delivered += resume
        self.retries += 1
        pending[shard] = pending[shard][resume:]
        return False
