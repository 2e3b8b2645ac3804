"""Following a session until it is final (one step of the poll state machine at a time), and applying
what a look at the provider says, from a step or from a webhook."""

from __future__ import annotations

import math
import time
from datetime import datetime
from typing import Any

from aws_lambda_powertools import Logger

from idgate import deadline, metrics, schedule
from idgate.checks import Check, verdict_data
from idgate.domain import Cause, Reason, Result, Session, Status, can_move
from idgate.errors import ProviderRejected, ProviderUnavailable
from idgate.finalizing import Finalizer, declined
from idgate.follow_state import FollowState
from idgate.ports import Dependencies
from idgate.providers.base import Observation, Provider
from idgate.second_factor import SecondFactor

logger = Logger(service="idgate", child=True)


class Following:
    def __init__(self, deps: Dependencies, finalizer: Finalizer, second_factor: SecondFactor) -> None:
        self._deps = deps
        self._finalizer = finalizer
        self._second_factor = second_factor

    def start(self, session: Session) -> None:
        """Starts following a new session: its fast phase when its provider has one, else the long
        phase (idgate.schedule)."""
        interval = self._deps.poll_interval_seconds
        provider = self._deps.providers[session.provider]
        first_wait = max(1, provider.next_wait_seconds(session, attempt=0, base_interval=interval))
        fast_until = schedule.fast_phase_end(provider, session, interval, limit=self._deps.fast_phase_limit)
        if fast_until is None:
            first_wait = schedule.long_phase_wait(
                session,
                provider_wait=first_wait,
                interval=interval,
                long_looks=0,
                had_fast_phase=False,
                now=self._deps.clock(),
                limit_seconds=self._deps.long_wait_limit_seconds,
            )
        state = FollowState(
            session_id=session.id,
            interval_seconds=interval,
            wait_seconds=first_wait,
            phase="long" if fast_until is None else "fast",
            fast_until=None if fast_until is None else fast_until.timestamp(),
        )
        self._deps.starter.start(state)

    def poll(self, state: FollowState) -> FollowState:
        """One step: look at the provider once, record what changed, and say how long to wait before the
        next step, or that the session is done, or (`handoff`) that the fast phase is over and the long
        phase takes the session on.

        A follow-up that outlives `checks_per_execution` steps (days of manual review) continues in a
        new execution, since Step Functions ends one at 25,000 history events."""
        step = self._step(state.model_copy(update={"handoff": False}))
        if step.done or state.phase == "fast":
            return step
        step = step.model_copy(
            update={"execution_checks": state.execution_checks + 1, "long_looks": state.long_looks + 1}
        )
        if step.execution_checks < self._deps.checks_per_execution:
            return step
        successor = step.model_copy(update={"generation": step.generation + 1, "execution_checks": 0})
        self._deps.starter.start(successor)
        logger.info("the follow-up continues in a new execution", generation=successor.generation)
        return step.model_copy(update={"done": True})

    def _step(self, state: FollowState) -> FollowState:
        attempt = state.attempt + 1
        done = state.model_copy(update={"attempt": attempt, "done": True})
        session = self._deps.sessions.get(state.session_id)
        if session is None:
            logger.warning("poll for an unknown session", session_id=state.session_id)
            return done
        if session.status.is_final:
            return done
        provider = self._deps.providers[session.provider]
        now = self._deps.clock()
        interval = state.interval_seconds

        def waiting(current: Session, provider_wait: int) -> FollowState:
            """The next look: at the provider's cadence (a PIN: at its deadline) while the fast phase
            lasts, then spaced out by the long phase's rules, which the Express workflow hands the
            session to (`handoff`)."""
            if current.status is Status.AWAITING_PIN:
                seconds = _seconds_until(current.pin_deadline, now, fallback=interval)
            else:
                seconds = min(provider_wait, _seconds_until(current.expires_at, now, fallback=provider_wait))
            fast = state.phase == "fast"
            if fast and state.fast_until is not None and now.timestamp() + seconds <= state.fast_until:
                return state.model_copy(update={"attempt": attempt, "done": False, "wait_seconds": seconds})
            seconds = schedule.long_phase_wait(
                current,
                provider_wait=provider_wait,
                interval=interval,
                long_looks=0 if fast else state.long_looks,
                had_fast_phase=state.fast_until is not None,
                now=now,
                limit_seconds=self._deps.long_wait_limit_seconds,
            )
            return state.model_copy(
                update={
                    "attempt": attempt,
                    "done": False,
                    "wait_seconds": seconds,
                    "phase": "long",
                    "handoff": fast,
                }
            )

        if session.status is Status.AWAITING_PIN:
            if session.pin_deadline and now >= session.pin_deadline:
                self._finalizer.finalize(session, declined(session, Reason.PIN_EXPIRED), cause=Cause.DEADLINE)
                return done
            return waiting(session, interval)
        if now >= session.expires_at:
            still_open = self._at_deadline(provider, session, interval)
            if still_open is None:
                return done
            return waiting(
                still_open, provider.next_wait_seconds(still_open, attempt=attempt, base_interval=interval)
            )
        try:
            observation = provider.observe(session)
        except ProviderUnavailable as exc:
            self._unreachable(session, provider, exc, now)
            raise
        except ProviderRejected as exc:
            logger.warning(
                "provider refused", session_id=session.id, provider=provider.name, reason=exc.reason
            )
            metrics.count(metrics.PROVIDER_CALL_FAILURES, provider=provider.name, reason=exc.reason)
            if deadline.over_near_deadline(exc, session, now):
                self._finalizer.finalize(session, deadline.without_verdict(session), cause=Cause.DEADLINE)
            else:
                self._finalizer.error(session, exc.reason, cause=Cause.POLL)
            return done
        current = self.apply(session, observation, cause=Cause.POLL)
        if current.status.is_final:
            return done
        if current.status is Status.AWAITING_PIN:
            return waiting(current, interval)
        return waiting(current, provider.next_wait_seconds(current, attempt=attempt, base_interval=interval))

    def abort(self, session_id: str) -> None:
        """The state machine gave up on a step: the session ends in `error` rather than hanging."""
        session = self._deps.sessions.get(session_id)
        if session is not None and not session.status.is_final:
            logger.error("following the session failed", session_id=session.id)
            self._finalizer.error(session, Reason.INTERNAL_ERROR, cause=Cause.POLL)

    def apply(self, session: Session, observation: Observation, *, cause: Cause) -> Session:
        """Records what the provider says (learnt by `cause`: a look or a webhook), if it moves the session
        forward; otherwise changes nothing."""
        deps = self._deps
        now = deps.clock()
        target = observation.status
        if not can_move(session.status, target):
            # The same status again, or an older one arriving late: nothing to record but recovery.
            if (session.last_poll_error or session.unreachable_since) and not session.status.is_final:
                recovered = {"last_poll_error": None, "unreachable_since": None, "failed_looks": 0}
                deps.sessions.update_open(session.id, now=now, fields=recovered)
            return session
        result = Result(
            decision=target,
            provider_status=observation.provider_status,
            risk=observation.risk,
            reasons=list(observation.reasons),
            data=observation.data | _check_data(session, target),
        )
        if target.is_final:
            self._finalizer.finalize(session, result, cause=cause)
        elif target is Status.AWAITING_PIN:
            approved = result.model_copy(update={"decision": Status.APPROVED})
            self._second_factor.await_code(session, observation, approved, now, cause=cause)
        else:
            fields: dict[str, Any] = {
                "last_poll_error": None,
                "unreachable_since": None,
                "failed_looks": 0,
                "result": result.model_dump(mode="json"),
            }
            limit = deps.providers[session.provider].follow_limit(target)
            if limit is not None:
                # Past the verification's own expiry, a decision under way is still followed, for a while.
                fields["expires_at"] = max(session.expires_at, now + limit).isoformat()
            deps.sessions.advance(session.id, target, now=now, cause=cause, fields=fields)
        return deps.sessions.get(session.id) or session

    def _unreachable(
        self, session: Session, provider: Provider, exc: ProviderUnavailable, now: datetime
    ) -> None:
        """Notes a failed look (the state machine retries the step): when the provider became unreachable
        decides, at the deadline, between `expired` and `error` (see idgate.deadline)."""
        logger.warning(
            "provider unreachable", session_id=session.id, provider=provider.name, reason=exc.reason
        )
        metrics.count(metrics.PROVIDER_CALL_FAILURES, provider=provider.name, reason=exc.reason)
        since = session.unreachable_since or now
        fields = {
            "last_poll_error": exc.reason,
            "unreachable_since": since.isoformat(),
            "failed_looks": session.failed_looks + 1,
        }
        self._deps.sessions.update_open(session.id, now=now, fields=fields)

    def _at_deadline(self, provider: Provider, session: Session, interval: int) -> Session | None:
        """The deadline passed: one last look, retried with backoff, so that a verdict the user gave just
        before it (its webhook lost) counts and a passing fault decides nothing. The session ends as
        idgate.deadline says, unless the look finds a decision under way that is followed for longer
        (a review): then that session, still open, is returned."""
        started = time.monotonic()
        failure: ProviderUnavailable | None = None
        tries = 0
        for pause in (*deadline.LAST_LOOK_PAUSES, None):
            tries += 1
            try:
                observation = provider.observe(session)
            except ProviderUnavailable as exc:
                failure = exc
                logger.warning("last look failed", session_id=session.id, reason=exc.reason)
                metrics.count(metrics.PROVIDER_CALL_FAILURES, provider=provider.name, reason=exc.reason)
                if pause is None or time.monotonic() - started + pause > deadline.LAST_LOOK_BUDGET_SECONDS:
                    break
                self._deps.sleep(pause)
                continue
            except ProviderRejected as exc:
                logger.info("provider refused the last look", session_id=session.id, reason=exc.reason)
                self._finalizer.finalize(session, deadline.after_refusal(session, exc), cause=Cause.DEADLINE)
                return None
            current = self.apply(session, observation, cause=Cause.POLL)
            if current.status.is_final:
                return None
            if current.expires_at > self._deps.clock():
                return current  # e.g. a review began at the last moment: followed for its own limit
            self._finalizer.finalize(current, deadline.without_verdict(current), cause=Cause.DEADLINE)
            return None
        assert failure is not None
        result = deadline.after_unreachable(session, failure.reason, interval, tries)
        self._finalizer.finalize(session, result, cause=Cause.DEADLINE)
        return None


def _check_data(session: Session, target: Status) -> dict[str, Any]:
    """A session routed by its check says its verdict in the check's vocabulary (idgate.checks)."""
    if session.routing is None or not target.is_final:
        return {}
    return verdict_data(Check(session.routing.check), target is Status.APPROVED)


def _seconds_until(moment: datetime | None, now: datetime, *, fallback: int) -> int:
    if moment is None:
        return fallback
    return max(1, math.ceil((moment - now).total_seconds()))
