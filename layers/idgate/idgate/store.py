"""The sessions on DynamoDB (API keys are idgate.keystore's; the sessions table also holds the shared provider
tokens, idgate.shared_token, and the idempotency keys, idgate.idempotency).

Every status change is a conditional write whose condition is "the session is in a status that may
move to this one", so a final status is written once and never changes, whatever order or number of
triggers (polls, webhooks, PIN submissions) arrives.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from idgate.domain import Cause, Session, Status
from idgate.dynamo import is_condition_failure
from idgate.repository import REDACTED_FIELDS
from idgate.session_table import SessionTable
from idgate.session_writes import (
    SessionUpdate,
    advance_update,
    epoch,
    history_entry,
    open_update,
    session_from_item,
    session_item,
)

__all__ = ["SessionStore", "epoch", "session_from_item", "session_item"]

PROVIDER_REF_INDEX = "by_provider_ref"
OPEN_BY_CLIENT_INDEX = "open_by_client"
#: The key conditions of the two index queries, with the placeholders boto3's resource made for them when the
#: store used it (`Key(...).eq(...)`): the requests DynamoDB receives stayed the same.
_PROVIDER_REF_CONDITION = "(#n0 = :v0 AND #n1 = :v1)"
_OPEN_CLIENT_CONDITION = "#n0 = :v0"
#: The entry of a status change goes into the same conditional write as the change itself.
_APPEND_HISTORY = "#history = list_append(if_not_exists(#history, :no_history), :history_entry)"


class SessionStore(SessionTable):
    """The sessions on DynamoDB: the `SessionRepository` of idgate.repository, which states the contract.
    `client`: a DynamoDB client (idgate.dynamo says why not a resource), shared with the container's other
    users of the table (idgate.wiring); by default one of its own. What the publisher function uses of it
    (the announced view, the events' claims and marks) is idgate.session_table's."""

    def __init__(self, table_name: str, *, retention: timedelta, client: Any = None) -> None:
        super().__init__(table_name, client=client)
        self._retention = retention

    def add(self, session: Session) -> None:
        """Stores a new session. Its TTL already counts from its expiry, so that it is removed even if it
        never reaches a final status."""
        item = session_item(session, retention=self._retention)
        self._client.put_item(
            TableName=self._table,
            Item=self._values.typed(item),
            ConditionExpression="attribute_not_exists(pk)",
        )

    def get(self, session_id: str) -> Session | None:
        item = self._stored(session_id)
        return session_from_item(item) if item is not None else None

    def find_by_provider_ref(self, provider: str, provider_ref: str) -> Session | None:
        answer = self._client.query(
            TableName=self._table,
            IndexName=PROVIDER_REF_INDEX,
            KeyConditionExpression=_PROVIDER_REF_CONDITION,
            ExpressionAttributeNames={"#n0": "provider", "#n1": "provider_ref"},
            ExpressionAttributeValues=self._values.typed({":v0": provider, ":v1": provider_ref}),
            Limit=1,
        )
        items = answer.get("Items", [])
        return self.get(self._values.plain(items[0])["pk"]) if items else None

    def advance(
        self,
        session_id: str,
        target: Status,
        *,
        now: datetime,
        cause: Cause,
        fields: Mapping[str, Any] | None = None,
        remove: Iterable[str] = (),
        pin_try_limit: int | None = None,
    ) -> bool:
        """Moves the session to `target` if its current status may move there. False when it may not
        (it is already there, further on, or final): the caller lost a race and must change nothing."""
        update = advance_update(
            target,
            now=now,
            cause=cause,
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
        answer = self._client.query(
            TableName=self._table,
            IndexName=OPEN_BY_CLIENT_INDEX,
            KeyConditionExpression=_OPEN_CLIENT_CONDITION,
            ExpressionAttributeNames={"#n0": "open_client"},
            ExpressionAttributeValues=self._values.typed({":v0": client_id}),
            Select="COUNT",
            Limit=limit,
        )
        return int(answer["Count"])

    def count_pin_attempt(self, session_id: str, *, max_attempts: int) -> int | None:
        """Counts one PIN try atomically, before the PIN is compared, so parallel guesses cannot exceed
        the limit. The new count, or None when the session does not await a PIN or has no tries left."""
        try:
            answer = self._update_item(
                session_id,
                UpdateExpression="ADD pin_attempts :one",
                ConditionExpression=(
                    "#status = :awaiting AND (attribute_not_exists(pin_attempts) OR pin_attempts < :max)"
                ),
                ExpressionAttributeNames={"#status": "status"},
                values={":one": 1, ":awaiting": Status.AWAITING_PIN.value, ":max": max_attempts},
                ReturnValues="UPDATED_NEW",
            )
        except ClientError as exc:
            if is_condition_failure(exc):
                return None
            raise
        return int(self._values.plain(answer["Attributes"])["pin_attempts"])

    def claim_look(self, session_id: str, *, now: datetime, every: timedelta) -> bool:
        return self._conditional_update(
            session_id,
            UpdateExpression="SET looked_at = :now",
            ConditionExpression=(
                "attribute_exists(pk) AND attribute_not_exists(finalized_at)"
                " AND (attribute_not_exists(looked_at) OR looked_at <= :since)"
            ),
            values={":now": now.isoformat(), ":since": (now - every).isoformat()},
        )

    def redact(self, session_id: str, *, status: Status, now: datetime) -> bool:
        """Erases a final session's personal data in one conditional write, with its history entry."""
        names = {"#status": "status", "#result": "result", "#data": "data", "#history": "history"}
        names.update({f"#r{index}": name for index, name in enumerate(REDACTED_FIELDS)})
        removed = ", ".join(f"#r{index}" for index in range(len(REDACTED_FIELDS)))
        entry = history_entry(now=now, status=status, cause=Cause.REDACT)
        return self._conditional_update(
            session_id,
            UpdateExpression=(
                f"SET redacted_at = :now, updated_at = :now, #result.#data = :no_data, {_APPEND_HISTORY}"
                f" REMOVE {removed}"
            ),
            ConditionExpression=(
                "attribute_exists(finalized_at) AND attribute_exists(#result) AND #status = :status"
                " AND attribute_not_exists(redacted_at)"
            ),
            ExpressionAttributeNames=names,
            values={
                ":now": now.isoformat(),
                ":no_data": {},
                ":status": status.value,
                ":no_history": [],
                ":history_entry": [entry],
            },
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
        if update.history_entry is not None:
            names["#history"] = "history"
            assignments.append(_APPEND_HISTORY)
            expression_values.update({":no_history": [], ":history_entry": [update.history_entry]})
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
        return self._conditional_update(
            session_id,
            UpdateExpression=expression,
            ConditionExpression=condition,
            ExpressionAttributeNames=names,
            values=expression_values,
        )
