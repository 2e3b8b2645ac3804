"""The SessionRepository contract (idgate.repository) on both implementations (tests/support/
repository_contract.py): open sessions counted by client, PIN tries, a reader's look at the provider, the
final-status event's claim, and a session as its events tell it; updating an open session."""

from __future__ import annotations

from datetime import timedelta

import pydantic
import pytest

from idgate.announced import announced_session
from idgate.domain import Cause, Result, Routing, RoutingTry, Status
from idgate.store import epoch
from tests.support.messages import says
from tests.support.repository_contract import (
    MEMORY_ONLY,
    NOW,
    RETENTION,
    STALE,
    Subject,
    added,
    item_of,
    subject,
)

__all__ = ["subject"]  # the fixture, used by name


# ---- update_open -----------------------------------------------------------------------------


def test_update_open_sets_fields_on_an_open_session_and_never_its_status_or_ttl(subject: Subject):
    session = added(subject, status=Status.PROCESSING)
    later = NOW + timedelta(minutes=3)
    result = Result(decision=Status.PROCESSING, data={"score": 0.75}).model_dump(mode="json")
    assert subject.store.update_open(
        session.id,
        now=later,
        fields={"last_poll_error": "provider_unreachable", "result": result, "expires_at": later.isoformat()},
    )
    stored = subject.store.get(session.id)
    assert stored is not None
    assert (stored.status, stored.updated_at, stored.last_poll_error, stored.expires_at) == (
        Status.PROCESSING,
        later,
        "provider_unreachable",
        later,
    )
    assert stored.result is not None
    assert stored.result.data == {"score": 0.75}
    assert item_of(subject, session.id)["expires_ttl"] == epoch(session.expires_at + RETENTION)
    assert subject.store.update_open(session.id, now=later, fields={"last_poll_error": None})
    cleared = subject.store.get(session.id)
    assert cleared is not None
    assert cleared.last_poll_error is None


def test_update_open_is_refused_on_a_final_or_unknown_session(subject: Subject):
    session = added(subject)
    assert subject.store.advance(session.id, Status.EXPIRED, now=NOW, cause=Cause.POLL)
    before = subject.raw(session.id)
    assert not subject.store.update_open(session.id, now=NOW, fields={"last_poll_error": "late"})
    assert subject.raw(session.id) == before
    assert not subject.store.update_open("ses_contract999999999999", now=NOW, fields={"x": 1})
    assert subject.store.get("ses_contract999999999999") is None


# ---- open sessions by client ----------------------------------------------------------------------


def test_open_sessions_are_counted_by_client_up_to_the_limit(subject: Subject):
    for number in range(1, 5):
        added(subject, number=number)
    added(subject, number=5, client_id="another-shop")
    assert subject.store.count_open("shop", limit=10) == 4
    assert subject.store.count_open("shop", limit=2) == 2
    assert subject.store.count_open("another-shop", limit=10) == 1
    assert subject.store.count_open("nobody", limit=10) == 0


def test_a_final_session_is_no_longer_counted_as_open(subject: Subject):
    session = added(subject)
    added(subject, number=2, status=Status.REVIEW)
    assert subject.store.advance(session.id, Status.EXPIRED, now=NOW, cause=Cause.POLL)
    assert subject.store.count_open("shop", limit=10) == 1
    assert "open_client" not in item_of(subject, session.id)
    added(subject, number=3, status=Status.APPROVED)  # stored final: never open
    assert subject.store.count_open("shop", limit=10) == 1


# ---- PIN attempts ----------------------------------------------------------------------------


def test_pin_attempts_count_only_while_a_pin_is_awaited(subject: Subject):
    session = added(subject)
    assert subject.store.count_pin_attempt(session.id, max_attempts=3) is None
    assert subject.store.advance(
        session.id, Status.AWAITING_PIN, now=NOW, fields={"pin_attempts": 0}, cause=Cause.POLL
    )
    assert [subject.store.count_pin_attempt(session.id, max_attempts=3) for _ in range(3)] == [1, 2, 3]
    assert subject.store.count_pin_attempt(session.id, max_attempts=3) is None
    stored = subject.store.get(session.id)
    assert stored is not None
    assert stored.pin_attempts == 3


