"""A session's history (GET /v1/sessions/{id}/history): every status change that was written, in order, each
with its cause, written by the same conditional write as the change, so a write that lost a race adds none."""

from __future__ import annotations

import contextlib
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest

from idgate.api import Caller
from idgate.domain import Status
from idgate.errors import Conflict, Forbidden, NotFound
from idgate.providers.base import Observation
from idgate.service import PinIncorrect
from tests.support.world import (
    CALLER,
    FakeWebhookProvider,
    World,
    awaiting_pin,
    make_world,
    new_session,
    state,
)

PROCESSING = Observation(Status.PROCESSING, "processing")
PENDING = Observation(Status.PENDING, "waiting")
APPROVED = Observation(Status.APPROVED, "verified", reasons=("provider_ok",), data={"age": 30})


@pytest.fixture
def world() -> World:
    return make_world()


def changes(world: World, session_id: str) -> list[tuple[str, list[str], str]]:
    answer = world[0].session_history(CALLER, session_id)
    assert answer["id"] == session_id
    for change in answer["history"]:
        assert set(change) == {"at", "status", "reasons", "cause"}, "nothing personal, nothing more"
    return [(change["status"], change["reasons"], change["cause"]) for change in answer["history"]]


def times(world: World, session_id: str) -> list[str]:
    return [change["at"] for change in world[0].session_history(CALLER, session_id)["history"]]


def test_a_session_is_created_pending(world):
    session = new_session(world[0])
    assert changes(world, session.id) == [("pending", [], "create")]
    assert times(world, session.id) == [session.created_at.isoformat().replace("+00:00", "Z")]


def test_each_look_and_webhook_that_moves_the_session_is_told_in_order():
    hooked = FakeWebhookProvider(answers=[PROCESSING])
    world = make_world(others=(hooked,), webhook_tokens=lambda provider: f"token-of-{provider}")
    service, _, _, clock = world
    session, _, _ = service.create_session(CALLER, {"provider": "hooked"})
    clock.now += timedelta(seconds=5)
    service.poll(state(session))
    service.poll(state(session))  # the same status again: no change, no entry
    clock.now += timedelta(seconds=5)
    hooked.answers = [APPROVED]
    hooked.references = ["hook-1"]
    service.receive_webhook("hooked", "token-of-hooked", {}, b"{}")
    service.poll(state(session))  # final: nothing more
    assert changes(world, session.id) == [
        ("pending", [], "create"),
        ("processing", [], "poll"),
        ("approved", ["provider_ok"], "webhook"),
    ]
    first, second, third = times(world, session.id)
    assert first < second < third


def test_a_cancel_is_told(world):
    session = new_session(world[0])
    world[0].cancel_session(CALLER, session.id)
    assert changes(world, session.id)[1:] == [("expired", ["canceled"], "cancel")]


def test_the_pin_that_approves_is_told_and_so_is_the_look_that_asked_for_it(world):
    service, provider, _, _ = world
    session, client_secret = awaiting_pin(service, provider, "000042")
    with pytest.raises(PinIncorrect):  # a wrong try changes no status
        service.submit_pin(CALLER, session.id, client_secret, "999999")
    assert changes(world, session.id)[1:] == [("awaiting_pin", [], "poll")]
    service.submit_pin(CALLER, session.id, client_secret, "000042")
    assert changes(world, session.id)[1:] == [
        ("awaiting_pin", [], "poll"),
        ("approved", ["second_factor_verified"], "pin"),
    ]


def test_a_session_that_ran_out_of_time_says_deadline(world):
    service, provider, _, clock = world
    session = new_session(service)
    provider.answers = [PENDING]
    clock.now = session.expires_at + timedelta(seconds=1)
    assert service.poll(state(session)).done is True
    assert changes(world, session.id)[1:] == [("expired", ["verification_expired"], "deadline")]


def test_a_redaction_is_told_and_the_status_stays(world):
    service, provider, _, _ = world
    session = new_session(service)
    provider.answers = [APPROVED]
    service.poll(state(session))
    service.redact_session(CALLER, session.id)
    service.redact_session(CALLER, session.id)
    assert changes(world, session.id)[1:] == [
        ("approved", ["provider_ok"], "poll"),
        ("approved", [], "redact"),
    ]


def test_racing_triggers_leave_exactly_one_final_entry(world):
    service, provider, _, _ = world
    provider.answers = [APPROVED]
    for _ in range(10):
        session = new_session(service)
        start = threading.Barrier(3)

        def trigger(kind: str, session: Any = session, start: threading.Barrier = start) -> None:
            start.wait()
            if kind == "cancel":
                with contextlib.suppress(Conflict):
                    service.cancel_session(CALLER, session.id)
            else:
                service.poll(state(session))

        with ThreadPoolExecutor(3) as pool:
            list(pool.map(trigger, ["cancel", "poll", "poll"]))
        final_entries = [change for change in changes(world, session.id) if change[0] != "pending"]
        assert len(final_entries) == 1, final_entries
        assert final_entries[0][0] == world[0].get_session(CALLER, session.id, None).status.value


@pytest.mark.parametrize(
    ("caller", "error", "code"),
    [
        (Caller(kind="publishable", client_id="shop"), Forbidden, "secret_key_required"),
        (Caller(kind="secret", client_id="another-shop"), NotFound, "session_not_found"),
    ],
)
def test_only_the_secret_key_of_its_client_reads_it(world, caller, error, code):
    session = new_session(world[0])
    with pytest.raises(error) as refused:
        world[0].session_history(caller, session.id)
    assert refused.value.code == code
