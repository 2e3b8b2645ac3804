"""Paying for freshness (idgate.freshness): a read of a session past its fast phase looks at the provider,
at most once per interval however many read it, and serves the stored session whatever goes wrong."""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from idgate.domain import Cause, Status
from idgate.errors import ProviderRejected, ProviderUnavailable
from idgate.providers.base import Observation
from idgate.service import Idgate
from tests.support.world import (
    CALLER,
    CadenceBoundProvider,
    FakeProvider,
    World,
    awaiting_pin,
    make_world,
    new_session,
    store_of,
)

PENDING = Observation(Status.PENDING, "pending")
APPROVED = Observation(Status.APPROVED, "OK")


@pytest.fixture
def world() -> World:
    service, provider, outside, clock = make_world()
    provider.fast_follow = 0  # a webhook provider: no fast phase, sparse looks
    return service, provider, outside, clock


def read(service, session_id: str):
    return service.get_session(CALLER, session_id, None)


def test_a_reader_sees_a_verdict_whose_webhook_was_lost(world):
    service, provider, _, clock = world
    session = new_session(service)
    provider.answers = [APPROVED]
    clock.now += timedelta(seconds=30)
    assert read(service, session.id).status is Status.APPROVED
    assert provider.looks == 1
    assert store_of(service).get(session.id).status is Status.APPROVED


def test_readers_look_at_most_once_per_interval(world):
    service, provider, _, clock = world
    session = new_session(service)
    provider.answers = [PENDING]
    clock.now += timedelta(seconds=30)
    for _ in range(5):
        assert read(service, session.id).status is Status.PENDING
    assert provider.looks == 1
    clock.now += timedelta(seconds=4)
    read(service, session.id)
    assert provider.looks == 1
    clock.now += timedelta(seconds=1)  # one interval (5 s) after the look
    read(service, session.id)
    assert provider.looks == 2


def test_parallel_readers_make_one_look(world):
    service, provider, _, clock = world
    session = new_session(service)
    provider.answers = [PENDING]
    clock.now += timedelta(seconds=30)
    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(lambda _: read(service, session.id).status, range(64)))
    assert set(statuses) == {Status.PENDING}
    assert provider.looks == 1


def test_no_reader_looks_during_the_fast_phase(world):
    service, provider, _, clock = world
    provider.fast_follow = 60
    session = new_session(service)
    provider.answers = [APPROVED]
    clock.now += timedelta(seconds=30)
    assert read(service, session.id).status is Status.PENDING
    assert provider.looks == 0
    clock.now = session.created_at + timedelta(seconds=60 + 15)  # the phase and its grace are over
    assert read(service, session.id).status is Status.APPROVED


@pytest.mark.parametrize(
    "failure",
    [
        ProviderUnavailable("provider_unreachable", "down"),
        ProviderRejected("provider_auth_failed", "refused"),
    ],
)
def test_a_failed_look_serves_the_stored_session_and_decides_nothing(world, failure):
    service, provider, _, clock = world
    session = new_session(service)
    provider.answers = [failure]
    clock.now += timedelta(seconds=30)
    served = read(service, session.id)
    assert served.status is Status.PENDING
    assert provider.looks == 1
    stored = store_of(service).get(session.id)
    assert (stored.status, stored.failed_looks, stored.unreachable_since) == (Status.PENDING, 0, None)


def test_no_look_for_a_final_session_one_past_its_deadline_or_one_awaiting_a_pin(world):
    service, provider, _, clock = world
    past = new_session(service)
    clock.now = past.expires_at
    provider.answers = [APPROVED]
    assert read(service, past.id).status is Status.PENDING
    assert provider.looks == 0
    service2, provider2, _, clock2 = make_world()
    provider2.fast_follow = 0
    pin_session, _ = awaiting_pin(service2, provider2, "123456")
    looks = provider2.looks
    clock2.now += timedelta(seconds=30)
    provider2.answers = [APPROVED]
    assert read(service2, pin_session.id).status is Status.AWAITING_PIN
    assert provider2.looks == looks
    final = new_session(service2)
    store_of(service2).advance(final.id, Status.DECLINED, now=clock2.now, cause=Cause.POLL)
    assert read(service2, final.id).status is Status.DECLINED
    assert provider2.looks == looks


def test_a_readers_look_uses_the_webhooks_shorter_timed_providers(world):
    service, slow, _, clock = world
    session = new_session(service)
    fast = FakeProvider(answers=[APPROVED], fast_follow=0)
    deps = dataclasses.replace(service.deps, webhook_providers={"fake": fast})
    clock.now += timedelta(seconds=30)
    assert Idgate(deps).get_session(CALLER, session.id, None).status is Status.APPROVED
    assert (fast.looks, slow.looks) == (1, 0)


@pytest.mark.parametrize(
    ("provider", "more", "fast_phase_end"),
    [
        (FakeProvider(fast_follow=3600), {"fast_phase_limit": timedelta(seconds=60)}, 60),  # the limit
        (CadenceBoundProvider(), {}, 50 + 15),  # what the provider makes of the poll interval, and the grace
    ],
)
def test_a_reader_looks_once_the_fast_phase_the_follow_up_has_is_over(provider, more, fast_phase_end):
    service, _, _, clock = make_world(others=(provider,), **more)
    session, _, _ = service.create_session(CALLER, {"provider": provider.name})
    provider.answers = [APPROVED]
    clock.now = session.created_at + timedelta(seconds=fast_phase_end - 1)
    assert read(service, session.id).status is Status.PENDING
    clock.now += timedelta(seconds=1)
    assert read(service, session.id).status is Status.APPROVED
