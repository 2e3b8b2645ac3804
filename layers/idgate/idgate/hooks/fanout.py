"""From the sessions table's change stream to deliveries: each event (a final status: `session.finalized`; a
non-final status change: `session.updated`) becomes one delivery per endpoint of the session's client
subscribed to its type, stored with its payload and its first try queued. The outbox is the stream, never a
request's path.

A stream record is delivered at least once, and a session's item is written many times in one status; the
event's id is the same for all of them (idgate.hooks.model.event_id), a delivery is stored only if new, and an
event already fanned out is passed over at the cost of one read.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger

from idgate.api import session_view
from idgate.domain import Session
from idgate.hooks.model import (
    Attempt,
    Delivery,
    EndpointStatus,
    EventType,
    event_id,
    event_ids_of,
    event_of,
)
from idgate.hooks.store import HookStore

# A type only: the fan-out function builds no endpoint administration (its URL checks, its request models),
# whose import was about 0.02 of the floor of that function's first invocation.
if TYPE_CHECKING:
    from idgate.hooks.endpoints import Queue

logger = Logger(service="idgate", child=True)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def payload(event_type: EventType, occurred_at: datetime, session: Session) -> str:
    """The body: `{"type", "timestamp", "data"}`, data being the session as GET shows it to a secret key."""
    timestamp = occurred_at.isoformat().replace("+00:00", "Z")
    return json.dumps({"type": event_type.value, "timestamp": timestamp, "data": session_view(session)})


class Fanout:
    def __init__(self, store: HookStore, queue: Queue, *, clock: Callable[[], datetime] = _utc_now) -> None:
        self._store = store
        self._queue = queue
        self._clock = clock

    def session_changed(self, session: Session) -> int:
        """Fans the session's current event out; the number of deliveries queued."""
        event_type = event_of(session)
        if event_type is None:
            return 0
        identifier = event_id(session.id, session.status)
        if self._store.fanned_out(identifier):
            return 0
        occurred_at = (
            session.finalized_at if event_type is EventType.FINALIZED else None
        ) or session.updated_at
        body = payload(event_type, occurred_at, session)
        queued = 0
        made: list[Delivery] = []
        for endpoint in self._store.endpoints(session.client_id):
            if event_type not in endpoint.events or endpoint.status is EndpointStatus.DISABLED:
                continue
            now = self._clock()
            delivery = Delivery(
                endpoint_id=endpoint.id,
                event_id=identifier,
                type=event_type,
                session_id=session.id,
                occurred_at=occurred_at,
                payload=body,
                created_at=now,
                next_try_at=now,
            )
            made.append(delivery)
            if not self._store.add_delivery(delivery):
                found = self._store.delivery(endpoint.id, occurred_at, identifier)
                if found is None or found.enqueued:
                    continue  # queued by an earlier look at this event
                delivery = found  # stored, then its queuing failed: queue it now
            self._queue.send(
                Attempt(
                    client_id=endpoint.client_id,
                    endpoint_id=endpoint.id,
                    event_id=identifier,
                    occurred_at=occurred_at,
                    series=delivery.series,
                    attempt=1,
                    not_before=now,
                ),
                now=now,
            )
            self._store.mark_enqueued(delivery)
            queued += 1
        if made:  # nothing to pass over next time otherwise: a client without endpoints costs no write
            self._store.mark_fanned_out(identifier, occurred_at, made)
        if queued:
            logger.info("webhook deliveries queued", session_id=session.id, event_id=identifier, count=queued)
        return queued

    def session_redacted(self, session_id: str) -> int:
        """Removes the payloads of every delivery of the session's events (its personal data was erased);
        their records stay, and a try or replay of one sends nothing. How many deliveries it reached."""
        forgotten = sum(self._store.forget_payloads(identifier) for identifier in event_ids_of(session_id))
        logger.info("webhook payloads of a redacted session removed", session_id=session_id, count=forgotten)
        return forgotten
