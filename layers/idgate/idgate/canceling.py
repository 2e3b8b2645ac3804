"""Canceling an open session: the creating client ends it `expired` with reason `canceled`."""

from __future__ import annotations

from aws_lambda_powertools import Logger

from idgate.api import Caller
from idgate.domain import Cause, Reason, Result, Session, Status
from idgate.errors import Conflict, ProviderRejected, ProviderUnavailable
from idgate.finalizing import Finalizer
from idgate.ports import Dependencies
from idgate.providers.base import CancelableProvider
from idgate.session_access import owned_session

logger = Logger(service="idgate", child=True)


class Canceling:
    def __init__(self, deps: Dependencies, finalizer: Finalizer) -> None:
        self._deps = deps
        self._finalizer = finalizer

    def cancel(self, caller: Caller, session_id: str) -> Session:
        """Ends the session `expired` (reason `canceled`), written once like any final status: a verdict
        that got there first wins, and the caller learns it by a 409. Its follow-up stops at its next look,
        which finds the session final; its event goes out as every final status's does."""
        session = owned_session(self._deps.sessions, caller, session_id, action="canceling a session")
        if session.status.is_final:
            raise Conflict("the session is already final", code="session_final")
        provider = self._deps.providers[session.provider]
        if isinstance(provider, CancelableProvider):
            try:
                provider.cancel(session)
            except (ProviderUnavailable, ProviderRejected) as exc:
                # Ours ends whatever the provider says: its verdict, if one still comes, is ignored.
                logger.warning("the provider could not cancel", session_id=session.id, reason=exc.reason)
        result = Result(decision=Status.EXPIRED, reasons=[Reason.CANCELED])
        if not self._finalizer.finalize(session, result, cause=Cause.CANCEL):
            raise Conflict("the session is already final", code="session_final")
        logger.info("session canceled", session_id=session.id)
        return self._deps.sessions.get(session.id) or session
