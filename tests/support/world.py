"""The use cases in a world of fakes: a scripted provider, the outside (Step Functions, EventBridge, SES)
recorded, the in-memory session store, and a clock the tests move. No moto: tests run in milliseconds."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from pydantic import BaseModel

from idgate.announced import Announced
from idgate.api import Caller
from idgate.domain import Session, Status
from idgate.follow_state import FollowState
from idgate.ports import Dependencies
from idgate.providers.base import (
    Image,
    NewVerification,
    Observation,
    ProviderContext,
    StartRequest,
    WebhookRequest,
)
from idgate.routing_policy import RoutingPolicies, declared_policy
from idgate.service import Idgate
from tests.support.memory_store import InMemorySessionStore, fresh_session_store

CALLER = Caller(kind="secret", client_id="shop")
#: What the fake provider's verification URL and expiry are.
VERIFICATION_URL = "https://provider.example/v/1"
EXPIRES_AT = datetime(2026, 11, 22, 20, 2, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 22, 20, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


class FakeOptions(BaseModel):
    two_factor: bool = False


@dataclass
class FakeProvider:
    """Answers what the test scripts: an Observation, or an exception to raise."""

    answers: list[Any] = field(default_factory=list)
    looks: int = 0
    first_wait: int = 0
    #: Its fast phase: the whole life of its verifications (2 minutes), as Jekimo's.
    fast_follow: int = 120
    qr_image: str | None = None
    #: What it was asked to start, and the ids of the sessions it was asked to look at.
    starts: list[StartRequest] = field(default_factory=list)
    observed: list[str] = field(default_factory=list)
    #: (session id, attempt) of each time its cadence was asked.
    cadences: list[tuple[str, int]] = field(default_factory=list)
    name: ClassVar[str] = "fake"
    title: ClassVar[str] = "A fake provider"
    options_model: ClassVar[type[BaseModel]] = FakeOptions

    @classmethod
    def from_context(cls, context: ProviderContext) -> FakeProvider:
        return cls()

    def parse_options(self, options: Any, *, email: str | None) -> FakeOptions:
        return FakeOptions.model_validate(options)

    def second_factor_requested(self, options: BaseModel) -> bool:
        return isinstance(options, FakeOptions) and options.two_factor

    def start(self, request: StartRequest) -> NewVerification:
        self.starts.append(request)
        return NewVerification(VERIFICATION_URL, EXPIRES_AT, "ref-1", qr_image=self.qr_image)

    def observe(self, session: Session) -> Observation:
        self.looks += 1
        self.observed.append(session.id)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    def next_wait_seconds(self, session: Session, *, attempt: int, base_interval: int) -> int:
        self.cadences.append((session.id, attempt))
        return self.first_wait if attempt == 0 and self.first_wait else base_interval

    def fast_follow_seconds(self, session: Session, *, base_interval: int) -> int:
        return self.fast_follow

    def follow_limit(self, status: Status) -> timedelta | None:
        return timedelta(hours=1) if status is Status.REVIEW else None


@dataclass
class FakeWebhookProvider(FakeProvider):
    """A provider whose webhooks carry the news (no fast phase): its webhooks name `references`, or raise
    what `references` is."""

    fast_follow: int = 0
    references: list[str] | Exception = field(default_factory=list)
    webhooks: list[WebhookRequest] = field(default_factory=list)
    name: ClassVar[str] = "hooked"
    title: ClassVar[str] = "A fake provider with webhooks"

    def start(self, request: StartRequest) -> NewVerification:
        """Each verification has its own reference: hook-1, hook-2, ..."""
        self.starts.append(request)
        return NewVerification(VERIFICATION_URL, EXPIRES_AT, f"hook-{len(self.starts)}")

    def webhook_references(self, request: WebhookRequest) -> list[str]:
        self.webhooks.append(request)
        if isinstance(self.references, Exception):
            raise self.references
        return self.references


@dataclass
class FakeImageProvider(FakeProvider):
    """A provider that serves document images and one resource, as `images` and `listing` script: an
    answer, or an exception to raise. It records what it was asked."""

    images: dict[tuple[str, bool], Image | Exception | None] = field(default_factory=dict)
    listing: dict[str, Any] | Exception = field(default_factory=dict)
    asked: list[tuple[Any, ...]] = field(default_factory=list)
    name: ClassVar[str] = "imaging"
    title: ClassVar[str] = "A fake provider with images"
    resources: ClassVar[tuple[str, ...]] = ("templates",)

    def image(self, session: Session, *, side: str, redacted: bool) -> Image | None:
        self.asked.append(("image", session.id, side, redacted))
        answer = self.images.get((side, redacted))
        if isinstance(answer, Exception):
            raise answer
        return answer

    def resource(self, name: str) -> dict[str, Any]:
        self.asked.append(("resource", name))
        if isinstance(self.listing, Exception):
            raise self.listing
        return self.listing


@dataclass
class CadenceBoundProvider(FakeProvider):
    """A provider whose fast phase is ten of the deployment's poll intervals (50 s in this world)."""

    name: ClassVar[str] = "bound"

    def fast_follow_seconds(self, session: Session, *, base_interval: int) -> int:
        return 10 * base_interval


