"""The use cases of idgate. Handlers parse, call one of these, and map the answer."""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from aws_lambda_powertools import Logger
from pydantic import ValidationError

from idgate.api import Caller, CreateSessionRequest
from idgate.domain import Reason, Result, Session, Status, can_move
from idgate.errors import (
    Conflict,
    Forbidden,
    NotFound,
    ProviderFailed,
    ProviderRejected,
    ProviderUnavailable,
    ServiceUnavailable,
    ValidationFailed,
)
from idgate.providers.base import Image, ImageProvider, Observation, Provider, WebhookProvider
from idgate.qr import qr_data_uri
from idgate.repository import SessionRepository
from idgate.secrets_util import hash_pin, new_id, pin_matches, same_secret, sha256_hex
from idgate.validation import validation_failed

logger = Logger(service="idgate", child=True)

#: What new_id("ses") makes; anything else is no session (and is never sent to the table).
SESSION_ID = re.compile(r"ses_[A-Za-z0-9_-]{16,64}")

#: Pauses between tries to publish a final-status event before leaving it to the state machine's next step.
EVENT_RETRY_PAUSES = (0.2, 0.6)

#: A publisher that claimed a final event and did not finish within this time is presumed dead.
EVENT_CLAIM_STALE_AFTER = timedelta(seconds=60)


class Publisher(Protocol):
    def session_finalized(self, session: Session) -> None: ...


class PinMailer(Protocol):
    def send_pin(self, *, to: str, pin: str, valid_minutes: int) -> None: ...


class Starter(Protocol):
    def start(self, *, session_id: str, interval_seconds: int) -> None: ...

    def continue_with(self, state: dict[str, Any]) -> None: ...


#: Reads the per-deployment webhook token of a provider ("" when there is none).
WebhookTokens = Callable[[str], str]


def utc_now() -> datetime:
    return datetime.now(UTC)


class PinIncorrect(ValidationFailed):
    code = "pin_incorrect"


