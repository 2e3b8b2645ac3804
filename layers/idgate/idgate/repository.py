"""The sessions' persistence as the use cases see it (implemented by idgate.store.SessionStore)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

from idgate.domain import Session, Status


class SessionRepository(Protocol):
    def add(self, session: Session) -> None: ...

    def get(self, session_id: str) -> Session | None: ...

    def find_by_provider_ref(self, provider: str, provider_ref: str) -> Session | None: ...

    def advance(
        self,
        session_id: str,
        target: Status,
        *,
        now: datetime,
        fields: Mapping[str, Any] | None = None,
        remove: Iterable[str] = (),
    ) -> bool: ...

    def update_open(self, session_id: str, *, now: datetime, fields: Mapping[str, Any]) -> bool: ...

    def count_pin_attempt(self, session_id: str, *, max_attempts: int) -> int | None: ...

    def claim_event(self, session_id: str, *, now: datetime, stale_after: timedelta) -> bool: ...

    def release_event_claim(self, session_id: str) -> None: ...

    def mark_event_published(self, session_id: str) -> None: ...
