"""What the DynamoDB stores ask DynamoDB for, where moto answers the same whatever is asked: strongly
consistent reads, one-item and count-only queries, a scan that follows every page. The repository
contract tests (on moto and in memory) hold what they store and answer.

The stores use a low-level client (idgate.dynamo says why): the requests recorded here are the client's, as
DynamoDB receives them. The key conditions are those boto3's resource made of `Key(...).eq(...)` when the
stores used it, so the requests stayed the same."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest
from boto3.dynamodb.conditions import ConditionBase, ConditionExpressionBuilder, Key
from boto3.dynamodb.types import TypeSerializer
from moto import mock_aws

from idgate.keystore import KeyStore
from idgate.store import SessionStore
from tests.support.tables import create_template_tables

RETENTION = timedelta(days=30)


class RecordingClient:
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


def key_condition(condition: ConditionBase) -> dict[str, Any]:
    """What boto3's resource sends for `condition` as a query's KeyConditionExpression."""
    built = ConditionExpressionBuilder().build_expression(condition, is_key_condition=True)
    serialize = TypeSerializer().serialize
    return {
        "KeyConditionExpression": built.condition_expression,
        "ExpressionAttributeNames": built.attribute_name_placeholders,
        "ExpressionAttributeValues": {
            name: serialize(value) for name, value in built.attribute_value_placeholders.items()
        },
    }


@pytest.fixture
def client() -> RecordingClient:
    return RecordingClient()


def test_a_session_is_read_strongly_consistent(client: RecordingClient):
    assert SessionStore("Sessions", retention=RETENTION, client=client).get("ses_1") is None
    assert client.requests == [
        ("get_item", {"TableName": "Sessions", "Key": {"pk": {"S": "ses_1"}}, "ConsistentRead": True})
    ]


def test_a_provider_reference_is_looked_up_in_its_index_for_one_item(client: RecordingClient):
    store = SessionStore("Sessions", retention=RETENTION, client=client)
    assert store.find_by_provider_ref("okid", "ver_1") is None
    assert client.requests == [
        (
            "query",
            {
                "TableName": "Sessions",
                "IndexName": "by_provider_ref",
                **key_condition(Key("provider").eq("okid") & Key("provider_ref").eq("ver_1")),
                "Limit": 1,
            },
        )
    ]


def test_open_sessions_are_counted_not_read(client: RecordingClient):
    store = SessionStore("Sessions", retention=RETENTION, client=client)
    assert store.count_open("shop", limit=25) == 0
    assert client.requests == [
        (
            "query",
            {
                "TableName": "Sessions",
                "IndexName": "open_by_client",
                **key_condition(Key("open_client").eq("shop")),
                "Select": "COUNT",
                "Limit": 25,
            },
        )
    ]


def test_every_key_is_listed_across_the_scans_pages():
    client = RecordingClient(
        [
            {"Items": [{"key_hash": {"S": "a"}}], "LastEvaluatedKey": {"key_hash": {"S": "a"}}},
            {
                "Items": [{"key_hash": {"S": "b"}}, {"key_hash": {"S": "c"}}],
                "LastEvaluatedKey": {"key_hash": {"S": "c"}},
            },
            {"Items": [{"key_hash": {"S": "d"}}]},
        ]
    )
    keys = KeyStore("Keys", client=client)
    assert [item["key_hash"] for item in keys.all()] == ["a", "b", "c", "d"]
    assert [request for _, request in client.requests] == [
        {"TableName": "Keys"},
        {"TableName": "Keys", "ExclusiveStartKey": {"key_hash": {"S": "a"}}},
        {"TableName": "Keys", "ExclusiveStartKey": {"key_hash": {"S": "c"}}},
    ]


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield create_template_tables(boto3.client("dynamodb"))


def test_the_stores_make_their_own_dynamodb_client_when_given_none(aws: dict[str, str]):
    keys = KeyStore(aws["KeysTable"])
    assert keys.add({"key_hash": "h1", "kind": "secret", "client_id": "shop"}) is True
    assert keys.add({"key_hash": "h1", "kind": "secret", "client_id": "shop"}) is False
    assert keys.get("h1") == {"key_hash": "h1", "kind": "secret", "client_id": "shop"}
    assert keys.get("h2") is None
    assert SessionStore(aws["SessionsTable"], retention=RETENTION).get("ses_none") is None