class Idgate:
    def __init__(
        self,
        *,
        sessions: SessionRepository,
        providers: Mapping[str, Provider],
        starter: Starter,
        publisher: Publisher,
        mailer: PinMailer,
        poll_interval_seconds: int,
        pin_ttl: timedelta,
        pin_max_attempts: int,
        checks_per_execution: int = 1000,
        webhook_tokens: WebhookTokens = lambda provider: "",
        webhook_providers: Mapping[str, Provider] | None = None,
        allow_unredacted_images: bool = False,
        clock: Callable[[], datetime] = utc_now,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._sessions = sessions
        self._providers = providers
        self._starter = starter
        self._publisher = publisher
        self._mailer = mailer
        self._interval = poll_interval_seconds
        self._pin_ttl = pin_ttl
        self._pin_max_attempts = pin_max_attempts
        self._checks_per_execution = checks_per_execution
        self._webhook_tokens = webhook_tokens
        # Webhooks must be answered fast: the same providers, with shorter time-outs.
        self._webhook_providers = webhook_providers or providers
        self._allow_unredacted = allow_unredacted_images
        self._now = clock
        self._sleep = sleep

    # ---- the API -----------------------------------------------------------------------------

    def create_session(self, caller: Caller, body: Mapping[str, Any]) -> tuple[Session, str, str]:
        """Starts a verification. Returns the session, its client secret (shown once) and a QR code."""
        if caller.kind == "client_secret" or not caller.client_id:
            raise Forbidden("creating a session needs an API key", code="api_key_required")
        try:
            request = CreateSessionRequest.model_validate(body)
        except ValidationError as exc:
            raise validation_failed(exc) from exc
        provider = self._providers.get(request.provider)
        if provider is None:
            raise ValidationFailed(
                f"unknown provider {request.provider!r}; known: {', '.join(sorted(self._providers))}",
                code="unknown_provider",
            )
        options = provider.parse_options(request.options, email=request.email)
        session_id = new_id("ses")
        try:
            started = provider.start(session_id=session_id, reference=request.reference, options=options)
        except ProviderUnavailable as exc:
            logger.warning("provider unreachable at start", provider=provider.name, reason=exc.reason)
            raise ProviderFailed(
                f"{provider.name} could not be reached", code="provider_unavailable"
            ) from exc
        now = self._now()
        client_secret = new_id("cs", 24)
        session = Session(
            id=session_id,
            client_id=caller.client_id,
            provider=provider.name,
            status=Status.PENDING,
            created_at=now,
            updated_at=now,
            expires_at=started.expires_at,
            client_secret_hash=sha256_hex(client_secret),
            reference=request.reference,
            # The email is personal data: kept only for the feature that needs it, until the verdict.
            email=request.email if getattr(options, "two_factor", False) else None,
            options=options.model_dump(exclude_none=True),
            provider_ref=started.provider_ref,
            provider_token=started.provider_token,
            verification_url=started.verification_url,
        )
        self._sessions.add(session)
        logger.info(
            "session created", session_id=session.id, provider=provider.name, client_id=caller.client_id
        )
        if provider.polled:
            try:
                self._starter.start(session_id=session.id, interval_seconds=self._interval)
            except Exception as exc:
                logger.exception("could not start following the session", session_id=session.id)
                self._finalize(session, Result(decision=Status.ERROR, reasons=[Reason.INTERNAL_ERROR]))
                raise ServiceUnavailable("the session could not be followed; try again") from exc
        return session, client_secret, started.qr_image or qr_data_uri(started.verification_url)

    def get_session(self, caller: Caller, session_id: str, client_secret: str | None) -> Session:
        session = self._sessions.get(session_id) if SESSION_ID.fullmatch(session_id) else None
        if session is None or not self._may_read(caller, session, client_secret):
            # The same answer for "no such session" and "not yours": ids cannot be probed.
            raise NotFound("no such session", code="session_not_found")
        return session

    def submit_pin(self, caller: Caller, session_id: str, client_secret: str | None, pin: str) -> Session:
        session = self.get_session(caller, session_id, client_secret)
        if session.status.is_final:
            raise Conflict(f"the session is already {session.status.value}", code="session_final")
        if session.status is not Status.AWAITING_PIN:
            raise Conflict("the session does not await a PIN", code="pin_not_expected")
        if session.pin_deadline and self._now() >= session.pin_deadline:
            self._finalize(session, self._declined(session, Reason.PIN_EXPIRED))
            raise Conflict("the PIN has expired; start a new verification", code="pin_expired")
        attempts = self._sessions.count_pin_attempt(session.id, max_attempts=self._pin_max_attempts)
        if attempts is None:
            current = self.get_session(caller, session_id, client_secret)
            raise Conflict(f"the session is already {current.status.value}", code="session_final")
        if session.pin_hash and pin_matches(pin, session.pin_hash):
            assert session.result is not None
            approved = session.result.model_copy(
                update={"reasons": [*session.result.reasons, Reason.SECOND_FACTOR_VERIFIED.value]}
            )
            self._finalize(session, approved)
            logger.info("PIN verified", session_id=session.id)
            return self.get_session(caller, session_id, client_secret)
        remaining = self._pin_max_attempts - attempts
        logger.info("wrong PIN", session_id=session.id, attempts_remaining=remaining)
        if remaining <= 0:
            self._finalize(session, self._declined(session, Reason.PIN_ATTEMPTS_EXCEEDED))
            raise PinIncorrect(
                "wrong PIN; no tries left, the session is declined",
                code="pin_attempts_exceeded",
                attempts_remaining=0,
            )
        raise PinIncorrect("wrong PIN", attempts_remaining=remaining)

    def image(self, caller: Caller, session_id: str, side: str, *, redacted: bool) -> Image:
        """A document image of the session, fetched from the provider and passed through, never stored."""
        if not caller.is_secret_key:
            raise Forbidden("document images need a secret key", code="secret_key_required")
        session = self.get_session(caller, session_id, None)
        provider = self._providers.get(session.provider)
        if side not in ("front", "back") or not isinstance(provider, ImageProvider):
            raise NotFound("no such image", code="image_not_found")
        if not redacted and not self._allow_unredacted:
            raise Forbidden(
                "unredacted images are disabled (AllowUnredactedImages)", code="unredacted_images_disabled"
            )
        try:
            image = provider.image(session, side=side, redacted=redacted)
        except ProviderUnavailable as exc:
            raise ProviderFailed(
                f"{provider.name} could not be reached", code="provider_unavailable"
            ) from exc
        except ProviderRejected as exc:
            if exc.reason == Reason.PROVIDER_NOT_FOUND:
                raise NotFound("no such image", code="image_not_found") from exc
            raise ProviderFailed(f"{provider.name} refused the image", code=exc.reason) from exc
        if image is None:
            raise NotFound("no such image", code="image_not_found")
        logger.info("image passed through", session_id=session.id, side=side, redacted=redacted)
        return image

    def webhook_url(self, caller: Caller, provider_name: str, api_base_url: str) -> dict[str, str]:
        """The URL to paste into the provider's dashboard; it holds the per-deployment webhook token."""
        if not caller.is_secret_key:
            raise Forbidden("the webhook URL needs a secret key", code="secret_key_required")
        provider = self._providers.get(provider_name)
        token = self._webhook_tokens(provider_name) if isinstance(provider, WebhookProvider) else ""
        if not token:
            raise NotFound("that provider takes no webhook", code="webhook_not_found")
        return {
            "provider": provider_name,
            "url": f"{api_base_url.rstrip('/')}/v1/webhooks/{provider_name}/{token}",
        }

    def receive_webhook(self, provider_name: str, token: str, body: Any) -> dict[str, Any]:
        """A provider says something changed. The body is only a hint: we find the session it names,
        re-read the provider's state with our own key, and apply that. Nothing else in it is trusted."""
        provider = self._webhook_providers.get(provider_name)
        expected = self._webhook_tokens(provider_name) if isinstance(provider, WebhookProvider) else ""
        if (
            not isinstance(provider, WebhookProvider)
            or not expected
            or not same_secret(token, sha256_hex(expected))
        ):
            raise NotFound("no such webhook", code="webhook_not_found")
        reference = provider.webhook_reference(body)
        if reference is None:
            raise ValidationFailed("the body names no verification", code="verification_id_missing")
        session = self._sessions.find_by_provider_ref(provider.name, reference)
        if session is None:
            logger.warning("webhook for an unknown verification", provider=provider.name)
            raise NotFound("no session for that verification", code="session_not_found")
        logger.append_keys(session_id=session.id)
        if session.status.is_final:
            logger.info("webhook for a final session; nothing to do", status=session.status.value)
            return {"received": True}
        try:
            observation = provider.observe(session)
        except ProviderUnavailable as exc:
            logger.warning("webhook re-read failed; the poller will catch up", reason=exc.reason)
            return {"received": True}
        except ProviderRejected as exc:
            logger.warning("provider refused the re-read", reason=exc.reason)
            self._finalize(session, Result(decision=Status.ERROR, reasons=[exc.reason]))
            return {"received": True}
        current = self.apply(session, observation)
        logger.info("webhook applied", status=current.status.value)
        return {"received": True}

    # ---- following a session (the poll state machine) ----------------------------------------

    def poll(self, state: Mapping[str, Any]) -> dict[str, Any]:
        """One step of the poll state machine: look at the provider once, record what changed, and say
        how long to wait before the next step, or that the session is done.

        A follow-up that outlives `checks_per_execution` steps (days of manual review) continues in a
        new execution, since Step Functions ends one at 25,000 history events."""
        step = self._poll_step(state)
        step["generation"] = int(state.get("generation") or 0)
        step["execution_checks"] = int(state.get("execution_checks") or 0) + 1
        if step["done"] or step["execution_checks"] < self._checks_per_execution:
            return step
        successor = {**step, "generation": step["generation"] + 1, "execution_checks": 0}
        self._starter.continue_with(successor)
        logger.info("the follow-up continues in a new execution", generation=successor["generation"])
        return {**step, "done": True}

    def _poll_step(self, state: Mapping[str, Any]) -> dict[str, Any]:
        session_id = str(state.get("session_id", ""))
        interval = int(state.get("interval_seconds") or self._interval)
        attempt = int(state.get("attempt") or 0) + 1
        done = {**state, "attempt": attempt, "done": True}
        session = self._sessions.get(session_id)
        if session is None:
            logger.warning("poll for an unknown session", session_id=session_id)
            return done
        if session.status.is_final:
            self._ensure_event(session)
            return done
        provider = self._providers[session.provider]
        now = self._now()
        if session.status is Status.AWAITING_PIN:
            if session.pin_deadline and now >= session.pin_deadline:
                self._finalize(session, self._declined(session, Reason.PIN_EXPIRED), strict=True)
                return done
            return {
                **state,
                "attempt": attempt,
                "done": False,
                "wait_seconds": self._seconds_until(session.pin_deadline, now, fallback=interval),
            }
        if now >= session.expires_at:
            if not self._last_look(provider, session):
                self._finalize(session, self._deadline_result(session), strict=True)
            return done
        try:
            observation = provider.observe(session)
        except ProviderUnavailable as exc:
            logger.warning(
                "provider unreachable", session_id=session.id, provider=provider.name, reason=exc.reason
            )
            self._sessions.update_open(session.id, now=now, fields={"last_poll_error": exc.reason})
            raise
        except ProviderRejected as exc:
            logger.warning(
                "provider refused", session_id=session.id, provider=provider.name, reason=exc.reason
            )
            self._finalize(session, Result(decision=Status.ERROR, reasons=[exc.reason]), strict=True)
            return done
        current = self.apply(session, observation, strict=True)
        if current.status.is_final:
            return done
        wait = provider.next_wait_seconds(current, attempt=attempt, base_interval=interval)
        if current.status is Status.AWAITING_PIN:
            wait = self._seconds_until(current.pin_deadline, now, fallback=interval)
        else:
            wait = min(wait, self._seconds_until(current.expires_at, now, fallback=wait))
        return {**state, "attempt": attempt, "done": False, "wait_seconds": max(1, wait)}

    def abort(self, state: Mapping[str, Any]) -> dict[str, Any]:
        """The state machine gave up on a step: the session ends in `error` rather than hanging."""
        session = self._sessions.get(str(state.get("session_id", "")))
        if session is not None and not session.status.is_final:
            logger.error("following the session failed", session_id=session.id)
            self._finalize(
                session, Result(decision=Status.ERROR, reasons=[Reason.INTERNAL_ERROR]), strict=True
            )
        elif session is not None:
            self._ensure_event(session)
        return {**state, "done": True}

    def apply(self, session: Session, observation: Observation, *, strict: bool = False) -> Session:
        """Records what the provider says, if it moves the session forward; otherwise changes nothing."""
        now = self._now()
        target = observation.status
        if not can_move(session.status, target):
            # The same status again, or an older one arriving late: nothing to record but recovery.
            if session.last_poll_error and not session.status.is_final:
                self._sessions.update_open(session.id, now=now, fields={"last_poll_error": None})
            return session
        result = Result(
            decision=target,
            provider_status=observation.provider_status,
            risk=observation.risk,
            reasons=list(observation.reasons),
            data=observation.data,
        )
        if target.is_final:
            self._finalize(session, result, strict=strict)
        elif target is Status.AWAITING_PIN:
            self._await_pin(
                session, observation, result.model_copy(update={"decision": Status.APPROVED}), now
            )
        else:
            fields: dict[str, Any] = {"last_poll_error": None, "result": result.model_dump(mode="json")}
            limit = self._providers[session.provider].follow_limit(target)
            if limit is not None:
                # Past the verification's own expiry, a decision under way is still followed, for a while.
                fields["expires_at"] = max(session.expires_at, now + limit).isoformat()
            self._sessions.advance(session.id, target, now=now, fields=fields)
        return self._sessions.get(session.id) or session

    # ---- internals ---------------------------------------------------------------------------

    def _await_pin(self, session: Session, observation: Observation, approved: Result, now: datetime) -> None:
        if not session.email or not observation.pin:
            raise ProviderRejected(Reason.INTERNAL_ERROR, "a PIN is required but cannot be delivered")
        pin = f"{observation.pin:06d}"
        deadline = now + self._pin_ttl
        # The mail goes first: should it fail, the step is retried and the provider still holds the PIN;
        # a session marked awaiting_pin without a sent PIN could never be completed.
        self._mailer.send_pin(
            to=session.email, pin=pin, valid_minutes=math.ceil(self._pin_ttl.total_seconds() / 60)
        )
        moved = self._sessions.advance(
            session.id,
            Status.AWAITING_PIN,
            now=now,
            fields={
                "pin_hash": hash_pin(pin),
                "pin_deadline": deadline.isoformat(),
                "pin_attempts": 0,
                "expires_at": deadline.isoformat(),
                "result": approved.model_dump(mode="json"),
                "last_poll_error": None,
            },
        )
        if moved:
            logger.info("PIN sent; awaiting it", session_id=session.id)

    def _finalize(self, session: Session, result: Result, *, strict: bool = False) -> bool:
        """Writes the final status once. Only the writer that wins publishes the event; a publish that
        fails is retried by the state machine's next step (strict callers re-raise so it retries now)."""
        won = self._sessions.advance(
            session.id, result.decision, now=self._now(), fields={"result": result.model_dump(mode="json")}
        )
        if not won:
            logger.info("final status already written; trigger ignored", session_id=session.id)
            return False
        logger.info(
            "session finalized", session_id=session.id, status=result.decision.value, reasons=result.reasons
        )
        final = self._sessions.get(session.id)
        if final is not None:
            try:
                self._ensure_event(final)
            except Exception:
                logger.exception("final-status event not published yet", session_id=session.id)
                if strict:
                    raise
        return True

    def _ensure_event(self, session: Session) -> None:
        """Publishes the final-status event unless it was published or another trigger is publishing it."""
        if session.event_published:
            return
        if not self._sessions.claim_event(session.id, now=self._now(), stale_after=EVENT_CLAIM_STALE_AFTER):
            return
        for pause in (*EVENT_RETRY_PAUSES, None):
            try:
                self._publisher.session_finalized(session)
                break
            except Exception:
                if pause is None:
                    self._sessions.release_event_claim(session.id)
                    raise
                logger.warning("publishing the final-status event failed; retrying", session_id=session.id)
                self._sleep(pause)
        self._sessions.mark_event_published(session.id)

    def _last_look(self, provider: Provider, session: Session) -> bool:
        """At the deadline, one more look: a verdict the user gave just before it (its webhook lost)
        must not be turned into `expired`. True when that look found a final status."""
        try:
            observation = provider.observe(session)
        except ProviderUnavailable as exc:
            session.last_poll_error = exc.reason
            return False
        except ProviderRejected:
            return False  # e.g. Jekimo's token is no longer valid: nothing more to learn
        if not observation.status.is_final:
            return False
        return self.apply(session, observation, strict=True).status.is_final

    @staticmethod
    def _deadline_result(session: Session) -> Result:
        """What a session becomes when its deadline passes with no verdict."""
        if session.status in (Status.REVIEW, Status.PROCESSING):
            provider_status = session.result.provider_status if session.result else None
            return Result(
                decision=Status.EXPIRED, provider_status=provider_status, reasons=[Reason.REVIEW_TIMEOUT]
            )
        if session.last_poll_error:
            return Result(decision=Status.ERROR, reasons=[session.last_poll_error])
        return Result(decision=Status.EXPIRED, reasons=[Reason.VERIFICATION_EXPIRED])

    def _declined(self, session: Session, reason: Reason) -> Result:
        provider_status = session.result.provider_status if session.result else None
        return Result(decision=Status.DECLINED, provider_status=provider_status, reasons=[reason.value])

    @staticmethod
    def _may_read(caller: Caller, session: Session, client_secret: str | None) -> bool:
        if caller.is_secret_key and caller.client_id == session.client_id:
            return True
        return bool(client_secret) and same_secret(str(client_secret), session.client_secret_hash)

    @staticmethod
    def _seconds_until(moment: datetime | None, now: datetime, *, fallback: int) -> int:
        if moment is None:
            return fallback
        return max(1, math.ceil((moment - now).total_seconds()))
