"""DynamoDB on a low-level client, for the table stores (idgate.store, idgate.keystore): Python values typed
for the wire and back, and the refusal of a condition.

The stores use a client rather than boto3's resource: a resource cost a cold start 7 to 13 ms (0.03 to 0.06
of the floor, measured in the build's layout) more than the client it wraps, for its JSON model loaded and
its classes built, and all it added is the typing below, which is boto3's own (TypeSerializer,
TypeDeserializer), and an expression builder for the two key conditions idgate.store writes itself. A client
is also thread-safe, where a resource is not, so a container's users of a table may share one.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError


def new_client() -> Any:
    # boto3 is imported when a store is first built, not with this module (see idgate.wiring).
    import boto3

    return boto3.client("dynamodb")


def to_dynamo(value: Any) -> Any:
    """`value` with its floats as decimals, which DynamoDB's numbers need."""
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {key: to_dynamo(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_dynamo(item) for item in value]
    return value


def from_dynamo(value: Any) -> Any:
    """`value` with its decimals as ints when whole, else floats."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: from_dynamo(item) for key, item in value.items()}
    if isinstance(value, list):
        return [from_dynamo(item) for item in value]
    return value


def is_condition_failure(exc: ClientError) -> bool:
    return bool(exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException")


class AttributeValues:
    """Python values to DynamoDB's typed attribute values (`{"S": ...}`, `{"N": ...}`, ...) and back, as
    boto3's resource converts them: a value DynamoDB cannot hold (a float, a datetime) raises TypeError."""

    def __init__(self) -> None:
        from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

        self._serialize = TypeSerializer().serialize
        self._deserialize = TypeDeserializer().deserialize

    def typed(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """An item, a key or expression values, ready for the client."""
        return {name: self._serialize(value) for name, value in values.items()}

    def plain(self, item: Mapping[str, Any]) -> dict[str, Any]:
        """An item as the client answers it, as Python values (numbers as Decimal)."""
        return {name: self._deserialize(value) for name, value in item.items()}
