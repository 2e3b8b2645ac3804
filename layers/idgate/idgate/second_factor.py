"""The second factor: a code the provider asks the user to prove, which idgate emails and checks."""

from __future__ import annotations

import math
from datetime import datetime

from aws_lambda_powertools import Logger

from idgate.api import Caller
from idgate.domain import Cause, Reason, Result, Session, Status
from idgate.errors import Conflict, ProviderRejected, ValidationFailed
from idgate.finalizing import Finalizer, declined
from idgate.ports import Dependencies
from idgate.providers.base import Observation
from idgate.secrets_util import hash_pin, pin_matches
from idgate.session_access import readable_session

logger = Logger(service="idgate", child=True)


class PinIncorrect(ValidationFailed):
    code = "pin_incorrect"


class SecondFactor:
    def __init__(self, deps: Dependencies, finalizer: Finalizer) -> None:
        self._deps = deps
        self._finalizer = finalizer

    def await_code(
        self, session: Session, observation: Observation, approved: Result, now: datetime, *, cause: Cause
    ) -> None:
        """The provider approved on condition of a second factor: email its code and wait for it."""
        code = observation.second_factor_code
        if not session.email or not code:
            raise ProviderRejected(
                Reason.INTERNAL_ERROR, "a second factor is required but cannot be delivered"
            )
        deadline = now + self._deps.pin_ttl
        # The mail goes first: should it fail, the step is retried and the provider still holds the code;
        # a session marked awaiting_pin without a sent code could never be completed.
        self._deps.mailer.send_pin(
            to=session.email, pin=code, valid_minutes=math.ceil(self._deps.pin_ttl.total_seconds() / 60)
        )
        moved = self._deps.sessions.advance(
            session.id,
            Status.AWAITING_PIN,
            now=now,
            cause=cause,
            fields={
                "pin_hash": hash_pin(code),
                "pin_deadline": deadline.isoformat(),
                "pin_attempts": 0,
                "expires_at": deadline.isoformat(),
                "result": approved.model_dump(mode="json"),
                "last_poll_error": None,
            },
        )
        if moved:
            logger.info("PIN sent; awaiting it", session_id=session.id)

    def submit(self, caller: Caller, session_id: str, client_secret: str | None, pin: str) -> Session:
        deps = self._deps
        session = readable_session(deps.sessions, caller, session_id, client_secret)
        if session.status.is_final:
            raise Conflict(f"the session is already {session.status.value}", code="session_final")
        if session.status is not Status.AWAITING_PIN:
            raise Conflict("the session does not await a PIN", code="pin_not_expected")
        if session.pin_deadline and deps.clock() >= session.pin_deadline:
            self._finalizer.finalize(session, declined(session, Reason.PIN_EXPIRED), cause=Cause.PIN)
            raise Conflict("the PIN has expired; start a new verification", code="pin_expired")
        if session.pin_hash and pin_matches(pin, session.pin_hash):
            return self._approve(caller, session, client_secret)
        attempts = deps.sessions.count_pin_attempt(session.id, max_attempts=deps.pin_max_attempts)
        if attempts is None:
            raise self._too_late(caller, session.id, client_secret)
        remaining = deps.pin_max_attempts - attempts
        logger.info("wrong PIN", session_id=session.id, attempts_remaining=remaining)
        if remaining <= 0:
            self._finalizer.finalize(
                session, declined(session, Reason.PIN_ATTEMPTS_EXCEEDED), cause=Cause.PIN
            )
            raise PinIncorrect(
                "wrong PIN; no tries left, the session is declined",
                code="pin_attempts_exceeded",
                attempts_remaining=0,
            )
        raise PinIncorrect("wrong PIN", attempts_remaining=remaining)

    def _approve(self, caller: Caller, session: Session, client_secret: str | None) -> Session:
        """The right PIN: the approval and the count of this try are one conditional write, so it
        approves whenever it is within the allowed tries, whatever other tries run in parallel."""
        deps = self._deps
        assert session.result is not None
        approved = session.result.model_copy(
            update={"reasons": [*session.result.reasons, Reason.SECOND_FACTOR_VERIFIED.value]}
        )
        if self._finalizer.finalize(session, approved, cause=Cause.PIN, pin_try_limit=deps.pin_max_attempts):
            logger.info("PIN verified", session_id=session.id)
            return readable_session(deps.sessions, caller, session.id, client_secret)
        current = readable_session(deps.sessions, caller, session.id, client_secret)
        if current.status is Status.APPROVED:
            return current  # a parallel try with the right PIN approved it
        raise self._too_late(caller, session.id, client_secret, current)

    def _too_late(
        self, caller: Caller, session_id: str, client_secret: str | None, current: Session | None = None
    ) -> Exception:
        """Why a try could not count: the session ended meanwhile, or its tries are used up.

        Tries used up decline the session, whoever writes it: the try that used the last one may still be
        on its way to the decline, and this one must not answer differently from a try that comes after
        it. The verdict is written once, so the two writers cannot both decline it."""
        sessions = self._deps.sessions
        current = current or readable_session(sessions, caller, session_id, client_secret)
        if not current.status.is_final:
            self._finalizer.finalize(
                current, declined(current, Reason.PIN_ATTEMPTS_EXCEEDED), cause=Cause.PIN
            )
            current = readable_session(sessions, caller, session_id, client_secret)
        return Conflict(f"the session is already {current.status.value}", code="session_final")