def test_an_approval_that_counts_a_pin_try_applies_only_within_the_tries(subject: Subject):
    session = added(subject, status=Status.AWAITING_PIN)
    assert [subject.store.count_pin_attempt(session.id, max_attempts=3) for _ in range(2)] == [1, 2]
    assert subject.store.advance(session.id, Status.APPROVED, now=NOW, pin_try_limit=3, cause=Cause.POLL)
    stored = subject.store.get(session.id)
    assert stored is not None
    assert (stored.status, stored.pin_attempts) == (Status.APPROVED, 3)
    assert stored.finalized_at == NOW


def test_an_approval_that_counts_a_pin_try_is_refused_when_the_tries_are_used_up(subject: Subject):
    session = added(subject, status=Status.AWAITING_PIN)
    assert [subject.store.count_pin_attempt(session.id, max_attempts=2) for _ in range(2)] == [1, 2]
    before = subject.raw(session.id)
    assert not subject.store.advance(session.id, Status.APPROVED, now=NOW, pin_try_limit=2, cause=Cause.POLL)
    assert subject.raw(session.id) == before


def test_an_approval_that_counts_a_pin_try_needs_a_pin_awaited(subject: Subject):
    for number, status in enumerate((Status.PENDING, Status.REVIEW, Status.DECLINED), start=1):
        session = added(subject, number=number, status=status)
        before = subject.raw(session.id)
        assert not subject.store.advance(
            session.id, Status.APPROVED, now=NOW, pin_try_limit=5, cause=Cause.POLL
        )
        assert subject.raw(session.id) == before
    fresh = added(subject, number=9, status=Status.AWAITING_PIN)  # no try counted yet
    assert subject.store.advance(fresh.id, Status.APPROVED, now=NOW, pin_try_limit=1, cause=Cause.POLL)
    assert subject.raw(fresh.id)["pin_attempts"] == 1  # type: ignore[index]
    with pytest.raises(ValueError, match="pin_attempts") as refused:
        subject.store.advance(
            fresh.id, Status.DECLINED, now=NOW, fields={"pin_attempts": 0}, pin_try_limit=1, cause=Cause.POLL
        )
    says(str(refused.value), "PIN try", "pin_attempts")  # the caller's mistake, named for its author


def test_pin_attempts_stop_when_the_session_is_final_or_unknown(subject: Subject):
    session = added(subject, status=Status.AWAITING_PIN)
    assert subject.store.count_pin_attempt(session.id, max_attempts=5) == 1
    assert subject.store.advance(session.id, Status.APPROVED, now=NOW, cause=Cause.POLL)
    assert subject.store.count_pin_attempt(session.id, max_attempts=5) is None
    assert subject.store.count_pin_attempt("ses_contract999999999999", max_attempts=5) is None
    stored = subject.store.get(session.id)
    assert stored is not None
    assert stored.pin_attempts == 1


# ---- a reader's look at the provider -------------------------------------------------------------


def test_a_look_is_claimed_once_per_interval_and_never_on_a_final_session(subject: Subject):
    every = timedelta(seconds=5)
    session = added(subject)
    assert subject.store.claim_look(session.id, now=NOW, every=every)
    assert item_of(subject, session.id)["looked_at"] == NOW.isoformat()
    assert not subject.store.claim_look(session.id, now=NOW + timedelta(seconds=4), every=every)
    assert subject.store.claim_look(session.id, now=NOW + every, every=every)  # exactly one interval later
    assert item_of(subject, session.id)["looked_at"] == (NOW + every).isoformat()
    assert subject.store.advance(session.id, Status.APPROVED, now=NOW, cause=Cause.POLL)
    assert not subject.store.claim_look(session.id, now=NOW + 3 * every, every=every)
    assert not subject.store.claim_look("ses_contract999999999999", now=NOW, every=every)
    assert subject.store.get("ses_contract999999999999") is None  # refused without making an item


# ---- the final-status event ------------------------------------------------------------------


def test_only_a_final_session_can_be_claimed_and_only_once(subject: Subject):
    session = added(subject)
    assert not subject.store.claim_event(session.id, now=NOW, stale_after=STALE)
    assert subject.store.advance(session.id, Status.APPROVED, now=NOW, cause=Cause.POLL)
    assert subject.store.claim_event(session.id, now=NOW, stale_after=STALE)
    assert item_of(subject, session.id)["event_claimed_at"] == NOW.isoformat()
    assert not subject.store.claim_event(session.id, now=NOW + timedelta(seconds=1), stale_after=STALE)
    assert not subject.store.claim_event("ses_contract999999999999", now=NOW, stale_after=STALE)


