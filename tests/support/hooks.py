"""The webhooks' dependencies on moto, from the template's table: the store, KMS sealing, the delivery queues,
and a clock the test moves."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from moto import mock_aws

from idgate.api import Caller
from idgate.aws_clients import AwsClients
from idgate.hooks.delivery import Deliverer
from idgate.hooks.endpoints import WebhookEndpoints
from idgate.hooks.fanout import Fanout
from idgate.hooks.model import Attempt
from idgate.hooks.queue import DeliveryQueue
from idgate.hooks.sealing import KmsSealer
from idgate.hooks.store import HookStore
from tests.support.tables import boto3_region_env, create_template_tables

__all__ = ["boto3_region_env"]  # the hooks' tests import it from here

SHOP = Caller(kind="secret", client_id="shop")
OTHER_SHOP = Caller(kind="secret", client_id="other-shop")
SHOP_PUBLISHABLE = Caller(kind="publishable", client_id="shop")


@dataclass
class MovingClock:
    #: Starts at the real time: the standardwebhooks package checks a signature's timestamp against it.
    now: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class MemoryQueue:
    """The delivery queue as the use cases see it, in memory: SQS's delays are real time, which a test's clock
    is not (DeliveryQueue itself is tested on its own)."""

    tries: list[tuple[Attempt, datetime]] = field(default_factory=list)
    dead_letters: list[Attempt] = field(default_factory=list)

    def send(self, attempt: Attempt, *, now: datetime) -> None:
        self.tries.append((attempt, now))

    def dead_letter(self, attempt: Attempt) -> None:
        self.dead_letters.append(attempt)


@dataclass
class Hooks:
    store: HookStore
    queue: MemoryQueue
    endpoints: WebhookEndpoints
    fanout: Fanout
    clock: MovingClock
    clients: AwsClients
    queue_url: str
    dead_letter_url: str
    table: str

    def deliverer(self, **options: Any) -> Deliverer:
        sealer = KmsSealer(self.endpoints.sealer._key_id, client=self.clients)  # type: ignore[attr-defined]
        return Deliverer(store=self.store, unsealer=sealer, queue=self.queue, clock=self.clock, **options)

    def messages(self) -> list[tuple[Attempt, datetime]]:
        """The tries queued since the last look (taken out), with when each was sent."""
        found, self.queue.tries[:] = list(self.queue.tries), []
        return found

    def raw_items(self) -> list[dict[str, Any]]:
        return list(self.clients("dynamodb").scan(TableName=self.table)["Items"])


@contextmanager
def hooks_on_moto() -> Iterator[Hooks]:
    with mock_aws():
        clients = AwsClients()
        names = create_template_tables(clients("dynamodb"))
        key = clients("kms").create_key()["KeyMetadata"]["Arn"]
        sqs = clients("sqs")
        dead = sqs.create_queue(QueueName="dead")["QueueUrl"]
        url = sqs.create_queue(QueueName="tries")["QueueUrl"]
        _ = DeliveryQueue  # the SQS adapter: tests/unit/test_hook_delivery.py
        clock = MovingClock()
        store = HookStore(names["WebhooksTable"], retention=timedelta(days=30), client=clients("dynamodb"))
        queue = MemoryQueue()
        endpoints = WebhookEndpoints(
            store=store, sealer=KmsSealer(key, client=clients), queue=queue, clock=clock
        )
        yield Hooks(
            store,
            queue,
            endpoints,
            Fanout(store, queue, clock=clock),
            clock,
            clients,
            url,
            dead,
            names["WebhooksTable"],
        )
