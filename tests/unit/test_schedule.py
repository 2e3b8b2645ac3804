"""The two phases of following a session (idgate.schedule): close looks in the Express workflow while
the provider's fast phase lasts, then sparse ones in the Standard workflow, which is billed per look."""

from __future__ import annotations

from datetime import timedelta

import pytest

from idgate import schedule
from idgate.domain import Status
from idgate.follow_state import FollowState
from idgate.providers.base import Observation
from tests.support.world import World, awaiting_pin, make_world, new_session, store_of

PENDING = Observation(Status.PENDING, "pending")
REVIEW = Observation(Status.REVIEW, "review")


@pytest.fixture
def world() -> World:
    return make_world()


def follow(service, first: FollowState, clock, *, steps: int) -> list[FollowState]:
    """Runs `steps` steps as the state machines would: each after the wait the previous one asked for,
    a long follow-up's next execution (the world's run 4 checks each) taking over where one ends."""
    states, current = [], first
    started = service.deps.starter.started
    for _ in range(steps):
        clock.now += timedelta(seconds=current.wait_seconds)
        current = service.poll(current)
        states.append(current)
        if current.done and started[-1].generation > first.generation:
            current = first = started[-1]
        elif current.done or current.handoff:
            break
    return states


def test_a_provider_with_a_fast_phase_is_followed_by_the_express_workflow_at_its_cadence(world):
    service, provider, outside, clock = world
    session = new_session(service)
    (started,) = outside.started
    assert started.phase == "fast"
    assert started.fast_until == (session.created_at + timedelta(seconds=120 + 15)).timestamp()
    provider.answers = [PENDING]
    steps = follow(service, started, clock, steps=10)
    assert [s.wait_seconds for s in steps] == [5] * 10
    assert not any(s.handoff for s in steps)


def test_its_look_at_the_deadline_is_still_the_fast_phases_then_nothing_is_left_to_hand_off(world):
    service, provider, outside, clock = world
    session = new_session(service)
    provider.answers = [PENDING]
    steps = follow(service, outside.started[0], clock, steps=40)
    assert steps[-1].done
    assert not steps[-1].handoff
    assert clock.now == session.expires_at
    assert store_of(service).get(session.id).status is Status.EXPIRED


def test_the_fast_phase_hands_off_with_the_long_phases_wait_when_its_time_is_up(world):
    service, provider, outside, clock = world
    provider.fast_follow = 20  # ends 35 s after creation
    session = new_session(service)
    provider.answers = [PENDING]
    steps = follow(service, outside.started[0], clock, steps=40)
    last = steps[-1]
    assert (last.handoff, last.phase, last.done) == (True, "long", False)
    assert len(steps) == 7  # looks at 5 ... 35 s; the next would be past the phase
    # a waiting user's session is looked at next at its deadline, nothing in between
    assert clock.now + timedelta(seconds=last.wait_seconds) == session.expires_at


def test_a_long_phase_step_never_hands_off_again(world):
    service, provider, outside, clock = world
    provider.fast_follow = 20
    new_session(service)
    provider.answers = [REVIEW]
    handed = follow(service, outside.started[0], clock, steps=40)[-1]
    assert handed.handoff
    nxt = service.poll(handed)
    assert (nxt.handoff, nxt.phase, nxt.long_looks) == (False, "long", 1)


def test_a_review_backs_off_doubling_up_to_two_hours(world):
    service, provider, outside, clock = world
    provider.fast_follow = 0
    session = new_session(service)
    provider.answers = [REVIEW]
    first = outside.started[0]
    assert first.phase == "long"
    assert first.wait_seconds == 120  # no safety net in a two-minute life: the look at the deadline
    states = follow(service, first, clock, steps=9)
    assert store_of(service).get(session.id).status is Status.REVIEW
    # the fake provider's cadence is 5 s; a review begun at the deadline is followed for an hour more
    assert [s.wait_seconds for s in states] == [5, 10, 20, 40, 80, 160, 320, 640, 1280]
    assert len(service.deps.starter.started) == 3  # generations of 4 checks each, as the world says


