"""The SessionRepository contract's subjects (idgate.repository): SessionStore on a moto table built from
the template, and the in-memory store of the use-case tests, with what the contract's tests share
(tests/unit/test_session_repository_*.py: each test runs on both, so the fake cannot drift from the store it
stands for)."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from idgate.domain import Session, Status
from idgate.repository import SessionRepository
from idgate.store import SessionStore
from tests.support.memory_store import InMemorySessionStore
from tests.support.tables import boto3_region_env, create_template_tables

NOW = datetime(2026, 11, 22, 20, 0, tzinfo=UTC)
RETENTION = timedelta(days=30)
STALE = timedelta(seconds=60)

#: DynamoDB serializes the writes to one item; moto does not (its conditional UpdateItem reads, checks
#: and writes without a lock, a known emulator limit), so races are run on the in-memory store only.
MEMORY_ONLY = pytest.mark.parametrize("subject", ["memory"], indirect=True)


@dataclass
class Subject:
    store: SessionRepository
    #: The stored item as boto3's DynamoDB resource returns it (numbers as Decimal), or None.
    raw: Callable[[str], dict[str, Any] | None]


@pytest.fixture(params=["dynamodb", "memory"])
def subject(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Subject]:
    if request.param == "memory":
        memory = InMemorySessionStore(retention=RETENTION)
        yield Subject(memory, memory.stored_item)
        return
    boto3_region_env(monkeypatch)
    with mock_aws():
        client = boto3.client("dynamodb")
        names = create_template_tables(client)
        table = boto3.resource("dynamodb").Table(names["SessionsTable"])
        yield Subject(
            SessionStore(names["SessionsTable"], retention=RETENTION, client=client),
            lambda session_id: table.get_item(Key={"pk": session_id}, ConsistentRead=True).get("Item"),
        )


def a_session(number: int = 1, **fields: Any) -> Session:
    values: dict[str, Any] = {
        "id": f"ses_contract{number:012d}",
        "client_id": "shop",
        "provider": "fake",
        "status": Status.PENDING,
        "created_at": NOW,
        "updated_at": NOW,
        "expires_at": NOW + timedelta(minutes=30),
        "client_secret_hash": "secret-hash",
        "email": "ada@example.com",
        "options": {"two_factor": True},
        "provider_ref": f"ref-{number}",
        "provider_token": "provider-token",
        "verification_url": "https://provider.example/v/1",
    }
    return Session(**(values | fields))


def added(subject: Subject, number: int = 1, **fields: Any) -> Session:
    session = a_session(number, **fields)
    subject.store.add(session)
    return session


def item_of(subject: Subject, session_id: str) -> dict[str, Any]:
    item = subject.raw(session_id)
    assert item is not None
    return item


def error_code(exc: ClientError) -> str:
    return str(exc.response["Error"]["Code"])


def race(workers: int, work: Callable[[int], Any]) -> list[Any]:
    """Runs `work(0..workers-1)` in threads released together; their answers in worker order."""
    start = threading.Barrier(workers)
    answers: list[Any] = [None] * workers

    def run(index: int) -> None:
        start.wait()
        answers[index] = work(index)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(workers)]
    # Threads switch as often as the interpreter allows, so that a check-then-write without the lock
    # would be interleaved (and caught) rather than run whole within one time slice.
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(switch_interval)
    return answers
