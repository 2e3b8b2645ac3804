"""Erasing a final session's personal data, and reading what happened to a session: both for the secret key
of the client that created it."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from idgate.api import Caller
from idgate.domain import Session
from idgate.errors import Conflict
from idgate.ports import Dependencies
from idgate.session_access import owned_session

logger = Logger(service="idgate", child=True)


class Redacting:
    def __init__(self, deps: Dependencies) -> None:
        self._deps = deps

    def redact(self, caller: Caller, session_id: str) -> Session:
        """Removes what could tie a final session to a person (repository.REDACTED_FIELDS, the result's
        data); the status, decision, reason codes and times stay, and its `session.redacted` event follows
        from the change stream (idgate.announcing). Repeating it changes nothing. An open session is
        refused: it is still being followed, and its verdict would bring data back."""
        sessions = self._deps.sessions
        session = owned_session(sessions, caller, session_id, action="redacting a session")
        if not session.status.is_final:
            raise Conflict("the session is still open; cancel it first", code="session_open")
        if session.redacted_at is None and sessions.redact(
            session.id, status=session.status, now=self._deps.clock()
        ):
            logger.info("session redacted", session_id=session.id)
        return sessions.get(session.id) or session

    def history(self, caller: Caller, session_id: str) -> dict[str, Any]:
        """The session's status changes in order, as GET /v1/sessions/{id}/history answers them."""
        session = owned_session(self._deps.sessions, caller, session_id, action="reading a session's history")
        return {
            "id": session.id,
            "history": [change.model_dump(mode="json") for change in session.history],
        }
