"""Writing a final status once.

A final status is written by whichever trigger wins (a poll step, a webhook, a PIN); its event is
published from the table's change stream (idgate.announcing), never from the writer's path."""

from __future__ import annotations

from aws_lambda_powertools import Logger

from idgate import metrics
from idgate.domain import Cause, Reason, Result, Session, Status
from idgate.ports import Dependencies

logger = Logger(service="idgate", child=True)


class Finalizer:
    def __init__(self, deps: Dependencies) -> None:
        self._deps = deps

    def finalize(
        self, session: Session, result: Result, *, cause: Cause, pin_try_limit: int | None = None
    ) -> bool:
        """Writes the final status once, with `cause` in its history; False when another trigger already
        did. Its event follows from the change stream (idgate.announcing). `pin_try_limit`: the write also
        counts a PIN try, within that limit (the right PIN's approval)."""
        sessions = self._deps.sessions
        won = sessions.advance(
            session.id,
            result.decision,
            now=self._deps.clock(),
            cause=cause,
            fields={"result": result.model_dump(mode="json")},
            pin_try_limit=pin_try_limit,
        )
        if not won:
            logger.info("final status already written; trigger ignored", session_id=session.id)
            return False
        logger.info(
            "session finalized", session_id=session.id, status=result.decision.value, reasons=result.reasons
        )
        status = result.decision.value
        metrics.count(metrics.SESSIONS_FINALIZED, provider=session.provider, status=status)
        took = (self._deps.clock() - session.created_at).total_seconds()
        metrics.seconds(metrics.TIME_TO_VERDICT, took, provider=session.provider, status=status)
        return True

    def error(self, session: Session, reason: str, *, cause: Cause) -> bool:
        return self.finalize(session, Result(decision=Status.ERROR, reasons=[reason]), cause=cause)


def declined(session: Session, reason: Reason) -> Result:
    """A decline by idgate itself (the second factor), keeping what the provider said."""
    provider_status = session.result.provider_status if session.result else None
    return Result(decision=Status.DECLINED, provider_status=provider_status, reasons=[reason.value])
