"""What the use cases need from outside, as interfaces, and the bundle they are built with."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from idgate.announcing import Publisher
from idgate.breaker import Breakers, BreakerSettings
from idgate.follow_state import FollowState
from idgate.idempotency import IdempotencyKeys
from idgate.providers.base import Provider
from idgate.repository import SessionRepository
from idgate.routing_policy import RoutingPolicies


class PinMailer(Protocol):
    def send_pin(self, *, to: str, pin: str, valid_minutes: int) -> None: ...


class Starter(Protocol):
    def start(self, state: FollowState) -> None:
        """Starts the execution of `state`'s generation of the follow-up (once: a second start of the
        same generation does nothing)."""
        ...


#: Provider name → its webhook path token ("" when there is none).
WebhookTokens = Callable[[str], str]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Dependencies:
    sessions: SessionRepository
    providers: Mapping[str, Provider]
    starter: Starter
    publisher: Publisher
    mailer: PinMailer
    poll_interval_seconds: int
    pin_ttl: timedelta
    pin_max_attempts: int
    checks_per_execution: int = 1000
    #: The longest fast phase and the longest wait of the long phase (idgate.schedule; tests shorten them).
    fast_phase_limit: timedelta = timedelta(seconds=180)
    long_wait_limit_seconds: int = 7200
    webhook_tokens: WebhookTokens = field(default=lambda provider: "")
    #: The same providers with the short time-outs a webhook answer needs (default: `providers`).
    webhook_providers: Mapping[str, Provider] | None = None
    allow_unredacted_images: bool = False
    #: The keys of `Idempotency-Key`; None: the header is refused (the deployment keeps none).
    idempotency: IdempotencyKeys | None = None
    #: How many open sessions a client may have at once (None: no limit).
    max_open_sessions: int | None = None
    #: The routing of `"provider": "auto"` sessions (idgate.routing); None: the deployment routes none.
    routing: RoutingPolicies | None = None
    breakers: Breakers | None = None
    breaker_settings: BreakerSettings = field(default_factory=BreakerSettings)
    clock: Callable[[], datetime] = utc_now
    sleep: Callable[[float], None] = time.sleep
