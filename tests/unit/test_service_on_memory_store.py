"""The use cases on the in-memory session store: it stands in for SessionStore as `Idgate(sessions=...)`,
with no DynamoDB and no moto."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel

from idgate.api import Caller
from idgate.domain import Session, Status
from idgate.providers.base import NewVerification, Observation
from idgate.service import Idgate
from tests.support.memory_store import InMemorySessionStore, fresh_session_store

CALLER = Caller(kind="secret", client_id="shop")
NOW = datetime(2026, 11, 22, 20, 0, tzinfo=UTC)


class NoOptions(BaseModel):
    pass


@dataclass
class ScriptedProvider:
    """Says `status` whenever it is looked at."""

    status: Status = Status.PENDING
    name: str = "fake"
    polled: bool = True

    def parse_options(self, options: Any, *, email: str | None) -> NoOptions:
        return NoOptions.model_validate(options)

    def start(self, *, session_id: str, reference: str | None, options: BaseModel) -> NewVerification:
        return NewVerification("https://provider.example/v/1", NOW + timedelta(minutes=30), "ref-1")

    def observe(self, session: Session) -> Observation:
        return Observation(self.status, self.status.value)

    def next_wait_seconds(self, session: Session, *, attempt: int, base_interval: int) -> int:
        return base_interval

    def follow_limit(self, status: Status) -> timedelta | None:
        return None


@dataclass
class Outside:
    started: list[str] = field(default_factory=list)
    published: list[Session] = field(default_factory=list)

    def start(self, *, session_id: str, interval_seconds: int) -> None:
        self.started.append(session_id)

    def continue_with(self, state: dict[str, Any]) -> None:
        raise AssertionError("no follow-up outlives one execution here")

    def session_finalized(self, session: Session) -> None:
        self.published.append(session)

    def send_pin(self, *, to: str, pin: str, valid_minutes: int) -> None:
        raise AssertionError("no PIN here")


def service_on(sessions: InMemorySessionStore, provider: ScriptedProvider, outside: Outside) -> Idgate:
    return Idgate(
        sessions=sessions,
        providers={provider.name: provider},
        starter=outside,
        publisher=outside,
        mailer=outside,
        poll_interval_seconds=5,
        pin_ttl=timedelta(minutes=10),
        pin_max_attempts=5,
        clock=lambda: NOW,
        sleep=lambda seconds: None,
    )


def test_a_session_is_created_followed_and_finalized_once_on_the_in_memory_store():
    sessions, provider, outside = fresh_session_store(), ScriptedProvider(), Outside()
    service = service_on(sessions, provider, outside)
    created, _, _ = service.create_session(CALLER, {"provider": "fake"})
    assert outside.started == [created.id]
    state = {"session_id": created.id, "interval_seconds": 5}
    assert service.poll(state)["done"] is False
    provider.status = Status.APPROVED
    assert service.poll(state)["done"] is True
    assert service.poll(state)["done"] is True  # a late step publishes nothing more
    final = service.get_session(CALLER, created.id, None)
    assert (final.status, final.event_published, final.verification_url) == (Status.APPROVED, True, None)
    assert [session.id for session in outside.published] == [created.id]
    assert sessions.find_by_provider_ref("fake", "ref-1") == final
