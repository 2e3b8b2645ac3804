"""How DynamoDB answers what the in-memory session store (tests/support/memory_store.py) is asked: its
errors as boto3 raises them, its refusals of empty or mistyped keys, and its `<` between typed values. Kept
apart from the store so that the store reads as the repository's operations."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeSerializer
from botocore.exceptions import ClientError

#: The session table's index keys (by_provider_ref, open_by_client): never empty, always strings.
INDEX_KEYS = ("provider", "provider_ref", "open_client")

#: An item in DynamoDB's typed form: attribute name → {"S": ...} / {"N": ...} / {"BOOL": ...} / ...
Item = dict[str, dict[str, Any]]

serializer = TypeSerializer()


def client_error(code: str, message: str, operation: str) -> ClientError:
    """The error boto3 raises when DynamoDB answers `code`."""
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


def condition_failed(operation: str) -> ClientError:
    return client_error("ConditionalCheckFailedException", "The conditional request failed", operation)


def invalid(message: str, operation: str) -> ClientError:
    return client_error("ValidationException", message, operation)


def check_key(value: str, name: str, operation: str) -> None:
    if value == "":
        raise invalid(
            "One or more parameter values are not valid. The AttributeValue for a key attribute cannot"
            f" contain an empty string value. Key: {name}",
            operation,
        )


def check_index_keys(item: Item, operation: str) -> None:
    for name in INDEX_KEYS:
        value = item.get(name)
        if value is not None and value.get("S", "") == "":  # an empty string, or not a string
            raise invalid(
                "One or more parameter values are not valid. A value specified for a secondary index key"
                f" is not supported. IndexName: by_provider_ref, IndexKey: {name}",
                operation,
            )


def serialized(values: Mapping[str, Any]) -> Item:
    return {name: serializer.serialize(value) for name, value in values.items()}


def less_than(stored: dict[str, Any] | None, value: dict[str, Any]) -> bool:
    """DynamoDB's `a < b`: false when `a` is missing or of another type than `b`."""
    if stored is None or stored.keys() != value.keys():
        return False
    if "N" in value:
        return Decimal(stored["N"]) < Decimal(value["N"])
    if "S" in value:
        return bool(stored["S"] < value["S"])
    return False
