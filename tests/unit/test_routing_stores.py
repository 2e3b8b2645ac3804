"""The breakers and the clients' policies on DynamoDB (moto, the template's table) and in memory alike: the
fakes the use-case tests route with behave as the table does."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from idgate.breaker import BreakerSettings, BreakerState, TableBreakers
from idgate.routing_policy import TableClientPolicies
from tests.support.recording import Recording
from tests.support.routing_fakes import MemoryBreakers, MemoryClientPolicies
from tests.support.tables import boto3_region_env, create_template_tables

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
SETTINGS = BreakerSettings(failures=3, cooldown=timedelta(seconds=60))


@pytest.fixture(params=["dynamodb", "memory"])
def stores(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any]]:
    if request.param == "memory":
        yield MemoryBreakers(), MemoryClientPolicies()
        return
    boto3_region_env(monkeypatch)
    with mock_aws():
        client = boto3.client("dynamodb")
        table = create_template_tables(client)["SessionsTable"]
        yield TableBreakers(table, client), TableClientPolicies(table, client)


def test_a_breaker_opens_at_the_third_failure_in_a_row_for_its_cool_down(stores):
    breakers, _ = stores
    assert breakers.state("alpha") == BreakerState()
    assert [breakers.failed("alpha", now=NOW, settings=SETTINGS) for _ in range(2)] == [False, False]
    assert not breakers.state("alpha").is_open(NOW)
    assert breakers.failed("alpha", now=NOW, settings=SETTINGS) is True
    state = breakers.state("alpha")
    assert (state.failures, state.open_until) == (3, NOW + SETTINGS.cooldown)
    assert state.is_open(NOW + timedelta(seconds=59))
    assert not state.is_open(NOW + SETTINGS.cooldown)
    assert breakers.state("beta") == BreakerState(), "each provider has its own"


def test_an_open_breaker_is_not_opened_again_and_reopens_at_the_first_failure_after_its_cool_down(stores):
    breakers, _ = stores
    for _ in range(3):
        breakers.failed("alpha", now=NOW, settings=SETTINGS)
    assert breakers.failed("alpha", now=NOW + timedelta(seconds=10), settings=SETTINGS) is False
    assert breakers.state("alpha").open_until == NOW + SETTINGS.cooldown
    later = NOW + timedelta(seconds=60)
    assert breakers.failed("alpha", now=later, settings=SETTINGS) is True
    assert breakers.state("alpha").open_until == later + SETTINGS.cooldown


def test_a_success_closes_it_and_the_count_starts_again(stores):
    breakers, _ = stores
    for _ in range(3):
        breakers.failed("alpha", now=NOW, settings=SETTINGS)
    breakers.succeeded("alpha")
    assert breakers.state("alpha") == BreakerState()
    assert breakers.failed("alpha", now=NOW, settings=SETTINGS) is False
    breakers.succeeded("beta")  # never failed: nothing to close, nothing made
    assert breakers.state("beta") == BreakerState()


def test_a_clients_policy_is_stored_read_and_removed(stores):
    _, policies = stores
    assert policies.get("shop") is None
    policies.put("shop", {"age": ["beta", "alpha"], "identity": ["gamma"]})
    assert policies.get("shop") == {"age": ["beta", "alpha"], "identity": ["gamma"]}
    assert policies.get("another-shop") is None
    policies.put("shop", {"age": ["alpha"]})
    assert policies.get("shop") == {"age": ["alpha"]}
    policies.put("shop", {})
    assert policies.get("shop") is None


def test_of_parallel_failures_one_opens_the_breaker():
    breakers = MemoryBreakers()  # moto's writes are not atomic (devstack.atomic_writes): memory only
    start = threading.Barrier(12)
    opened: list[bool] = []

    def fail() -> None:
        start.wait()
        opened.append(breakers.failed("alpha", now=NOW, settings=SETTINGS))

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=fail) for _ in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert opened.count(True) == 1
    assert breakers.state("alpha").failures == 12


@pytest.fixture
def on_moto(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, str]]:
    """The DynamoDB client and the sessions table, on moto."""
    boto3_region_env(monkeypatch)
    with mock_aws():
        client = boto3.client("dynamodb")
        yield client, create_template_tables(client)["SessionsTable"]


def test_a_clients_policy_is_read_strongly_consistent(on_moto: tuple[Any, str]):
    # moto answers the same either way: a stale read could route by the policy a PUT just replaced
    client, table = on_moto
    requests: list[tuple[str, dict[str, Any]]] = []
    policies = TableClientPolicies(table, Recording(client, requests))
    policies.put("shop", {"age": ["alpha"]})
    assert policies.get("shop") == {"age": ["alpha"]}
    assert [request["ConsistentRead"] for operation, request in requests if operation == "get_item"] == [True]


def test_a_breaker_is_kept_a_day_after_its_last_failure_and_a_success_creates_none(on_moto: tuple[Any, str]):
    client, table = on_moto
    breakers = TableBreakers(table, client)
    breakers.succeeded("alpha")  # never failed: nothing to close, nothing written
    assert "Item" not in client.get_item(TableName=table, Key={"pk": {"S": "breaker#alpha"}})
    breakers.failed("alpha", now=NOW, settings=SETTINGS)
    item = client.get_item(TableName=table, Key={"pk": {"S": "breaker#alpha"}})["Item"]
    assert int(item["expires_ttl"]["N"]) == int((NOW + timedelta(days=1)).timestamp())
