"""Canceling a session (idgate.canceling): only the secret key of its client, only while it is open, once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest

from idgate.api import Caller
from idgate.domain import Session, Status
from idgate.errors import Conflict, Forbidden, NotFound, ProviderUnavailable
from idgate.providers.base import Observation
from tests.support.messages import says
from tests.support.world import CALLER, FakeProvider, World, make_world, new_session, state, store_of

APPROVED = Observation(Status.APPROVED, "OK")


@pytest.fixture
def world() -> World:
    return make_world()


def test_an_open_session_is_canceled_expired_and_its_follow_up_stops(world):
    service, provider, outside, _ = world
    session = new_session(service)
    canceled = service.cancel_session(CALLER, session.id)
    assert (canceled.status, canceled.result.reasons) == (Status.EXPIRED, ["canceled"])
    assert store_of(service).get(session.id).status is Status.EXPIRED
    provider.answers = [APPROVED]
    assert service.poll(state(session)).done is True
    assert provider.looks == 0  # the next look finds it final and asks nothing
    assert service.publish_final(session.id) is True
    assert [s.id for s in outside.published] == [session.id]


def test_a_final_session_is_a_conflict_and_stays_as_it_was(world):
    service, provider, _, _ = world
    session = new_session(service)
    provider.answers = [APPROVED]
    service.poll(state(session))
    with pytest.raises(Conflict) as refused:
        service.cancel_session(CALLER, session.id)
    assert refused.value.code == "session_final"
    says(refused.value.message, "session", "final")  # what the integrator reads: why it was refused
    assert store_of(service).get(session.id).status is Status.APPROVED


@pytest.mark.parametrize(
    ("caller", "error", "code"),
    [
        (Caller(kind="publishable", client_id="shop"), Forbidden, "secret_key_required"),
        (Caller(kind="secret", client_id="another-shop"), NotFound, "session_not_found"),
    ],
)
def test_only_the_secret_key_of_its_client_cancels(world, caller, error, code):
    service, _, _, _ = world
    session = new_session(service)
    with pytest.raises(error) as refused:
        service.cancel_session(caller, session.id)
    assert refused.value.code == code
    assert store_of(service).get(session.id).status is Status.PENDING


def test_the_403_names_what_was_refused_and_what_it_takes(world):
    service, _, _, _ = world
    session = new_session(service)
    with pytest.raises(Forbidden) as refused:
        service.cancel_session(Caller(kind="publishable", client_id="shop"), session.id)
    says(refused.value.message, "canceling a session", "secret key")


def test_an_unknown_or_malformed_id_is_not_found(world):
    service, _, _, _ = world
    for session_id in ("ses_AAAAAAAAAAAAAAAAAAAA", "../etc"):
        with pytest.raises(NotFound):
            service.cancel_session(CALLER, session_id)


def test_a_cancel_racing_a_verdict_ends_one_way_and_says_so(world):
    service, provider, _, _ = world
    provider.answers = [APPROVED]
    for _ in range(10):
        session = new_session(service)
        start = threading.Barrier(2)

        def cancel(session: Session = session, start: threading.Barrier = start) -> str:
            start.wait()
            try:
                return service.cancel_session(CALLER, session.id).status.value
            except Conflict:
                return "conflict"

        def verdict(session: Session = session, start: threading.Barrier = start) -> None:
            start.wait()
            service.poll(state(session))

        with ThreadPoolExecutor(2) as pool:
            canceled, polled = pool.submit(cancel), pool.submit(verdict)
            answered = canceled.result(timeout=10)
            polled.result(timeout=10)
        final = store_of(service).get(session.id)
        # A 200 says expired, and only when the session is expired; a conflict, only when approved.
        assert (answered, final.status) in {("expired", Status.EXPIRED), ("conflict", Status.APPROVED)}


@dataclass
class CancelingFake(FakeProvider):
    """The fake provider with a way to cancel at its end, which is down."""

    told: list[str] = field(default_factory=list)

    def cancel(self, session: Session) -> None:
        self.told.append(session.id)
        raise ProviderUnavailable("provider_unreachable", "down")


def test_a_provider_that_can_cancel_is_told_and_its_failure_changes_nothing(world):
    service, _, _, _ = world
    fake = CancelingFake()
    service.deps.providers["fake"] = fake  # type: ignore[index]
    session = new_session(service)
    canceled = service.cancel_session(CALLER, session.id)
    assert fake.told == [session.id]
    assert (canceled.status, canceled.result.reasons) == (Status.EXPIRED, ["canceled"])


@dataclass
class VerdictWhileCanceling(FakeProvider):
    """A provider that can cancel, whose verdict lands (by `land`) while it is being told to."""

    land: Callable[[Session], object] | None = None

    def cancel(self, session: Session) -> None:
        assert self.land is not None
        self.land(session)


def test_a_verdict_that_lands_while_canceling_wins_and_the_cancel_is_a_conflict(world):
    # Given an open session whose verdict lands after the cancel read it open
    service, _, _, _ = world
    fake = VerdictWhileCanceling(answers=[APPROVED])
    fake.land = lambda session: service.poll(state(session))
    service.deps.providers["fake"] = fake  # type: ignore[index]
    session = new_session(service)
    # When its client cancels it
    with pytest.raises(Conflict) as refused:
        service.cancel_session(CALLER, session.id)
    # Then the cancel is refused as for a session already final, and the verdict stands
    assert (refused.value.status, refused.value.code) == (409, "session_final")
    says(refused.value.message, "session", "final")
    assert store_of(service).get(session.id).status is Status.APPROVED
