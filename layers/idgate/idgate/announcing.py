"""Announcing a final status once: the final-status event, published from the sessions table's change stream
(functions/publisher), never from the writer's path, so that no final status can miss its event whatever
wrote it, and a publish that fails is retried by the stream.

A module of its own, on the sessions table and the event publisher only, so that the publisher function builds
and imports nothing else: no provider client, no requests, no use case of the API (idgate.wiring), and no
session model: it reads a session as its events tell it (idgate.announced), whichever store it is given.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol

from aws_lambda_powertools import Logger

from idgate.announced import Announced

logger = Logger(service="idgate", child=True)

#: Pauses between tries to publish a final-status event before leaving it to the stream's retry.
EVENT_RETRY_PAUSES = (0.2, 0.6)

#: A publisher that claimed a final event and did not finish within this time is presumed dead.
EVENT_CLAIM_STALE_AFTER = timedelta(seconds=60)


class Publisher(Protocol):
    def session_finalized(self, session: Announced) -> None: ...

    def session_redacted(self, session: Announced) -> None: ...


class AnnouncedSessions(Protocol):
    """What announcing uses of the sessions: the `SessionRepository` (idgate.repository) has it all, and so
    has the sessions table alone (idgate.session_table), which the publisher function builds."""

    def announced(self, session_id: str) -> Announced | None: ...

    def claim_event(
        self, session_id: str, *, now: datetime, stale_after: timedelta, event: str = "finalized"
    ) -> bool: ...

    def release_event_claim(self, session_id: str, event: str = "finalized") -> None: ...

    def mark_event_published(self, session_id: str, event: str = "finalized") -> None: ...


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Announcer:
    def __init__(
        self,
        sessions: AnnouncedSessions,
        publisher: Publisher,
        *,
        clock: Callable[[], datetime] = _utc_now,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._sessions = sessions
        self._publisher = publisher
        self._clock = clock
        self._sleep = sleep

    def publish_final(self, session_id: str) -> bool:
        """Publishes the session's final-status event once; False when the session is not final (or
        unknown) and there is nothing to publish. Raises when publishing fails (the stream retries)."""
        session = self._sessions.announced(session_id)
        if session is None or not session.status.is_final:
            return False
        self.ensure_event(session)
        return True

    def publish_redacted(self, session_id: str) -> bool:
        """Publishes the session's `session.redacted` event once; False when it is not redacted (or
        unknown). Raises when publishing fails (the stream retries)."""
        session = self._sessions.announced(session_id)
        if session is None or session.redacted_at is None:
            return False
        if not session.redaction_published:
            self._announce(session, "redacted", self._publisher.session_redacted)
        return True

    def ensure_event(self, session: Announced) -> None:
        """Publishes the final-status event unless it was published or another publisher is at it (a
        claim taken by a conditional write). Raises when publishing fails, after a few tries, with the
        claim released: the stream then retries the record."""
        if not session.event_published:
            self._announce(session, "finalized", self._publisher.session_finalized)

    def _announce(self, session: Announced, event: str, publish: Callable[[Announced], None]) -> None:
        sessions = self._sessions
        now = self._clock()
        if not sessions.claim_event(session.id, now=now, stale_after=EVENT_CLAIM_STALE_AFTER, event=event):
            return
        for pause in (*EVENT_RETRY_PAUSES, None):
            try:
                publish(session)
                break
            except Exception:
                if pause is None:
                    sessions.release_event_claim(session.id, event)
                    raise
                logger.warning("publishing an event failed; retrying", session_id=session.id, event=event)
                self._sleep(pause)
        sessions.mark_event_published(session.id, event)
