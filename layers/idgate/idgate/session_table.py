"""The sessions table's item access shared by the session store (idgate.store) and the publisher function,
which uses only this: a session read as its events tell it (idgate.announced), and the claims and marks of
those events (repository.ANNOUNCED_EVENTS).

A module of its own, without the session's models: the publisher's first invocation builds this and the
event publisher only, and pydantic's import with the models was about 0.25 of the floor of its cold start
(README, "cold starts"). `SessionStore` extends it: one table, one way of writing to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from idgate.announced import ANNOUNCED_EVENTS, Announced, announced_of
from idgate.dynamo import AttributeValues, from_dynamo, is_condition_failure, new_client


class SessionTable:
    """The sessions table on a DynamoDB client (idgate.dynamo says why not a resource): `client` is shared
    with the container's other users of the table (idgate.wiring); by default one of its own."""

    def __init__(self, table_name: str, *, client: Any = None) -> None:
        self._client = client or new_client()
        self._table = table_name
        self._values = AttributeValues()

    def announced(self, session_id: str) -> Announced | None:
        item = self._stored(session_id)
        return announced_of(from_dynamo(item)) if item is not None else None

    def claim_event(
        self, session_id: str, *, now: datetime, stale_after: timedelta, event: str = "finalized"
    ) -> bool:
        """Claims the right to publish a session's `event` (repository.ANNOUNCED_EVENTS), so that two
        triggers cannot both publish. A claim whose publisher died (older than `stale_after`) may be
        taken over."""
        marks = ANNOUNCED_EVENTS[event]
        return self._conditional_update(
            session_id,
            UpdateExpression="SET #claimed = :now",
            ConditionExpression=(
                "attribute_exists(#due) AND NOT #published = :true"
                " AND (attribute_not_exists(#claimed) OR #claimed < :stale)"
            ),
            ExpressionAttributeNames={
                "#claimed": marks.claimed,
                "#published": marks.published,
                "#due": marks.due,
            },
            values={":now": now.isoformat(), ":stale": (now - stale_after).isoformat(), ":true": True},
        )

    def release_event_claim(self, session_id: str, event: str = "finalized") -> None:
        self._update_item(
            session_id,
            UpdateExpression="REMOVE #claimed",
            ExpressionAttributeNames={"#claimed": ANNOUNCED_EVENTS[event].claimed},
        )

    def mark_event_published(self, session_id: str, event: str = "finalized") -> None:
        self._update_item(
            session_id,
            UpdateExpression="SET #published = :true",
            ExpressionAttributeNames={"#published": ANNOUNCED_EVENTS[event].published},
            values={":true": True},
        )

    def _stored(self, session_id: str) -> dict[str, Any] | None:
        """The session's item now (a strongly consistent read), as Python values (numbers as Decimal)."""
        answer = self._client.get_item(TableName=self._table, Key=self._key(session_id), ConsistentRead=True)
        item = answer.get("Item")
        return self._values.plain(item) if item else None

    def _key(self, session_id: str) -> dict[str, Any]:
        return self._values.typed({"pk": session_id})

    def _update_item(
        self, session_id: str, *, values: Mapping[str, Any] | None = None, **request: Any
    ) -> dict[str, Any]:
        """One UpdateItem of the session, `values` being its ExpressionAttributeValues, not typed yet."""
        if values is not None:
            request["ExpressionAttributeValues"] = self._values.typed(values)
        answer: dict[str, Any] = self._client.update_item(
            TableName=self._table, Key=self._key(session_id), **request
        )
        return answer

    def _conditional_update(self, session_id: str, **request: Any) -> bool:
        """`_update_item`: False when its condition refused it."""
        try:
            self._update_item(session_id, **request)
        except ClientError as exc:
            if is_condition_failure(exc):
                return False
            raise
        return True
