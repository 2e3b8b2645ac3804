"""One try of a delivery, from its queue message: taken once (a duplicate message finds it taken), sent signed
to the checked address, recorded, and followed by the next try on the schedule, or, after the last, by the
dead-letter queue and the endpoint marked failing (disabled once it has failed for DISABLE_AFTER).

A 2xx within 10 s acknowledges the event; anything else (another status, no answer, an address idgate does not
call) is a failed try. A message that arrives before its try is due (SQS delays 15 minutes at most) is sent
on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from aws_lambda_powertools import Logger

from idgate.hooks import transport, urls
from idgate.hooks.model import (
    DISABLE_AFTER,
    RETRY_SCHEDULE_SECONDS,
    Attempt,
    Delivery,
    DeliveryStatus,
    Endpoint,
    EndpointStatus,
)
from idgate.hooks.signing import signed_headers
from idgate.hooks.store import HookStore

logger = Logger(service="idgate", child=True)

#: A message this early or less is taken as due (SQS's delays are whole seconds).
EARLY_TOLERANCE = timedelta(seconds=1)
#: A try taken this long ago and never recorded was lost with its invocation (the queue's visibility timeout
#: is 120 s, the function's timeout 20 s): a copy of its message may take it again.
CLAIM_STALE_AFTER = timedelta(seconds=60)

Post = Callable[[urls.Target, Mapping[str, str], bytes], transport.Outcome]
ResolveTarget = Callable[[str], urls.Target]


class Unsealer(Protocol):
    def unseal(self, endpoint_id: str, sealed: str) -> bytes: ...


class RetryQueue(Protocol):
    def send(self, attempt: Attempt, *, now: datetime) -> None: ...

    def dead_letter(self, attempt: Attempt) -> None: ...


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _post(target: urls.Target, headers: Mapping[str, str], body: bytes) -> transport.Outcome:
    return transport.post(target, headers, body)


@dataclass
class Deliverer:
    store: HookStore
    unsealer: Unsealer
    queue: RetryQueue
    allow_insecure_urls: bool = False
    #: Multiplies the retry schedule (local runs: `--delivery-backoff-scale 0.01`).
    backoff_scale: float = 1.0
    clock: Callable[[], datetime] = _utc_now
    post: Post = _post
    resolve: urls.Resolve = field(default=urls.system_resolve)

    def handle(self, attempt: Attempt) -> str:
        """Runs the try if it is due and still to run; what happened, for the log and the tests."""
        now = self.clock()
        if attempt.not_before - now > EARLY_TOLERANCE:
            self.queue.send(attempt, now=now)
            return "not_due"
        delivery = self.store.delivery(attempt.endpoint_id, attempt.occurred_at, attempt.event_id)
        if (
            delivery is None
            or delivery.series != attempt.series
            or delivery.status is not DeliveryStatus.PENDING
        ):
            return "stale"
        taken = self.store.claim_attempt(
            delivery, series=attempt.series, attempt=attempt.attempt, now=now, stale_after=CLAIM_STALE_AFTER
        )
        if not taken:
            return "taken"
        endpoint = self.store.endpoint(attempt.client_id, attempt.endpoint_id)
        if endpoint is None:
            self._record(delivery, attempt, status=DeliveryStatus.FAILED, error="endpoint_deleted")
            return "endpoint_deleted"
        if delivery.payload is None:
            self._record(delivery, attempt, status=DeliveryStatus.FAILED, error="session_redacted")
            return "session_redacted"
        if endpoint.status is EndpointStatus.DISABLED:
            self._record(delivery, attempt, status=DeliveryStatus.FAILED, error="endpoint_disabled")
            return "endpoint_disabled"
        outcome = self._send(endpoint, delivery)
        if outcome.acknowledged:
            self._record(delivery, attempt, status=DeliveryStatus.SUCCEEDED, outcome=outcome)
            if endpoint.status is not EndpointStatus.ENABLED or endpoint.failing_since is not None:
                self.store.set_health(endpoint.client_id, endpoint.id, EndpointStatus.ENABLED, None)
            return "succeeded"
        return self._failed(endpoint, delivery, attempt, outcome)

    def _send(self, endpoint: Endpoint, delivery: Delivery) -> transport.Outcome:
        assert delivery.payload is not None, "a redacted delivery is never sent"
        try:
            target = urls.resolve_target(
                endpoint.url, allow_insecure=self.allow_insecure_urls, resolve=self.resolve
            )
        except urls.UrlRefused as exc:
            logger.warning("webhook address refused", endpoint_id=endpoint.id, code=exc.code)
            return transport.Outcome(None, 0, exc.code)
        now = self.clock()
        keys = [self.unsealer.unseal(endpoint.id, s.ciphertext) for s in endpoint.signing_secrets(now)]
        headers = signed_headers(keys, delivery.event_id, now, delivery.payload)
        return self.post(target, headers, delivery.payload.encode())

    def _failed(
        self, endpoint: Endpoint, delivery: Delivery, attempt: Attempt, outcome: transport.Outcome
    ) -> str:
        now = self.clock()
        failing_since = endpoint.failing_since or now
        if attempt.attempt < len(RETRY_SCHEDULE_SECONDS):
            pause = timedelta(seconds=RETRY_SCHEDULE_SECONDS[attempt.attempt] * self.backoff_scale)
            following = attempt.model_copy(update={"attempt": attempt.attempt + 1, "not_before": now + pause})
            # Queued first: should recording fail, this message comes back and its try runs again.
            self.queue.send(following, now=now)
            self._record(
                delivery, attempt, status=DeliveryStatus.PENDING, outcome=outcome, next_try_at=now + pause
            )
            if endpoint.failing_since is None:
                self.store.set_health(endpoint.client_id, endpoint.id, endpoint.status, failing_since)
            return "retrying"
        self.queue.dead_letter(attempt)
        self._record(delivery, attempt, status=DeliveryStatus.FAILED, outcome=outcome)
        health = EndpointStatus.DISABLED if now - failing_since >= DISABLE_AFTER else EndpointStatus.FAILING
        self.store.set_health(endpoint.client_id, endpoint.id, health, failing_since)
        logger.warning(
            "webhook delivery failed every try",
            endpoint_id=endpoint.id,
            event_id=delivery.event_id,
            endpoint_status=health.value,
        )
        return "dead_lettered"

    def _record(
        self,
        delivery: Delivery,
        attempt: Attempt,
        *,
        status: DeliveryStatus,
        outcome: transport.Outcome | None = None,
        error: str | None = None,
        next_try_at: datetime | None = None,
    ) -> None:
        fields: dict[str, Any] = {
            "status": status.value,
            "next_try_at": next_try_at.isoformat() if next_try_at else None,
            "last_error": (outcome.error if outcome else None) or error,
            "done_attempts": attempt.attempt,
        }
        if outcome is not None:
            fields["last_status_code"] = outcome.status_code
            fields["last_latency_ms"] = outcome.latency_ms
        self.store.record_attempt(delivery, series=attempt.series, fields=fields)
