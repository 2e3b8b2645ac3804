"""SQS event sources run as Lambda runs them: moto keeps the queue, but nothing in moto receives from it to
invoke a function, so the local stack does.

A few pollers per event source mapping (Lambda polls a queue with several at once, and invokes as many
functions) receive batches, invoke the function with them in Lambda's event shape, and delete what succeeded.
A message of a failed invocation (the handler raised), or one the answer names in `batchItemFailures` when the
mapping reports them, is left in the queue: it comes back after its visibility timeout, and goes to the
queue's dead-letter queue after its redrive policy's receives, as on AWS. Delays are the queue's own (moto
honours them).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from devstack.cfn import LOCAL_REGION
from devstack.template import QueueSource

log = logging.getLogger("devstack.queues")

Invoke = Callable[[str, Any], Any]
POLLERS_PER_SOURCE = 4


def lambda_record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    """A message of boto3's ReceiveMessage answer as Lambda hands it to a function."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes") or {}),
        "messageAttributes": dict(message.get("MessageAttributes") or {}),
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": LOCAL_REGION,
    }


def failed_ids(result: Any, batch: list[dict[str, Any]]) -> set[str]:
    """The messages of a batch to leave in the queue after a partial failure. An identifier that names no
    message of the batch fails the whole batch, as Lambda does."""
    failures = result.get("batchItemFailures") if isinstance(result, dict) else None
    if not failures:
        return set()
    ids = {message["MessageId"] for message in batch}
    named = {f.get("itemIdentifier") if isinstance(f, dict) else None for f in failures}
    return ids if not named <= ids else {str(n) for n in named}


class QueuePoller:
    """Delivers one queue to one function, from a few background threads."""

    def __init__(
        self,
        source: QueueSource,
        sqs: Any,
        invoke: Invoke,
        *,
        pollers: int = POLLERS_PER_SOURCE,
        wait: int = 1,
    ) -> None:
        self.source = source
        self._sqs = sqs  # a boto3 SQS client of the local endpoint
        self._invoke = invoke
        self._wait = wait
        self._stop = threading.Event()
        self._url = sqs.get_queue_url(QueueName=source.queue_arn.rsplit(":", 1)[1])["QueueUrl"]
        self._threads = [
            threading.Thread(target=self._run, name=f"queue-{source.logical_id}-{n}", daemon=True)
            for n in range(pollers)
        ]
        self._lock = threading.Lock()
        self.delivered = 0  # messages handled and deleted
        self.failed = 0  # messages left in the queue after a failure

    def start(self) -> QueuePoller:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=self._wait + 5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                answer = self._sqs.receive_message(
                    QueueUrl=self._url,
                    MaxNumberOfMessages=min(10, self.source.batch_size),
                    WaitTimeSeconds=self._wait,
                    AttributeNames=["All"],
                )
                batch = list(answer.get("Messages", []))
                if batch:
                    self._deliver(batch)
            except Exception:  # the local endpoint stopping, mostly: keep the thread alive, quietly
                if not self._stop.is_set():
                    log.debug("queue poll failed", exc_info=True)
                self._stop.wait(0.2)

    def _deliver(self, batch: list[dict[str, Any]]) -> None:
        event = {"Records": [lambda_record(message, self.source.queue_arn) for message in batch]}
        try:
            result = self._invoke(self.source.function, event)
            failed = failed_ids(result, batch) if self.source.reports_item_failures else set()
        except Exception as exc:
            log.warning(
                "%s failed on a queue batch (%s); SQS offers it again",
                self.source.function,
                type(exc).__name__,
            )
            failed = {message["MessageId"] for message in batch}
        done = [m for m in batch if m["MessageId"] not in failed]
        if done:
            self._sqs.delete_message_batch(
                QueueUrl=self._url,
                Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(done)],
            )
        with self._lock:
            self.delivered += len(done)
            self.failed += len(failed)