def test_the_long_wait_of_a_review_stops_at_two_hours_and_at_the_deadline(world):
    service, _, _, clock = world
    session = new_session(service)
    review = (
        store_of(service)
        .get(session.id)
        .model_copy(update={"status": Status.REVIEW, "expires_at": clock.now + timedelta(days=7)})
    )

    def wait(looks: int, now=clock.now) -> int:
        return schedule.long_phase_wait(
            review, provider_wait=60, interval=5, long_looks=looks, had_fast_phase=True, now=now
        )

    assert [wait(n) for n in (0, 1, 6, 7, 20)] == [60, 120, 3840, 7200, 7200]
    assert wait(20, now=review.expires_at - timedelta(seconds=100)) == 100


def test_a_webhook_providers_session_gets_one_safety_net_look_then_its_last_look(world):
    service, provider, _outside, clock = world
    provider.fast_follow = 0
    store = store_of(service)
    session = new_session(service)
    # a session that lives an hour (the fake's own is two minutes)
    store.update_open(
        session.id,
        now=clock.now,
        fields={"expires_at": (session.created_at + timedelta(hours=1)).isoformat()},
    )
    service.deps.starter.started.clear()  # type: ignore[attr-defined]
    service.following.start(store.get(session.id))  # type: ignore[attr-defined]
    (first,) = service.deps.starter.started  # type: ignore[attr-defined]
    assert (first.phase, first.wait_seconds) == ("long", 600)
    provider.answers = [PENDING]
    states = follow(service, first, clock, steps=5)
    assert clock.now == session.created_at + timedelta(hours=1)
    assert len(states) == 2  # the safety net at 10 minutes, the last look at the hour
    assert states[-1].done
    assert provider.looks == 2


def test_no_safety_net_look_when_the_deadline_is_near_it(world):
    service, provider, outside, clock = world
    provider.fast_follow = 0
    session = new_session(service)  # lives two minutes
    first = outside.started[0]
    assert first.wait_seconds == (session.expires_at - clock.now).total_seconds()


def test_a_pin_awaited_in_the_long_phase_is_looked_at_its_deadline(world):
    service, provider, _outside, clock = world
    session, _ = awaiting_pin(service, provider, "123456")
    pin_deadline = store_of(service).get(session.id).pin_deadline
    current = store_of(service).get(session.id)
    wait = schedule.long_phase_wait(
        current, provider_wait=5, interval=5, long_looks=3, had_fast_phase=True, now=clock.now
    )
    assert clock.now + timedelta(seconds=wait) == pin_deadline


def test_the_fast_phase_is_at_most_three_minutes_whatever_the_provider_says(world):
    service, provider, outside, _clock = world
    provider.fast_follow = 3600
    session = new_session(service)
    assert outside.started[0].fast_until == (session.created_at + timedelta(seconds=180)).timestamp()


@pytest.mark.parametrize(
    ("life_minutes", "first_look_minutes"),
    [(15, 10), (14, 14), (12, 12)],  # the safety net only when the last look is 5 minutes or more after it
)
def test_the_safety_net_look_is_kept_only_five_minutes_or_more_before_the_deadline(
    world, life_minutes, first_look_minutes
):
    service, _, _, clock = world
    session = store_of(service).get(new_session(service).id)
    lived = session.model_copy(update={"expires_at": session.created_at + timedelta(minutes=life_minutes)})
    wait = schedule.long_phase_wait(
        lived, provider_wait=5, interval=5, long_looks=0, had_fast_phase=False, now=clock.now
    )
    assert wait == first_look_minutes * 60


@pytest.mark.parametrize("status", [Status.REVIEW, Status.PENDING])
def test_the_last_wait_before_the_deadline_is_one_second_at_least_and_at_most(world, status):
    service, _, _, _ = world
    session = store_of(service).get(new_session(service).id).model_copy(update={"status": status})
    now = session.expires_at - timedelta(seconds=0.5)
    assert (
        schedule.long_phase_wait(
            session, provider_wait=60, interval=5, long_looks=3, had_fast_phase=True, now=now
        )
        == 1
    )


def test_a_one_second_fast_follow_is_a_fast_phase_of_one_second_and_its_grace(world):
    service, provider, outside, _ = world
    provider.fast_follow = 1
    session = new_session(service)
    assert outside.started[0].phase == "fast"
    assert outside.started[0].fast_until == (session.created_at + timedelta(seconds=1 + 15)).timestamp()
