"""API keys on DynamoDB, stored by the SHA-256 of the key: the key itself is never stored.

A module of its own, apart from the sessions' (idgate.store), so that the authorizer and the keys function
import neither the session model nor the rest of the sessions' persistence.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from idgate.dynamo import AttributeValues, from_dynamo, is_condition_failure, new_client


class KeyStore:
    """`client`: a DynamoDB client (idgate.dynamo says why not a resource); by default one of its own."""

    def __init__(self, table_name: str, *, client: Any = None) -> None:
        self._client = client or new_client()
        self._table = table_name
        self._values = AttributeValues()

    def get(self, key_hash: str) -> dict[str, Any] | None:
        item = self._client.get_item(TableName=self._table, Key=self._key(key_hash)).get("Item")
        return from_dynamo(self._values.plain(item)) if item else None

    def add(self, item: Mapping[str, Any]) -> bool:
        try:
            self._client.put_item(
                TableName=self._table,
                Item=self._values.typed(item),
                ConditionExpression="attribute_not_exists(key_hash)",
            )
        except ClientError as exc:
            if is_condition_failure(exc):
                return False
            raise
        return True

    def revoke(self, key_hash: str, *, now: datetime) -> bool:
        try:
            self._client.update_item(
                TableName=self._table,
                Key=self._key(key_hash),
                UpdateExpression="SET revoked_at = :now",
                ConditionExpression="attribute_exists(key_hash)",
                ExpressionAttributeValues=self._values.typed({":now": now.isoformat()}),
            )
        except ClientError as exc:
            if is_condition_failure(exc):
                return False
            raise
        return True

    def all(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        request: dict[str, Any] = {"TableName": self._table}
        while True:
            page = self._client.scan(**request)
            items += [from_dynamo(self._values.plain(item)) for item in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                return items
            # As DynamoDB gave it (typed): the next page starts after it.
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _key(self, key_hash: str) -> dict[str, Any]:
        return self._values.typed({"key_hash": key_hash})