def test_a_stale_claim_is_taken_over(subject: Subject):
    session = added(subject)
    assert subject.store.advance(session.id, Status.DECLINED, now=NOW, cause=Cause.POLL)
    assert subject.store.claim_event(session.id, now=NOW, stale_after=STALE)
    assert not subject.store.claim_event(session.id, now=NOW + STALE, stale_after=STALE)
    taken_at = NOW + STALE + timedelta(microseconds=1)
    assert subject.store.claim_event(session.id, now=taken_at, stale_after=STALE)
    assert item_of(subject, session.id)["event_claimed_at"] == taken_at.isoformat()


def test_a_released_claim_can_be_claimed_again_at_once(subject: Subject):
    session = added(subject)
    assert subject.store.advance(session.id, Status.ERROR, now=NOW, cause=Cause.POLL)
    assert subject.store.claim_event(session.id, now=NOW, stale_after=STALE)
    subject.store.release_event_claim(session.id)
    assert "event_claimed_at" not in item_of(subject, session.id)
    assert subject.store.claim_event(session.id, now=NOW, stale_after=STALE)


def test_releasing_an_unclaimed_session_changes_nothing(subject: Subject):
    session = added(subject)
    before = subject.raw(session.id)
    subject.store.release_event_claim(session.id)
    assert subject.raw(session.id) == before


# moto creates an item holding only `pk` here; DynamoDB does not create an item for a REMOVE alone.
@MEMORY_ONLY
def test_releasing_an_unknown_id_creates_nothing(subject: Subject):
    subject.store.release_event_claim("ses_contract999999999999")
    assert subject.raw("ses_contract999999999999") is None


def test_a_published_event_is_never_claimed_again(subject: Subject):
    session = added(subject)
    assert subject.store.advance(session.id, Status.APPROVED, now=NOW, cause=Cause.POLL)
    assert subject.store.claim_event(session.id, now=NOW, stale_after=STALE)
    subject.store.mark_event_published(session.id)
    stored = subject.store.get(session.id)
    assert stored is not None
    assert stored.event_published is True
    assert not subject.store.claim_event(session.id, now=NOW + timedelta(days=1), stale_after=STALE)


def test_marking_an_unknown_id_published_leaves_an_item_that_is_no_session(subject: Subject):
    subject.store.mark_event_published("ses_contract999999999999")
    assert subject.raw("ses_contract999999999999") == {
        "pk": "ses_contract999999999999",
        "event_published": True,
    }
    with pytest.raises(pydantic.ValidationError):
        subject.store.get("ses_contract999999999999")


# ---- a session as its events tell it (idgate.announced) ---------------------------------------------


def test_a_session_is_announced_as_get_reads_it_without_the_model(subject: Subject):
    # Given a session stored final from the start, with a result whose None fields the item leaves out,
    # and the routing that chose its provider
    routing = Routing(
        check="document", tried=[RoutingTry(provider="okid", reason="circuit_open")], chosen="fake"
    )
    result = Result(decision=Status.ERROR, reasons=["provider_unreachable"], data={"score": 0.5, "n": 2})
    session = added(subject, status=Status.ERROR, result=result, finalized_at=NOW, routing=routing)
    assert "risk" not in item_of(subject, session.id)["result"]
    # Then its announced view is the model's, field for field, at each write of its life
    stored = subject.store.get(session.id)
    assert stored is not None
    assert subject.store.announced(session.id) == announced_session(stored)
    subject.store.mark_event_published(session.id)
    assert subject.store.redact(session.id, status=Status.ERROR, now=NOW + timedelta(hours=1))
    stored = subject.store.get(session.id)
    assert stored is not None
    announced = subject.store.announced(session.id)
    assert announced == announced_session(stored)
    assert announced is not None
    assert (announced.event_published, announced.reference, announced.redacted_at) == (
        True,
        None,
        NOW + timedelta(hours=1),
    )
    assert subject.store.announced("ses_contract999999999999") is None
