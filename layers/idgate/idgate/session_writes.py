"""What each write of a session stores, computed apart from the table calls, so that idgate.store and the
in-memory repository of the tests (tests/support/memory_store.py) store exactly the same."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from idgate.domain import FINAL_STATUSES, Cause, Session, Status, statuses_before
from idgate.dynamo import from_dynamo, to_dynamo
from idgate.repository import OPEN_ONLY_FIELDS


def epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def session_item(session: Session, *, retention: timedelta) -> dict[str, Any]:
    """The item `add` writes: the session in JSON mode (floats as Decimal), `pk` and `expires_ttl`."""
    item: dict[str, Any] = to_dynamo(session.model_dump(mode="json", exclude_none=True))
    item["pk"] = session.id
    item["expires_ttl"] = epoch(session.expires_at + retention)
    if not session.status.is_final:
        item["open_client"] = session.client_id
    return item


def session_from_item(item: Mapping[str, Any]) -> Session:
    return Session.model_validate(from_dynamo(dict(item)))


@dataclass(frozen=True)
class SessionUpdate:
    """One conditional update: the attributes it sets (ready for DynamoDB) and removes, applied only
    if the session exists and is in one of the `allowed` statuses (none: it never applies)."""

    values: dict[str, Any]
    removed: list[str]
    allowed: list[Status]
    #: When set, the write also counts a PIN try and applies only if fewer than this many were counted.
    pin_try_limit: int | None = None
    #: The entry the write appends to the session's `history` (ready for DynamoDB), if any.
    history_entry: dict[str, Any] | None = None


def history_entry(
    *, now: datetime, status: Status, cause: Cause, reasons: Iterable[str] = ()
) -> dict[str, Any]:
    """One status change as `history` stores it (a `domain.StatusChange` in JSON mode)."""
    return {"at": now.isoformat(), "status": status.value, "reasons": list(reasons), "cause": cause.value}


def _reasons_of(fields: Mapping[str, Any] | None) -> list[str]:
    result = (fields or {}).get("result")
    reasons = result.get("reasons") if isinstance(result, Mapping) else None
    return [str(reason) for reason in reasons] if isinstance(reasons, list) else []


def advance_update(
    target: Status,
    *,
    now: datetime,
    cause: Cause,
    fields: Mapping[str, Any] | None,
    remove: Iterable[str],
    retention: timedelta,
    pin_try_limit: int | None = None,
) -> SessionUpdate:
    values: dict[str, Any] = {"status": target.value, "updated_at": now.isoformat(), **(fields or {})}
    removed = list(remove)
    if "history" in values or "history" in removed:
        raise ValueError("a status change appends to history itself")
    entry = to_dynamo(history_entry(now=now, status=target, cause=cause, reasons=_reasons_of(fields)))
    if "expires_at" in values and target not in FINAL_STATUSES:
        # A session followed for longer (PIN, review) must not be removed while it is still open.
        values["expires_ttl"] = epoch(datetime.fromisoformat(values["expires_at"]) + retention)
    if target in FINAL_STATUSES:
        values["finalized_at"] = now.isoformat()
        values["expires_ttl"] = epoch(now + retention)
        removed += OPEN_ONLY_FIELDS
    update = _update_of(values, removed, allowed=statuses_before(target))
    if pin_try_limit is None:
        return SessionUpdate(update.values, update.removed, update.allowed, None, entry)
    if "pin_attempts" in values:
        raise ValueError("a write that counts a PIN try cannot also set pin_attempts")
    return SessionUpdate(update.values, update.removed, [Status.AWAITING_PIN], pin_try_limit, entry)


def open_update(*, now: datetime, fields: Mapping[str, Any]) -> SessionUpdate:
    values = {"updated_at": now.isoformat(), **fields}
    open_statuses = [status for status in Status if status not in FINAL_STATUSES]
    return _update_of(values, [], allowed=open_statuses)


def _update_of(values: Mapping[str, Any], removed: list[str], *, allowed: list[Status]) -> SessionUpdate:
    return SessionUpdate(
        values={name: to_dynamo(value) for name, value in values.items()},
        removed=list(dict.fromkeys(removed)),
        allowed=allowed,
    )