@dataclass
class Outside:
    started: list[FollowState] = field(default_factory=list)
    published: list[Announced] = field(default_factory=list)
    redactions: list[Announced] = field(default_factory=list)
    publish_failures: int = 0
    mails: list[dict[str, Any]] = field(default_factory=list)
    sleeps: list[float] = field(default_factory=list)

    def start(self, state: FollowState) -> None:
        self.started.append(state)

    def session_finalized(self, session: Announced) -> None:
        if self.publish_failures:
            self.publish_failures -= 1
            raise RuntimeError("EventBridge is down")
        self.published.append(session)

    def session_redacted(self, session: Announced) -> None:
        if self.publish_failures:
            self.publish_failures -= 1
            raise RuntimeError("EventBridge is down")
        self.redactions.append(session)

    def send_pin(self, *, to: str, pin: str, valid_minutes: int) -> None:
        self.mails.append({"to": to, "pin": pin, "valid_minutes": valid_minutes})

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


World = tuple[Idgate, FakeProvider, Outside, Clock]


def make_world(
    *, pin_ttl: timedelta = timedelta(minutes=10), others: tuple[FakeProvider, ...] = (), **more: Any
) -> World:
    """`others`: providers offered besides the scripted one (named "fake")."""
    clock, provider, outside = Clock(), FakeProvider(), Outside()
    providers = {"fake": provider, **{other.name: other for other in others}}
    # The routing of "auto" sessions: the declared policy, no client's own, breakers in memory.
    from tests.support.routing_fakes import MemoryBreakers, MemoryClientPolicies

    more.setdefault("routing", RoutingPolicies(declared_policy(providers), MemoryClientPolicies(), providers))
    more.setdefault("breakers", MemoryBreakers())
    service = Idgate(
        Dependencies(
            sessions=fresh_session_store(),
            providers=providers,
            starter=outside,
            publisher=outside,
            mailer=outside,
            poll_interval_seconds=5,
            pin_ttl=pin_ttl,
            pin_max_attempts=5,
            checks_per_execution=4,
            clock=clock,
            sleep=outside.sleep,
            **more,
        )
    )
    return service, provider, outside, clock


def store_of(service: Idgate) -> InMemorySessionStore:
    sessions = service.deps.sessions
    assert isinstance(sessions, InMemorySessionStore)
    return sessions


def new_session(service: Idgate) -> Session:
    session, _, _ = service.create_session(CALLER, {"provider": "fake"})
    return session


def state(session: Session, **more: Any) -> FollowState:
    return FollowState(session_id=session.id, interval_seconds=5, wait_seconds=5, **more)


def awaiting_pin(service: Idgate, provider: FakeProvider, code: str) -> tuple[Session, str]:
    """A session whose provider approved on condition of the PIN `code`, emailed to u@example.com."""
    session, client_secret, _ = service.create_session(
        CALLER, {"provider": "fake", "email": "u@example.com", "options": {"two_factor": True}}
    )
    provider.answers = [Observation(Status.AWAITING_PIN, "OK", risk=True, second_factor_code=code)]
    service.poll(state(session))
    return session, client_secret
