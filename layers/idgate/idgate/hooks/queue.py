"""The delivery queue (SQS): a try is a message, delayed until it is due. SQS delays a message by 15 minutes
at most, so a try due later is sent with the longest delay and sent on again when it arrives early
(idgate.hooks.delivery): no function ever waits. A series whose tries are all used goes to the dead-letter
queue."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from typing import Any

from idgate.hooks.model import Attempt

MAX_DELAY_SECONDS = 900


def _new_client(service: str) -> Any:
    # boto3 is imported when the first client is made, not with this module (see idgate.wiring).
    import boto3

    return boto3.client(service)


class DeliveryQueue:
    def __init__(
        self, queue_url: str, dead_letter_url: str, *, client: Callable[[str], Any] = _new_client
    ) -> None:
        self._url = queue_url
        self._dead_letter_url = dead_letter_url
        self._clients = client

    def send(self, attempt: Attempt, *, now: datetime) -> None:
        wait = (attempt.not_before - now).total_seconds()
        delay = min(MAX_DELAY_SECONDS, max(0, math.ceil(wait)))
        self._clients("sqs").send_message(
            QueueUrl=self._url, MessageBody=attempt.model_dump_json(), DelaySeconds=delay
        )

    def dead_letter(self, attempt: Attempt) -> None:
        self._clients("sqs").send_message(
            QueueUrl=self._dead_letter_url, MessageBody=attempt.model_dump_json()
        )
