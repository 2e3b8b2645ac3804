"""What the DynamoDB stores ask DynamoDB for, where moto answers the same whatever is asked: strongly
consistent reads, one-item and count-only queries, a scan that follows every page. The repository
contract tests (on moto and in memory) hold what they store and answer."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest
from boto3.dynamodb.conditions import Key
from moto import mock_aws

from idgate.store import KeyStore, SessionStore
from tests.support.tables import create_template_tables

RETENTION = timedelta(days=30)


class RecordingTable:
    """Answers as an empty table would, one scan page after another, and records every request."""

    def __init__(self, scan_pages: list[dict[str, Any]] | None = None) -> None:
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self._scan_pages = list(scan_pages or [{"Items": []}])

    def get_item(self, **request: Any) -> dict[str, Any]:
        self.requests.append(("get_item", request))
        return {}

    def query(self, **request: Any) -> dict[str, Any]:
        self.requests.append(("query", request))
        return {"Items": [], "Count": 0, "ScannedCount": 0}

    def scan(self, **request: Any) -> dict[str, Any]:
        self.requests.append(("scan", request))
        return self._scan_pages.pop(0)


class RecordingResource:
    def __init__(self, table: RecordingTable) -> None:
        self.table = table
        self.names: list[str] = []

    def Table(self, name: str) -> RecordingTable:
        self.names.append(name)
        return self.table


@pytest.fixture
def table() -> RecordingTable:
    return RecordingTable()


def test_a_session_is_read_strongly_consistent(table: RecordingTable):
    resource = RecordingResource(table)
    assert SessionStore("Sessions", retention=RETENTION, dynamodb=resource).get("ses_1") is None
    assert resource.names == ["Sessions"]
    assert table.requests == [("get_item", {"Key": {"pk": "ses_1"}, "ConsistentRead": True})]


def test_a_provider_reference_is_looked_up_in_its_index_for_one_item(table: RecordingTable):
    store = SessionStore("Sessions", retention=RETENTION, dynamodb=RecordingResource(table))
    assert store.find_by_provider_ref("okid", "ver_1") is None
    ((operation, request),) = table.requests
    assert operation == "query"
    condition = request.pop("KeyConditionExpression")
    assert condition == Key("provider").eq("okid") & Key("provider_ref").eq("ver_1")
    assert request == {"IndexName": "by_provider_ref", "Limit": 1}


def test_open_sessions_are_counted_not_read(table: RecordingTable):
    store = SessionStore("Sessions", retention=RETENTION, dynamodb=RecordingResource(table))
    assert store.count_open("shop", limit=25) == 0
    ((_, request),) = table.requests
    assert request.pop("KeyConditionExpression") == Key("open_client").eq("shop")
    assert request == {"IndexName": "open_by_client", "Select": "COUNT", "Limit": 25}


def test_every_key_is_listed_across_the_scans_pages():
    table = RecordingTable(
        [
            {"Items": [{"key_hash": "a"}], "LastEvaluatedKey": {"key_hash": "a"}},
            {"Items": [{"key_hash": "b"}, {"key_hash": "c"}], "LastEvaluatedKey": {"key_hash": "c"}},
            {"Items": [{"key_hash": "d"}]},
        ]
    )
    keys = KeyStore("Keys", dynamodb=RecordingResource(table))
    assert [item["key_hash"] for item in keys.all()] == ["a", "b", "c", "d"]
    assert [request for _, request in table.requests] == [
        {},
        {"ExclusiveStartKey": {"key_hash": "a"}},
        {"ExclusiveStartKey": {"key_hash": "c"}},
    ]


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield create_template_tables(boto3.client("dynamodb"))


def test_the_stores_make_their_own_dynamodb_resource_when_given_none(aws: dict[str, str]):
    keys = KeyStore(aws["KeysTable"])
    assert keys.add({"key_hash": "h1", "kind": "secret", "client_id": "shop"}) is True
    assert keys.add({"key_hash": "h1", "kind": "secret", "client_id": "shop"}) is False
    assert keys.get("h1") == {"key_hash": "h1", "kind": "secret", "client_id": "shop"}
    assert keys.get("h2") is None
    assert SessionStore(aws["SessionsTable"], retention=RETENTION).get("ses_none") is None
