"""What the shared token's tests share: a clock, a provider's login endpoint, the table on moto, and a
container's token (tests/unit/test_shared_token*.py)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest
from moto import mock_aws

from devstack.atomic_writes import make_dynamodb_writes_atomic
from idgate.providers.base import IssuedToken
from idgate.shared_token import ITEM_PREFIX, TableToken
from tests.support.tables import create_template_tables

REGION = "us-east-1"


class Clock:
    """A clock whose sleep moves it: by the pause asked for, or by `oversleep` whatever was asked (a
    container that ran late). `pauses` are the pauses asked for, in order."""

    def __init__(self, now: float = 1_000_000.0, *, oversleep: float | None = None) -> None:
        self.now = now
        self.slept = 0.0
        self.pauses: list[float] = []
        self._oversleep = oversleep

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)
        moved = seconds if self._oversleep is None else self._oversleep
        self.slept += moved
        self.now += moved


class Logins:
    """A provider's login endpoint: counts logins, each gives a new token."""

    def __init__(self, lifetime: float = 3600, *, delay: float = 0.0) -> None:
        self.count = 0
        self.lifetime = lifetime
        self.delay = delay
        self._lock = threading.Lock()

    def __call__(self) -> IssuedToken:
        if self.delay:
            threading.Event().wait(self.delay)
        with self._lock:
            self.count += 1
            return IssuedToken(f"token-{self.count}", self.lifetime)


@contextmanager
def table_on_moto(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """The sessions table and a KMS key, on moto: {"dynamodb", "kms", "table", "key"}."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    make_dynamodb_writes_atomic()  # as the local stack does: DynamoDB's conditional writes are atomic
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        kms = boto3.client("kms", region_name=REGION)
        table = create_template_tables(dynamodb)["SessionsTable"]
        key = kms.create_key(Description="test")["KeyMetadata"]["Arn"]
        yield {"dynamodb": dynamodb, "kms": kms, "table": table, "key": key}


def container(
    aws: dict[str, Any],
    clock: Clock | None = None,
    provider: str = "faceki",
    *,
    client: Callable[[str], Any] | None = None,
) -> TableToken:
    """What one Lambda container builds: its own clients, its own empty memory."""
    more: dict[str, Any] = {} if client is None else {"client": client}
    if clock is None:
        return TableToken(aws["table"], aws["key"], provider, **more)
    return TableToken(aws["table"], aws["key"], provider, clock=clock, sleep=clock.sleep, **more)


def stored(aws: dict[str, Any], provider: str = "faceki") -> dict[str, Any]:
    key = {"pk": {"S": ITEM_PREFIX + provider}}
    return dict(aws["dynamodb"].get_item(TableName=aws["table"], Key=key, ConsistentRead=True)["Item"])


def lease_taken_over(aws: dict[str, Any], provider: str = "faceki") -> None:
    """Another caller takes the lease (the one held ran out)."""
    aws["dynamodb"].update_item(
        TableName=aws["table"],
        Key={"pk": {"S": ITEM_PREFIX + provider}},
        UpdateExpression="SET lease_until = :until, lease_owner = :owner",
        ExpressionAttributeValues={":until": {"N": "9999999999"}, ":owner": {"S": "another"}},
    )
