"""An in-memory `SessionRepository` (idgate.repository), for tests of the use cases that need neither
DynamoDB nor moto: `Idgate(sessions=fresh_session_store(), ...)`.

It is a faithful fake, held to SessionStore by tests/unit/test_session_repository_*.py: it
stores the very items SessionStore writes (idgate.store computes them for both), in DynamoDB's typed
form (boto3's serializer, so a value DynamoDB cannot hold fails the same way), evaluates the same
conditions as DynamoDB does (comparisons only between values of one type; ISO strings compared as
strings), and answers with the same values and errors. Every operation holds one lock, as DynamoDB
serializes the writes to an item, so conditional writes race as they would there.

Where moto departs from DynamoDB it follows DynamoDB: a request that names an attribute both set and
removed, or sets `pk`, or uses an empty id, is refused before its condition is evaluated; an update
that would leave an empty or non-string `provider`/`provider_ref` (the index keys) is refused; a
REMOVE-only update of an unknown id creates nothing. Not modelled: the 400 KB item size limit, and the
index's eventual consistency (an added session is found at once).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from idgate.announced import Announced, announced_of
from idgate.domain import Cause, Session, Status
from idgate.dynamo import from_dynamo
from idgate.repository import ANNOUNCED_EVENTS, REDACTED_FIELDS
from idgate.session_writes import (
    SessionUpdate,
    advance_update,
    history_entry,
    open_update,
    session_from_item,
    session_item,
)
from tests.support.dynamo_answers import (
    Item,
    check_index_keys,
    check_key,
    condition_failed,
    invalid,
    less_than,
    serialized,
    serializer,
)

KEY = "pk"
DEFAULT_RETENTION = timedelta(days=30)

_deserializer = TypeDeserializer()


def fresh_session_store(retention: timedelta = DEFAULT_RETENTION) -> InMemorySessionStore:
    """An empty store, to pass as `Idgate(sessions=...)`."""
    return InMemorySessionStore(retention=retention)


class InMemorySessionStore:
    """The SessionRepository in a dict, with DynamoDB's semantics (see the module's docstring)."""

    def __init__(self, *, retention: timedelta = DEFAULT_RETENTION) -> None:
        self._retention = retention
        self._items: dict[str, Item] = {}
        self._lock = threading.Lock()

    # ---- the SessionRepository ----------------------------------------------------------------

    def add(self, session: Session) -> None:
        item = serialized(session_item(session, retention=self._retention))
        check_key(session.id, KEY, "PutItem")
        check_index_keys(item, "PutItem")
        with self._lock:
            if session.id in self._items:
                raise condition_failed("PutItem")
            self._items[session.id] = item

    def get(self, session_id: str) -> Session | None:
        item = self.stored_item(session_id, operation="GetItem")
        return session_from_item(item) if item is not None else None

    def announced(self, session_id: str) -> Announced | None:
        item = self.stored_item(session_id, operation="GetItem")
        return announced_of(from_dynamo(item)) if item is not None else None

    def find_by_provider_ref(self, provider: str, provider_ref: str) -> Session | None:
        check_key(provider, "provider", "Query")
        check_key(provider_ref, "provider_ref", "Query")
        wanted = {"provider": {"S": provider}, "provider_ref": {"S": provider_ref}}
        with self._lock:
            found = next(
                (
                    session_id
                    for session_id, item in self._items.items()
                    if all(item.get(name) == value for name, value in wanted.items())
                ),
                None,
            )
        # Two requests, as on DynamoDB: the index gives the id, then the session is read.
        return self.get(found) if found is not None else None

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
        return self._update(session_id, open_update(now=now, fields=fields))

    def count_open(self, client_id: str, *, limit: int) -> int:
        check_key(client_id, "open_client", "Query")
        wanted = {"S": client_id}
        with self._lock:
            found = sum(1 for item in self._items.values() if item.get("open_client") == wanted)
        return min(found, limit)

    def count_pin_attempt(self, session_id: str, *, max_attempts: int) -> int | None:
        limit = serializer.serialize(max_attempts)
        check_key(session_id, KEY, "UpdateItem")
        with self._lock:
            item = self._items.get(session_id)
            if (
                item is None
                or item.get("status") != {"S": Status.AWAITING_PIN.value}
                or ("pin_attempts" in item and not less_than(item["pin_attempts"], limit))
            ):
                return None
            count = Decimal(item.get("pin_attempts", {"N": "0"})["N"]) + 1
            self._items[session_id] = {**item, "pin_attempts": serializer.serialize(count)}
        return int(count)

    def claim_look(self, session_id: str, *, now: datetime, every: timedelta) -> bool:
        since = serializer.serialize((now - every).isoformat())
        check_key(session_id, KEY, "UpdateItem")
        with self._lock:
            item = self._items.get(session_id)
            if (
                item is None
                or "finalized_at" in item
                or ("looked_at" in item and less_than(since, item["looked_at"]))
            ):
                return False
            self._items[session_id] = {**item, "looked_at": serializer.serialize(now.isoformat())}
        return True

    def claim_event(
        self, session_id: str, *, now: datetime, stale_after: timedelta, event: str = "finalized"
    ) -> bool:
        marks = ANNOUNCED_EVENTS[event]
        stale = serializer.serialize((now - stale_after).isoformat())
        check_key(session_id, KEY, "UpdateItem")
        with self._lock:
            item = self._items.get(session_id)
            if (
                item is None
                or marks.due not in item
                or item.get(marks.published) == {"BOOL": True}
                or (marks.claimed in item and not less_than(item[marks.claimed], stale))
            ):
                return False
            self._items[session_id] = {**item, marks.claimed: serializer.serialize(now.isoformat())}
        return True

    def release_event_claim(self, session_id: str, event: str = "finalized") -> None:
        claimed = ANNOUNCED_EVENTS[event].claimed
        check_key(session_id, KEY, "UpdateItem")
        with self._lock:
            item = self._items.get(session_id)
            # A REMOVE alone creates no item on DynamoDB (moto would create one holding only `pk`).
            if item is not None:
                self._items[session_id] = {name: value for name, value in item.items() if name != claimed}

    def mark_event_published(self, session_id: str, event: str = "finalized") -> None:
        published = ANNOUNCED_EVENTS[event].published
        check_key(session_id, KEY, "UpdateItem")
        with self._lock:
            # Unconditional SET: on an unknown id, DynamoDB creates an item of the key and the flag.
            item = self._items.get(session_id, {KEY: {"S": session_id}})
            self._items[session_id] = {**item, published: {"BOOL": True}}

    def redact(self, session_id: str, *, status: Status, now: datetime) -> bool:
        check_key(session_id, KEY, "UpdateItem")
        entry = serializer.serialize(history_entry(now=now, status=status, cause=Cause.REDACT))
        with self._lock:
            item = self._items.get(session_id)
            if (
                item is None
                or "finalized_at" not in item
                or "result" not in item
                or item.get("status") != {"S": status.value}
                or "redacted_at" in item
            ):
                return False
            result = {"M": {**item["result"]["M"], "data": {"M": {}}}}
            stamp = serializer.serialize(now.isoformat())
            history = item.get("history", {"L": []})["L"]
            kept = {name: value for name, value in item.items() if name not in REDACTED_FIELDS}
            self._items[session_id] = {
                **kept,
                "result": result,
                "redacted_at": stamp,
                "updated_at": stamp,
                "history": {"L": [*history, entry]},
            }
        return True

    # ---- for tests ----------------------------------------------------------------------------

    def stored_item(self, session_id: str, *, operation: str = "GetItem") -> dict[str, Any] | None:
        """The item as boto3's DynamoDB resource would return it (numbers as Decimal), or None."""
        check_key(session_id, KEY, operation)
        with self._lock:
            item = self._items.get(session_id)
            return {name: _deserializer.deserialize(value) for name, value in item.items()} if item else None

    # ---- internals ----------------------------------------------------------------------------

    def _update(self, session_id: str, update: SessionUpdate) -> bool:
        if not update.allowed:
            return False  # SessionStore sends nothing: no status may move there
        values = serialized(update.values)
        check_key(session_id, KEY, "UpdateItem")
        written = [*update.values, *update.removed]
        if KEY in written:
            raise invalid(
                "One or more parameter values were invalid: Cannot update attribute pk. This attribute is"
                " part of the key",
                "UpdateItem",
            )
        overlapping = sorted({name for name in written if written.count(name) > 1})
        if overlapping:
            raise invalid(
                "Invalid UpdateExpression: Two document paths overlap with each other; must remove or"
                f" rewrite one of these paths; paths: {overlapping}",
                "UpdateItem",
            )
        allowed = [{"S": status.value} for status in update.allowed]
        with self._lock:
            item = self._items.get(session_id)
            if item is None or item.get("status") not in allowed:
                return False
            if update.pin_try_limit is not None:
                limit = serializer.serialize(update.pin_try_limit)
                if "pin_attempts" in item and not less_than(item["pin_attempts"], limit):
                    return False
                count = Decimal(item.get("pin_attempts", {"N": "0"})["N"]) + 1
                values = {**values, "pin_attempts": serializer.serialize(count)}
            if update.history_entry is not None:
                history = item.get("history", {"L": []})["L"]
                values = {**values, "history": {"L": [*history, serializer.serialize(update.history_entry)]}}
            changed = {
                name: value for name, value in {**item, **values}.items() if name not in update.removed
            }
            check_index_keys(changed, "UpdateItem")
            self._items[session_id] = changed
        return True
