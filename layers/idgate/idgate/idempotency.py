"""Idempotency keys of `POST /v1/sessions`: a retried request answers the session the first one created.

A key belongs to a client and lives 24 hours. Its record (item `idempotency#<sha256 of client and
key>` in the sessions table) holds a fingerprint of the request, the session it created and that
session's client secret, encrypted with the deployment's KMS key (the secret is shown again on a
replay, so it cannot be kept as a hash only). The first request claims the key by a conditional write;
a concurrent one with the same key is refused (409) until the first finishes; a failed creation
releases the key so the client may retry.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from botocore.exceptions import ClientError

from idgate.errors import Conflict

#: How long a key is remembered.
KEY_LIFETIME = timedelta(hours=24)
#: A claim older than this whose request never finished (its function died) may be taken over.
STALE_CLAIM = timedelta(seconds=60)
ITEM_PREFIX = "idempotency#"


@dataclass(frozen=True)
class Earlier:
    """What the first request with the key created."""

    session_id: str
    client_secret: str


class IdempotencyKeys(Protocol):
    def claim(self, client_id: str, key: str, fingerprint: str, *, now: datetime) -> Earlier | None:
        """None: the key is this request's now (create, then `complete` or `release`). Earlier: the same
        request was served before. Raises Conflict `idempotency_key_reused` when the key came with
        another request, `idempotency_key_in_use` while the first request is still being served."""
        ...

    def complete(self, client_id: str, key: str, earlier: Earlier, *, now: datetime) -> None: ...

    def release(self, client_id: str, key: str) -> None: ...


def record_key(client_id: str, key: str) -> str:
    return ITEM_PREFIX + hashlib.sha256(f"{client_id}\n{key}".encode()).hexdigest()


def reused() -> Conflict:
    return Conflict("this Idempotency-Key was used with another request", code="idempotency_key_reused")


def in_use() -> Conflict:
    return Conflict(
        "a request with this Idempotency-Key is still being served; retry shortly",
        code="idempotency_key_in_use",
    )


def _new_client(service: str) -> Any:
    # boto3 is imported when the first client is made, not with this module (see idgate.wiring).
    import boto3

    return boto3.client(service)


class TableIdempotencyKeys:
    """`IdempotencyKeys` in the sessions table, client secrets encrypted with KMS."""

    def __init__(self, table_name: str, key_id: str, *, client: Callable[[str], Any] = _new_client) -> None:
        self._table = table_name
        self._key_id = key_id
        self._client = client
        self._clients: dict[str, Any] = {}

    def _aws(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._client(service)
        return self._clients[service]

    def claim(self, client_id: str, key: str, fingerprint: str, *, now: datetime) -> Earlier | None:
        pk = record_key(client_id, key)
        dynamodb = self._aws("dynamodb")
        try:
            dynamodb.put_item(
                TableName=self._table,
                Item={
                    "pk": {"S": pk},
                    "fingerprint": {"S": fingerprint},
                    "claimed_at": {"N": str(int(now.timestamp()))},
                    "expires_ttl": {"N": str(int((now + KEY_LIFETIME).timestamp()))},
                },
                # A record past its lifetime may still be there (TTL deletes lazily): it is free.
                ConditionExpression="attribute_not_exists(pk) OR expires_ttl < :now OR "
                "(attribute_not_exists(session_id) AND claimed_at < :stale AND fingerprint = :fingerprint)",
                ExpressionAttributeValues={
                    ":now": {"N": str(int(now.timestamp()))},
                    ":stale": {"N": str(int((now - STALE_CLAIM).timestamp()))},
                    ":fingerprint": {"S": fingerprint},
                },
            )
            return None
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
        item = dynamodb.get_item(TableName=self._table, Key={"pk": {"S": pk}}, ConsistentRead=True)["Item"]
        if item["fingerprint"]["S"] != fingerprint:
            raise reused()
        if "session_id" not in item:
            raise in_use()
        secret = self._aws("kms").decrypt(
            CiphertextBlob=item["client_secret"]["B"], KeyId=self._key_id, EncryptionContext=_context(pk)
        )["Plaintext"]
        return Earlier(item["session_id"]["S"], secret.decode("utf-8"))

    def complete(self, client_id: str, key: str, earlier: Earlier, *, now: datetime) -> None:
        pk = record_key(client_id, key)
        sealed = self._aws("kms").encrypt(
            KeyId=self._key_id,
            Plaintext=earlier.client_secret.encode("utf-8"),
            EncryptionContext=_context(pk),
        )["CiphertextBlob"]
        self._aws("dynamodb").update_item(
            TableName=self._table,
            Key={"pk": {"S": pk}},
            UpdateExpression="SET session_id = :session, client_secret = :secret",
            ExpressionAttributeValues={":session": {"S": earlier.session_id}, ":secret": {"B": sealed}},
        )

    def release(self, client_id: str, key: str) -> None:
        """Frees a key whose creation failed (a key that created a session is kept)."""
        try:
            self._aws("dynamodb").delete_item(
                TableName=self._table,
                Key={"pk": {"S": record_key(client_id, key)}},
                ConditionExpression="attribute_not_exists(session_id)",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise


def _context(pk: str) -> dict[str, str]:
    return {"idgate:purpose": "idempotency", "idgate:key": pk}
