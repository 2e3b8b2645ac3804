"""Writing a final status once, and announcing it once (the final-status event).

A final status is written by whichever trigger wins (a poll step, a webhook, a PIN); its event is
published from the table's change stream (functions/publisher), never from the writer's path, so no
final status can miss its event whatever wrote it, and a publish that fails is retried by the stream."""

from __future__ import annotations

from datetime import timedelta

from aws_lambda_powertools import Logger

from idgate import metrics
from idgate.domain import Reason, Result, Session, Status
from idgate.ports import Dependencies

logger = Logger(service="idgate", child=True)

#: Pauses between tries to publish a final-status event before leaving it to the state machine's next step.
EVENT_RETRY_PAUSES = (0.2, 0.6)

#: A publisher that claimed a final event and did not finish within this time is presumed dead.
EVENT_CLAIM_STALE_AFTER = timedelta(seconds=60)


class Finalizer:
    def __init__(self, deps: Dependencies) -> None:
        self._deps = deps

    def finalize(self, session: Session, result: Result, *, pin_try_limit: int | None = None) -> bool:
        """Writes the final status once; False when another trigger already did. Its event follows from
        the change stream (`ensure_event`). `pin_try_limit`: the write also counts a PIN try, within that
        limit (the right PIN's approval)."""
        sessions = self._deps.sessions
        won = sessions.advance(
            session.id,
            result.decision,
            now=self._deps.clock(),
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

    def ensure_event(self, session: Session) -> None:
        """Publishes the final-status event unless it was published or another publisher is at it (a
        claim taken by a conditional write). Raises when publishing fails, after a few tries, with the
        claim released: the stream then retries the record."""
        if session.event_published:
            return
        sessions = self._deps.sessions
        if not sessions.claim_event(session.id, now=self._deps.clock(), stale_after=EVENT_CLAIM_STALE_AFTER):
            return
        for pause in (*EVENT_RETRY_PAUSES, None):
            try:
                self._deps.publisher.session_finalized(session)
                break
            except Exception:
                if pause is None:
                    sessions.release_event_claim(session.id)
                    raise
                logger.warning("publishing the final-status event failed; retrying", session_id=session.id)
                self._deps.sleep(pause)
        sessions.mark_event_published(session.id)

    def error(self, session: Session, reason: str) -> bool:
        return self.finalize(session, Result(decision=Status.ERROR, reasons=[reason]))


def declined(session: Session, reason: Reason) -> Result:
    """A decline by idgate itself (the second factor), keeping what the provider said."""
    provider_status = session.result.provider_status if session.result else None
    return Result(decision=Status.DECLINED, provider_status=provider_status, reasons=[reason.value])
