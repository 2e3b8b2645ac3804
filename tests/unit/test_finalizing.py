"""Writing a final status once, and announcing it once (idgate.finalizing): the final-status event is
published from the table's stream (`Idgate.publish_final`), under a claim, and marked published."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from idgate.announcing import Announcer
from idgate.domain import Cause, Reason, Result, Session, Status
from idgate.finalizing import declined
from idgate.providers.base import Observation
from idgate.service import Idgate
from idgate.store import epoch
from tests.support.memory_store import DEFAULT_RETENTION
from tests.support.world import CALLER, World, make_world, new_session, state, store_of


@pytest.fixture
def world() -> World:
    return make_world()


def approved_session(world: World) -> Session:
    service, provider, _, _ = world
    session = new_session(service)
    provider.answers = [Observation(Status.APPROVED, "verified")]
    service.poll(state(session))
    return session


def item(service: Idgate, session: Session) -> dict:
    stored = store_of(service).stored_item(session.id)
    assert stored is not None
    return stored


# ---- the event: once, whatever publishes it and whenever ------------------------------------------


def test_the_event_carries_the_final_session_and_marks_it_published(world):
    service, _, outside, _ = world
    session = approved_session(world)
    assert service.publish_final(session.id) is True
    (published,) = outside.published
    assert (published.id, published.status, published.event_published) == (session.id, Status.APPROVED, False)
    assert item(service, session)["event_published"] is True


def test_a_published_event_is_not_published_again_even_after_a_claim_would_be_stale(world):
    service, _, outside, clock = world
    session = approved_session(world)
    service.publish_final(session.id)
    clock.now += timedelta(minutes=5)  # a claim is taken over after 60 s: the mark, not the claim, holds
    assert service.publish_final(session.id) is True
    assert len(outside.published) == 1


def test_a_publisher_at_work_blocks_a_second_one_for_60_seconds_then_is_presumed_dead(world):
    service, _, outside, clock = world
    session = approved_session(world)
    claimed_at = clock.now
    assert store_of(service).claim_event(session.id, now=claimed_at, stale_after=timedelta(seconds=60))
    for later in (0, 1, 60):  # another publisher has claimed it and not finished: nothing is published
        clock.now = claimed_at + timedelta(seconds=later)
        service.publish_final(session.id)
    assert outside.published == []
    clock.now = claimed_at + timedelta(seconds=61)
    service.publish_final(session.id)
    assert [published.id for published in outside.published] == [session.id]


def test_a_failing_publish_is_tried_three_times_then_raised_with_the_claim_released(world):
    service, _, outside, _ = world
    session = approved_session(world)
    outside.publish_failures = 3
    with pytest.raises(RuntimeError, match="EventBridge is down"):
        service.publish_final(session.id)
    assert outside.sleeps == [0.2, 0.6]
    stored = item(service, session)
    assert "event_claimed_at" not in stored  # the stream's retry may claim it at once
    assert stored.get("event_published", False) is False
    service.publish_final(session.id)
    assert [published.id for published in outside.published] == [session.id]


def test_a_publish_that_fails_twice_is_published_by_its_third_try(world):
    service, _, outside, _ = world
    session = approved_session(world)
    outside.publish_failures = 2
    assert service.publish_final(session.id) is True
    assert outside.sleeps == [0.2, 0.6]
    assert len(outside.published) == 1
    assert item(service, session)["event_published"] is True


def test_the_publisher_functions_claim_is_stamped_with_the_time_in_utc(world):
    # Given a final session, and the publisher function's announcer, which keeps its own clock (idgate.wiring)
    service, _, outside, _ = world
    session = approved_session(world)
    announcer = Announcer(store_of(service), outside, sleep=outside.sleep)
    # When it publishes the event
    before = datetime.now(UTC)
    assert announcer.publish_final(session.id) is True
    # Then its claim holds the time it was taken, with its offset, as every time the table holds
    claimed_at = datetime.fromisoformat(item(service, session)["event_claimed_at"])
    assert claimed_at.utcoffset() == timedelta(0)
    assert before <= claimed_at <= datetime.now(UTC)


# ---- the final write ----------------------------------------------------------------------------------


def test_the_verdict_removes_what_only_an_open_session_needed_and_counts_its_retention_from_now(world):
    service, provider, _, clock = world
    session, _, _ = service.create_session(
        CALLER, {"provider": "fake", "email": "u@example.com", "options": {"two_factor": True}}
    )
    assert item(service, session)["verification_url"] == "https://provider.example/v/1"
    assert item(service, session)["expires_ttl"] == epoch(session.expires_at + DEFAULT_RETENTION)
    clock.now += timedelta(seconds=30)
    provider.answers = [Observation(Status.DECLINED, "KO", reasons=("provider_declined",))]
    service.poll(state(session))
    stored = item(service, session)
    # Jekimo's verification URL holds its token: it goes with the email and the rest at the verdict.
    for gone in ("verification_url", "email", "provider_token", "pin_hash", "pin_deadline", "open_client"):
        assert gone not in stored, gone
    assert stored["finalized_at"] == clock.now.isoformat()
    assert stored["expires_ttl"] == epoch(clock.now + DEFAULT_RETENTION)
    assert stored["result"] == {
        "decision": "declined",
        "provider_status": "KO",
        "risk": None,
        "reasons": ["provider_declined"],
        "data": {},
    }


def test_a_final_status_is_written_once_and_a_later_trigger_changes_nothing(world):
    service, _, _, clock = world
    session = approved_session(world)
    before = item(service, session)
    clock.now += timedelta(seconds=5)
    assert service.finalizer.error(session, Reason.INTERNAL_ERROR, cause=Cause.POLL) is False
    assert service.finalizer.finalize(session, Result(decision=Status.DECLINED), cause=Cause.POLL) is False
    assert item(service, session) == before


def test_an_error_is_the_reason_alone(world):
    service, _, _, _ = world
    session = new_session(service)
    assert service.finalizer.error(session, "provider_auth_failed", cause=Cause.POLL) is True
    final = service.get_session(CALLER, session.id, None)
    assert final.status.value == "error"
    assert final.result == Result(decision=Status.ERROR, reasons=["provider_auth_failed"])


def test_idgates_own_decline_keeps_what_the_provider_said(world):
    session = new_session(world[0])
    assert declined(session, Reason.PIN_EXPIRED) == Result(
        decision=Status.DECLINED, provider_status=None, reasons=["pin_expired"]
    )
    said = session.model_copy(update={"result": Result(decision=Status.APPROVED, provider_status="OK")})
    assert declined(said, Reason.PIN_ATTEMPTS_EXCEEDED).model_dump() == {
        "decision": "declined",
        "provider_status": "OK",
        "risk": None,
        "reasons": ["pin_attempts_exceeded"],
        "data": {},
    }
