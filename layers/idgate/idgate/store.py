"""DynamoDB persistence: the only module that touches the tables.

Every status change is a conditional write whose condition is "the session is in a status that may
move to this one", so a final status is written once and never changes, whatever order or number of
triggers (polls, webhooks, PIN submissions) arrives.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from idgate.domain import FINAL_STATUSES, Session, Status, statuses_before
from idgate.repository import OPEN_ONLY_FIELDS

PROVIDER_REF_INDEX = "by_provider_ref"
OPEN_BY_CLIENT_INDEX = "open_by_client"


def _to_dynamo(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {key: _to_dynamo(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_to_dynamo(item) for item in value]
    return value


def _from_dynamo(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: _from_dynamo(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_from_dynamo(item) for item in value]
    return value


def epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def _is_condition_failure(exc: ClientError) -> bool:
    return bool(exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException")


# What each write of a session stores is computed here, apart from the table calls, so that the
# in-memory repository of the tests (tests/support/memory_store.py) stores exactly the same.


def session_item(session: Session, *, retention: timedelta) -> dict[str, Any]:
    """The item `add` writes: the session in JSON mode (floats as Decimal), `pk` and `expires_ttl`."""
    item: dict[str, Any] = _to_dynamo(session.model_dump(mode="json", exclude_none=True))
    item["pk"] = session.id
    item["expires_ttl"] = epoch(session.expires_at + retention)
    if not session.status.is_final:
        item["open_client"] = session.client_id
    return item


def session_from_item(item: Mapping[str, Any]) -> Session:
    return Session.model_validate(_from_dynamo(dict(item)))


@dataclass(frozen=True)
class SessionUpdate:
    """One conditional update: the attributes it sets (ready for DynamoDB) and removes, applied only
    if the session exists and is in one of the `allowed` statuses (none: it never applies)."""

    values: dict[str, Any]
    removed: list[str]
    allowed: list[Status]
    #: When set, the write also counts a PIN try and applies only if fewer than this many were counted.
    pin_try_limit: int | None = None


def advance_update(
    target: Status,
    *,
    now: datetime,
    fields: Mapping[str, Any] | None,
    remove: Iterable[str],
    retention: timedelta,
    pin_try_limit: int | None = None,
) -> SessionUpdate:
    values: dict[str, Any] = {"status": target.value, "updated_at": now.isoformat(), **(fields or {})}
    removed = list(remove)
    if "expires_at" in values and target not in FINAL_STATUSES:
        # A session followed for longer (PIN, review) must not be removed while it is still open.
        values["expires_ttl"] = epoch(datetime.fromisoformat(values["expires_at"]) + retention)
    if target in FINAL_STATUSES:
        values["finalized_at"] = now.isoformat()
        values["expires_ttl"] = epoch(now + retention)
        removed += OPEN_ONLY_FIELDS
    update = _update_of(values, removed, allowed=statuses_before(target))
    if pin_try_limit is None:
        return update
    if "pin_attempts" in values:
        raise ValueError("a write that counts a PIN try cannot also set pin_attempts")
    return SessionUpdate(update.values, update.removed, [Status.AWAITING_PIN], pin_try_limit)


def open_update(*, now: datetime, fields: Mapping[str, Any]) -> SessionUpdate:
    values = {"updated_at": now.isoformat(), **fields}
    open_statuses = [status for status in Status if status not in FINAL_STATUSES]
    return _update_of(values, [], allowed=open_statuses)


def _update_of(values: Mapping[str, Any], removed: list[str], *, allowed: list[Status]) -> SessionUpdate:
    return SessionUpdate(
        values={name: _to_dynamo(value) for name, value in values.items()},
        removed=list(dict.fromkeys(removed)),
        allowed=allowed,
    )


def _dynamodb() -> Any:
    # boto3 is imported when a store is first built, not with this module (see idgate.wiring).
    import boto3

    return boto3.resource("dynamodb")


def _key(name: str) -> Any:
    from boto3.dynamodb.conditions import Key

    return Key(name)


class SessionStore:
    """The sessions on DynamoDB: the `SessionRepository` of idgate.repository, which states the contract."""

    def __init__(self, table_name: str, *, retention: timedelta, dynamodb: Any = None) -> None:
        self._table = (dynamodb or _dynamodb()).Table(table_name)
        self._retention = retention

    def add(self, session: Session) -> None:
        """Stores a new session. Its TTL already counts from its expiry, so that it is removed even if it
        never reaches a final status."""
        item = session_item(session, retention=self._retention)
        self._table.put_item(Item=item, ConditionExpression="attribute_not_exists(pk)")

    def get(self, session_id: str) -> Session | None:
        item = self._table.get_item(Key={"pk": session_id}, ConsistentRead=True).get("Item")
        return session_from_item(item) if item else None

    def find_by_provider_ref(self, provider: str, provider_ref: str) -> Session | None:
        answer = self._table.query(
            IndexName=PROVIDER_REF_INDEX,
            KeyConditionExpression=_key("provider").eq(provider) & _key("provider_ref").eq(provider_ref),
            Limit=1,
        )
        items = answer.get("Items", [])
        return self.get(items[0]["pk"]) if items else None

    def advance(
        self,
        session_id: str,
        target: Status,
        *,
        now: datetime,
        fields: Mapping[str, Any] | None = None,
        remove: Iterable[str] = (),
        pin_try_limit: int | None = None,
    ) -> bool:
        """Moves the session to `target` if its current status may move there. False when it may not
        (it is already there, further on, or final): the caller lost a race and must change nothing."""
        update = advance_update(
            target,
            now=now,
            fields=fields,
            remove=remove,
            retention=self._retention,
            pin_try_limit=pin_try_limit,
        )
        return self._update(session_id, update)

    def update_open(self, session_id: str, *, now: datetime, fields: Mapping[str, Any]) -> bool:
        """Book-keeping on a session that is not final yet (never changes its status)."""
        return self._update(session_id, open_update(now=now, fields=fields))

    def count_open(self, client_id: str, *, limit: int) -> int:
        answer = self._table.query(
            IndexName=OPEN_BY_CLIENT_INDEX,
            KeyConditionExpression=_key("open_client").eq(client_id),
            Select="COUNT",
            Limit=limit,
        )
        return int(answer["Count"])

    def count_pin_attempt(self, session_id: str, *, max_attempts: int) -> int | None:
        """Counts one PIN try atomically, before the PIN is compared, so parallel guesses cannot exceed
        the limit. The new count, or None when the session does not await a PIN or has no tries left."""
        try:
            answer = self._table.update_item(
                Key={"pk": session_id},
                UpdateExpression="ADD pin_attempts :one",
                ConditionExpression=(
                    "#status = :awaiting AND (attribute_not_exists(pin_attempts) OR pin_attempts < :max)"
                ),
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":one": 1,
                    ":awaiting": Status.AWAITING_PIN.value,
                    ":max": max_attempts,
                },
                ReturnValues="UPDATED_NEW",
            )
        except ClientError as exc:
            if _is_condition_failure(exc):
                return None
            raise
        return int(answer["Attributes"]["pin_attempts"])

    def claim_look(self, session_id: str, *, now: datetime, every: timedelta) -> bool:
        try:
            self._table.update_item(
                Key={"pk": session_id},
                UpdateExpression="SET looked_at = :now",
                ConditionExpression=(
                    "attribute_exists(pk) AND attribute_not_exists(finalized_at)"
                    " AND (attribute_not_exists(looked_at) OR looked_at <= :since)"
                ),
                ExpressionAttributeValues={":now": now.isoformat(), ":since": (now - every).isoformat()},
            )
        except ClientError as exc:
            if _is_condition_failure(exc):
                return False
            raise
        return True

    def claim_event(self, session_id: str, *, now: datetime, stale_after: timedelta) -> bool:
        """Claims the right to publish a final session's event, so that two triggers cannot both publish.
        A claim whose publisher died (older than `stale_after`) may be taken over."""
        try:
            self._table.update_item(
                Key={"pk": session_id},
                UpdateExpression="SET event_claimed_at = :now",
                ConditionExpression=(
                    "attribute_exists(finalized_at) AND NOT event_published = :true"
                    " AND (attribute_not_exists(event_claimed_at) OR event_claimed_at < :stale)"
                ),
                ExpressionAttributeValues={
                    ":now": now.isoformat(),
                    ":stale": (now - stale_after).isoformat(),
                    ":true": True,
                },
            )
        except ClientError as exc:
            if _is_condition_failure(exc):
                return False
            raise
        return True

    def release_event_claim(self, session_id: str) -> None:
        self._table.update_item(Key={"pk": session_id}, UpdateExpression="REMOVE event_claimed_at")

    def mark_event_published(self, session_id: str) -> None:
        self._table.update_item(
            Key={"pk": session_id},
            UpdateExpression="SET event_published = :true",
            ExpressionAttributeValues={":true": True},
        )

    def _update(self, session_id: str, update: SessionUpdate) -> bool:
        names = {"#status": "status"}
        expression_values: dict[str, Any] = {}
        assignments = []
        for index, (name, value) in enumerate(update.values.items()):
            names[f"#f{index}"] = name
            expression_values[f":v{index}"] = value
            assignments.append(f"#f{index} = :v{index}")
        if update.pin_try_limit is not None:
            assignments.append("pin_attempts = if_not_exists(pin_attempts, :zero) + :one")
            expression_values.update({":zero": 0, ":one": 1, ":pin_limit": update.pin_try_limit})
        expression = "SET " + ", ".join(assignments)
        if update.removed:
            for index, name in enumerate(update.removed):
                names[f"#r{index}"] = name
            expression += " REMOVE " + ", ".join(f"#r{index}" for index in range(len(update.removed)))
        if not update.allowed:
            return False  # no status may move there (pending): nothing to write
        placeholders = []
        for index, status in enumerate(update.allowed):
            expression_values[f":s{index}"] = status.value
            placeholders.append(f":s{index}")
        condition = f"attribute_exists(pk) AND #status IN ({', '.join(placeholders)})"
        if update.pin_try_limit is not None:
            condition += " AND (attribute_not_exists(pin_attempts) OR pin_attempts < :pin_limit)"
        try:
            self._table.update_item(
                Key={"pk": session_id},
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=expression_values,
            )
        except ClientError as exc:
            if _is_condition_failure(exc):
                return False
            raise
        return True


class KeyStore:
    """API keys, stored by the SHA-256 of the key: the key itself is never stored."""

    def __init__(self, table_name: str, *, dynamodb: Any = None) -> None:
        self._table = (dynamodb or _dynamodb()).Table(table_name)

    def get(self, key_hash: str) -> dict[str, Any] | None:
        item = self._table.get_item(Key={"key_hash": key_hash}).get("Item")
        return _from_dynamo(item) if item else None

    def add(self, item: Mapping[str, Any]) -> bool:
        try:
            self._table.put_item(Item=dict(item), ConditionExpression="attribute_not_exists(key_hash)")
        except ClientError as exc:
            if _is_condition_failure(exc):
                return False
            raise
        return True

    def revoke(self, key_hash: str, *, now: datetime) -> bool:
        try:
            self._table.update_item(
                Key={"key_hash": key_hash},
                UpdateExpression="SET revoked_at = :now",
                ConditionExpression="attribute_exists(key_hash)",
                ExpressionAttributeValues={":now": now.isoformat()},
            )
        except ClientError as exc:
            if _is_condition_failure(exc):
                return False
            raise
        return True

    def all(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {}
        while True:
            page = self._table.scan(**kwargs)
            items += [_from_dynamo(item) for item in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
