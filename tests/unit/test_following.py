"""Following a session one step at a time (idgate.following): the wait each step asks for, what a failed
look records, and the last look's retries at the deadline."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from idgate import deadline
from idgate.domain import Cause, Reason, Session, Status
from idgate.errors import ProviderRejected, ProviderUnavailable
from idgate.providers.base import Observation
from tests.support.emf import provider_call_failures
from tests.support.world import (
    CALLER,
    CadenceBoundProvider,
    World,
    make_world,
    new_session,
    store_of,
)

PENDING = Observation(Status.PENDING, "pending")
UNREACHABLE = ProviderUnavailable(Reason.PROVIDER_UNREACHABLE, "down")


@pytest.fixture
def world() -> World:
    return make_world()


@pytest.mark.parametrize(("seconds_left", "wait"), [(2, 2), (0.5, 1)])
def test_a_fast_phase_look_near_the_deadline_waits_only_until_it(world, seconds_left, wait):
    service, provider, outside, clock = world
    session = new_session(service)
    first = outside.started[0]
    provider.answers = [PENDING]
    clock.now = session.expires_at - timedelta(seconds=seconds_left)
    step = service.poll(first)
    assert (step.wait_seconds, step.attempt, step.done, step.phase, step.handoff) == (
        wait,
        1,
        False,
        "fast",
        False,
    )


def test_each_fast_phase_step_counts_its_attempt(world):
    service, provider, outside, clock = world
    new_session(service)
    current = outside.started[0]
    provider.answers = [PENDING]
    attempts = []
    for _ in range(3):
        clock.now += timedelta(seconds=current.wait_seconds)
        current = service.poll(current)
        attempts.append(current.attempt)
    assert attempts == [1, 2, 3]


def test_a_pin_awaited_in_the_fast_phase_is_looked_at_at_its_deadline():
    service, provider, outside, clock = make_world(pin_ttl=timedelta(seconds=60))
    session, _, _ = service.create_session(
        CALLER, {"provider": "fake", "email": "u@example.com", "options": {"two_factor": True}}
    )
    provider.answers = [Observation(Status.AWAITING_PIN, "OK", second_factor_code="123456")]
    clock.now += timedelta(seconds=5)
    step = service.poll(outside.started[0])
    assert store_of(service).get(session.id).status is Status.AWAITING_PIN  # type: ignore[union-attr]
    assert (step.wait_seconds, step.phase, step.handoff) == (60, "fast", False)


def test_a_handed_off_state_whose_session_is_over_is_done_and_not_handed_off_again(world):
    service, _, outside, clock = world
    session = new_session(service)
    handed = outside.started[0].model_copy(update={"phase": "long", "handoff": True, "attempt": 3})
    store_of(service).advance(session.id, Status.DECLINED, now=clock.now, cause=Cause.POLL)
    step = service.poll(handed)
    assert (step.done, step.handoff, step.attempt) == (True, False, 4)


def test_an_unreachable_look_records_its_reason_when_it_began_and_the_count(world):
    service, provider, outside, clock = world
    session = new_session(service)
    provider.answers = [UNREACHABLE]
    clock.now += timedelta(seconds=5)
    began = clock.now
    with pytest.raises(ProviderUnavailable):
        service.poll(outside.started[0])
    clock.now += timedelta(seconds=5)
    with pytest.raises(ProviderUnavailable):
        service.poll(outside.started[0])
    stored = store_of(service).get(session.id)
    assert stored is not None
    assert (stored.last_poll_error, stored.unreachable_since, stored.failed_looks) == (
        "provider_unreachable",
        began,
        2,
    )


# ---- the last look at the deadline --------------------------------------------------------------------


def at_the_deadline(world: World, session: Session) -> Any:
    service, _, outside, clock = world
    clock.now = session.expires_at
    return service.poll(outside.started[0])


def test_each_failed_last_look_is_counted_and_followed_by_its_pause(world, capsys):
    service, provider, outside, _ = world
    session = new_session(service)
    capsys.readouterr()
    provider.answers = [UNREACHABLE]
    assert at_the_deadline(world, session).done
    tries = len(deadline.LAST_LOOK_PAUSES) + 1
    assert provider.looks == tries
    assert outside.sleeps == list(deadline.LAST_LOOK_PAUSES)
    assert provider_call_failures(capsys) == [("fake", "provider_unreachable")] * tries


@pytest.mark.parametrize(
    ("look_seconds", "pauses"),
    [
        (0.0, [0.5, 1.0, 1.0, 2.0, 2.0]),  # all of them fit in the 8 s budget
        # looks of 7/8 s: after the 4th, 6 s are spent and its 2 s pause ends right at the budget
        (0.875, [0.5, 1.0, 1.0, 2.0]),
        (1.0, [0.5, 1.0, 1.0]),  # after the 4th look 6.5 s are spent: a 2 s pause would overrun
    ],
)
def test_the_last_look_is_retried_while_the_next_pause_fits_in_its_budget(
    world, monkeypatch, look_seconds, pauses
):
    service, provider, outside, _ = world
    session = new_session(service)
    # the time the looks and the pauses took (the world's sleeps are recorded, not slept)
    spent = SimpleNamespace(monotonic=lambda: provider.looks * look_seconds + sum(outside.sleeps))
    monkeypatch.setattr("idgate.following.time", spent)
    provider.answers = [UNREACHABLE]
    assert at_the_deadline(world, session).done
    assert outside.sleeps == pauses
    assert provider.looks == len(pauses) + 1


# ---- the state machine giving up ----------------------------------------------------------------------


def test_a_follow_up_that_gave_up_ends_its_open_session_in_error(world):
    service, _, _, _ = world
    session = new_session(service)
    service.abort(session.id)
    stored = store_of(service).get(session.id)
    assert stored is not None
    assert (stored.status, stored.result.reasons if stored.result else None) == (
        Status.ERROR,
        ["internal_error"],
    )


def test_giving_up_changes_nothing_of_a_final_or_unknown_session(world):
    service, _, _, clock = world
    session = new_session(service)
    store_of(service).advance(session.id, Status.APPROVED, now=clock.now, cause=Cause.POLL)
    service.abort(session.id)
    service.abort("ses_unknown")
    assert store_of(service).get(session.id).status is Status.APPROVED  # type: ignore[union-attr]
    assert store_of(service).get("ses_unknown") is None


# ---- the provider's cadence, the long phase's waits, and what a look records ----------------------------

REVIEW = Observation(Status.REVIEW, "review")


def test_the_providers_cadence_is_asked_for_the_session_at_each_attempt(world):
    service, provider, outside, clock = world
    session = new_session(service)
    provider.answers = [PENDING]
    current = outside.started[0]
    provider.cadences.clear()
    for _ in range(3):
        clock.now += timedelta(seconds=current.wait_seconds)
        current = service.poll(current)
    assert provider.cadences == [(session.id, 1), (session.id, 2), (session.id, 3)]


def test_a_review_found_at_the_last_look_is_followed_at_the_providers_cadence(world):
    service, provider, outside, clock = world
    session = new_session(service)
    provider.answers = [REVIEW]
    provider.cadences.clear()
    clock.now = session.expires_at
    step = service.poll(outside.started[0])
    assert (step.done, store_of(service).get(session.id).status) == (False, Status.REVIEW)  # type: ignore[union-attr]
    assert provider.cadences == [(session.id, 1)]


def test_a_pin_awaited_is_looked_at_again_only_at_its_deadline():
    service, provider, outside, clock = make_world(pin_ttl=timedelta(seconds=60))
    session, _, _ = service.create_session(
        CALLER, {"provider": "fake", "email": "u@example.com", "options": {"two_factor": True}}
    )
    provider.answers = [Observation(Status.AWAITING_PIN, "OK", second_factor_code="123456")]
    clock.now += timedelta(seconds=5)
    first = service.poll(outside.started[0])
    clock.now += timedelta(seconds=20)  # the state machine is early: the PIN is not due yet
    again = service.poll(first)
    assert store_of(service).get(session.id).status is Status.AWAITING_PIN  # type: ignore[union-attr]
    assert (again.wait_seconds, again.done, provider.looks) == (40, False, 1)


def test_a_session_handed_off_gets_no_safety_net_look_it_had_a_fast_phase(world):
    service, provider, outside, clock = world
    provider.fast_follow = 20
    session = new_session(service)
    hour = session.created_at + timedelta(hours=1)
    store_of(service).update_open(session.id, now=clock.now, fields={"expires_at": hour.isoformat()})
    provider.answers = [PENDING]
    current = outside.started[0]
    while not current.handoff:
        clock.now += timedelta(seconds=current.wait_seconds)
        current = service.poll(current)
    assert clock.now + timedelta(seconds=current.wait_seconds) == hour  # its last look, nothing before


def test_a_review_is_handed_off_at_the_providers_cadence_then_doubled_up_to_the_configured_cap():
    service, provider, outside, clock = make_world(long_wait_limit_seconds=8)
    provider.fast_follow = 20
    session = new_session(service)
    week = session.created_at + timedelta(days=7)
    store_of(service).update_open(session.id, now=clock.now, fields={"expires_at": week.isoformat()})
    provider.answers = [REVIEW]
    current = outside.started[0]
    while not current.handoff:
        clock.now += timedelta(seconds=current.wait_seconds)
        current = service.poll(current)
    waits = [current.wait_seconds]
    for _ in range(3):  # the long phase's first execution: its checks up to the fourth
        clock.now += timedelta(seconds=current.wait_seconds)
        current = service.poll(current)
        waits.append(current.wait_seconds)
    assert waits == [5, 5, 8, 8]  # its first long look waits as long as the fast phase's last


def test_a_refused_look_is_counted_by_provider_and_reason(world, capsys):
    service, provider, outside, clock = world
    new_session(service)
    capsys.readouterr()
    provider.answers = [ProviderRejected(Reason.PROVIDER_AUTH_FAILED, "no")]
    clock.now += timedelta(seconds=5)
    assert service.poll(outside.started[0]).done
    assert provider_call_failures(capsys) == [("fake", "provider_auth_failed")]


def test_a_look_that_changes_nothing_writes_nothing(world):
    service, provider, outside, clock = world
    session = new_session(service)
    before = store_of(service).stored_item(session.id)
    provider.answers = [PENDING]
    clock.now += timedelta(seconds=5)
    service.poll(outside.started[0])
    assert store_of(service).stored_item(session.id) == before


@pytest.mark.parametrize("next_look", [PENDING, REVIEW])
def test_a_look_that_reaches_the_provider_again_clears_the_outage(world, next_look):
    service, provider, outside, clock = world
    session = new_session(service)
    provider.answers = [UNREACHABLE, next_look]
    clock.now += timedelta(seconds=5)
    with pytest.raises(ProviderUnavailable):
        service.poll(outside.started[0])
    clock.now += timedelta(seconds=5)
    service.poll(outside.started[0])
    stored = store_of(service).get(session.id)
    assert stored is not None
    assert (stored.status, stored.last_poll_error, stored.unreachable_since, stored.failed_looks) == (
        next_look.status,
        None,
        None,
        0,
    )
    if next_look is REVIEW:  # a status under way keeps what the provider said
        assert stored.result is not None
        assert (stored.result.decision, stored.result.provider_status) == (Status.REVIEW, "review")


def test_what_the_provider_found_is_kept_in_the_result(world):
    service, provider, outside, clock = world
    session = new_session(service)
    provider.answers = [Observation(Status.APPROVED, "verified", risk=False, data={"age_over_18": True})]
    clock.now += timedelta(seconds=5)
    service.poll(outside.started[0])
    result = store_of(service).get(session.id).result  # type: ignore[union-attr]
    assert result is not None
    assert (result.decision, result.provider_status, result.risk, result.data) == (
        Status.APPROVED,
        "verified",
        False,
        {"age_over_18": True},
    )


def test_the_first_look_waits_what_the_provider_says_down_to_one_second(world):
    service, provider, outside, _ = world
    provider.first_wait = 1
    new_session(service)
    assert (outside.started[0].phase, outside.started[0].wait_seconds) == ("fast", 1)


def test_the_fast_phase_is_at_most_the_deployments_limit():
    service, provider, outside, _ = make_world(fast_phase_limit=timedelta(seconds=60))
    provider.fast_follow = 3600
    session = new_session(service)
    assert outside.started[0].fast_until == (session.created_at + timedelta(seconds=60)).timestamp()


def test_the_fast_phase_is_what_the_provider_makes_of_the_deployments_interval():
    service, _, outside, _ = make_world(others=(CadenceBoundProvider(),))
    session, _, _ = service.create_session(CALLER, {"provider": "bound"})
    assert outside.started[0].fast_until == (session.created_at + timedelta(seconds=50 + 15)).timestamp()
