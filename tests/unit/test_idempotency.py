"""Idempotency keys, in the sessions table (KMS-encrypted client secrets) and in memory: one contract."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from idgate.errors import Conflict
from idgate.idempotency import ITEM_PREFIX, Earlier, IdempotencyKeys, TableIdempotencyKeys, record_key
from tests.support.memory_idempotency import InMemoryIdempotencyKeys
from tests.support.recording import Recording
from tests.support.tables import boto3_region_env, create_template_tables

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
EARLIER = Earlier("ses_idem00000000000000001", "cs_secret_of_the_first_request")


@pytest.fixture(params=["dynamodb", "memory"])
def keys(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[IdempotencyKeys]:
    if request.param == "memory":
        yield InMemoryIdempotencyKeys()
        return
    boto3_region_env(monkeypatch)
    with mock_aws():
        table = create_template_tables(boto3.client("dynamodb"))["SessionsTable"]
        key = boto3.client("kms").create_key()["KeyMetadata"]["Arn"]
        yield TableIdempotencyKeys(table, key)


def code_of(raised: pytest.ExceptionInfo[Conflict]) -> str:
    return raised.value.code


def test_the_first_request_claims_the_key_and_a_retry_gets_its_answer(keys: IdempotencyKeys):
    assert keys.claim("shop", "order-1", "fp", now=NOW) is None
    keys.complete("shop", "order-1", EARLIER, now=NOW)
    assert keys.claim("shop", "order-1", "fp", now=NOW + timedelta(hours=23)) == EARLIER


def test_a_key_is_the_clients_own(keys: IdempotencyKeys):
    assert keys.claim("shop", "order-1", "fp", now=NOW) is None
    assert keys.claim("other-shop", "order-1", "fp", now=NOW) is None


def test_the_same_key_with_another_request_is_refused(keys: IdempotencyKeys):
    assert keys.claim("shop", "order-1", "fp", now=NOW) is None
    with pytest.raises(Conflict) as pending:
        keys.claim("shop", "order-1", "another", now=NOW)
    assert code_of(pending) == "idempotency_key_reused"
    keys.complete("shop", "order-1", EARLIER, now=NOW)
    with pytest.raises(Conflict) as done:
        keys.claim("shop", "order-1", "another", now=NOW)
    assert code_of(done) == "idempotency_key_reused"


def test_a_request_still_being_served_holds_its_key(keys: IdempotencyKeys):
    assert keys.claim("shop", "order-1", "fp", now=NOW) is None
    with pytest.raises(Conflict) as raised:
        keys.claim("shop", "order-1", "fp", now=NOW + timedelta(seconds=30))
    assert code_of(raised) == "idempotency_key_in_use"
    # Its function died: after a minute the same request may take the key over.
    assert keys.claim("shop", "order-1", "fp", now=NOW + timedelta(seconds=61)) is None


def test_a_failed_creation_releases_the_key_and_a_created_one_keeps_it(keys: IdempotencyKeys):
    assert keys.claim("shop", "order-1", "fp", now=NOW) is None
    keys.release("shop", "order-1")
    assert keys.claim("shop", "order-1", "another", now=NOW) is None
    keys.complete("shop", "order-1", EARLIER, now=NOW)
    keys.release("shop", "order-1")  # a key that created a session is not released
    assert keys.claim("shop", "order-1", "another", now=NOW) == EARLIER


def test_a_key_is_forgotten_after_24_hours(keys: IdempotencyKeys):
    assert keys.claim("shop", "order-1", "fp", now=NOW) is None
    keys.complete("shop", "order-1", EARLIER, now=NOW)
    assert keys.claim("shop", "order-1", "another", now=NOW + timedelta(hours=24, seconds=2)) is None


def test_the_client_secret_is_kept_encrypted(monkeypatch: pytest.MonkeyPatch):
    boto3_region_env(monkeypatch)
    with mock_aws():
        dynamodb = boto3.client("dynamodb")
        table = create_template_tables(dynamodb)["SessionsTable"]
        keys = TableIdempotencyKeys(table, boto3.client("kms").create_key()["KeyMetadata"]["Arn"])
        keys.claim("shop", "order-1", "fp", now=NOW)
        keys.complete("shop", "order-1", EARLIER, now=NOW)
        item: dict[str, Any] = dynamodb.get_item(
            TableName=table, Key={"pk": {"S": record_key("shop", "order-1")}}
        )["Item"]
    assert item["pk"]["S"].startswith(ITEM_PREFIX)
    assert "order-1" not in repr(item)  # the key itself is hashed with its client
    assert EARLIER.client_secret not in repr(item)
    assert int(item["expires_ttl"]["N"]) == int((NOW + timedelta(hours=24)).timestamp())


def test_a_replay_reads_its_record_strongly_consistent_and_opens_it_with_its_key_and_context(
    monkeypatch: pytest.MonkeyPatch,
):
    boto3_region_env(monkeypatch)
    requests: list[tuple[str, dict[str, Any]]] = []
    with mock_aws():
        table = create_template_tables(boto3.client("dynamodb"))["SessionsTable"]
        key = boto3.client("kms").create_key()["KeyMetadata"]["Arn"]
        keys = TableIdempotencyKeys(
            table, key, client=lambda service: Recording(boto3.client(service), requests)
        )
        keys.claim("shop", "order-1", "fp", now=NOW)
        keys.complete("shop", "order-1", EARLIER, now=NOW)
        assert keys.claim("shop", "order-1", "fp", now=NOW) == EARLIER
    pk = record_key("shop", "order-1")
    # Read right after the refused claim: a stale read could miss the record another request just made.
    assert [request for operation, request in requests if operation == "get_item"] == [
        {"TableName": table, "Key": {"pk": {"S": pk}}, "ConsistentRead": True}
    ]
    # The same key and encryption context both ways, and the same from one deployment to the next: a record
    # sealed before an update is opened after it (a key lives 24 hours).
    context = {"idgate:purpose": "idempotency", "idgate:key": pk}
    sealed = [(op, r["KeyId"], r["EncryptionContext"]) for op, r in requests if op in ("encrypt", "decrypt")]
    assert sealed == [("encrypt", key, context), ("decrypt", key, context)]
