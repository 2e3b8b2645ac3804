"""The repository contract (idgate.repository) for history, redaction and the redaction event, and racing
writers (one final write, PIN tries within the limit, one claim), on DynamoDB (moto) and in memory alike:
the fixtures are those of tests/support/repository_contract.py."""

from __future__ import annotations

from datetime import timedelta

import pytest

from idgate.domain import Cause, Result, Status
from tests.support.messages import says
from tests.support.repository_contract import (
    MEMORY_ONLY,
    NOW,
    STALE,
    Subject,
    added,
    item_of,
    race,
    subject,
)

__all__ = ["subject"]  # the fixture, used by name


def entry(at, status: str, cause: str, reasons: list[str] | None = None) -> dict:
    return {"at": at.isoformat(), "status": status, "reasons": reasons or [], "cause": cause}


def test_each_written_change_appends_its_entry_and_a_refused_one_none(subject: Subject):
    session = added(subject, history=[])
    later = NOW + timedelta(seconds=5)
    declined = Result(decision=Status.DECLINED, reasons=["provider_declined"]).model_dump(mode="json")
    assert subject.store.advance(session.id, Status.PROCESSING, now=NOW, cause=Cause.POLL)
    assert subject.store.advance(
        session.id, Status.DECLINED, now=later, cause=Cause.WEBHOOK, fields={"result": declined}
    )
    assert not subject.store.advance(session.id, Status.APPROVED, now=later, cause=Cause.PIN)
    assert subject.store.update_open(session.id, now=later, fields={"last_poll_error": "x"}) is False
    assert item_of(subject, session.id)["history"] == [
        entry(NOW, "processing", "poll"),
        entry(later, "declined", "webhook", ["provider_declined"]),
    ]
    stored = subject.store.get(session.id)
    assert stored is not None
    assert [(change.status, change.cause) for change in stored.history] == [
        (Status.PROCESSING, Cause.POLL),
        (Status.DECLINED, Cause.WEBHOOK),
    ]


def test_history_is_appended_to_what_the_session_was_created_with(subject: Subject):
    from idgate.domain import StatusChange

    session = added(subject, history=[StatusChange(at=NOW, status=Status.PENDING, cause=Cause.CREATE)])
    assert subject.store.advance(session.id, Status.EXPIRED, now=NOW, cause=Cause.CANCEL)
    assert item_of(subject, session.id)["history"] == [
        {**entry(NOW, "pending", "create"), "at": "2026-11-22T20:00:00Z"},  # as the session's model stores it
        entry(NOW, "expired", "cancel"),
    ]


def test_a_write_may_not_set_or_remove_history_itself(subject: Subject):
    session = added(subject)
    for request in ({"fields": {"history": []}}, {"remove": ["history"]}):
        with pytest.raises(ValueError, match="history") as refused:
            subject.store.advance(session.id, Status.PROCESSING, now=NOW, cause=Cause.POLL, **request)
        says(str(refused.value), "status change", "history itself")


def final(subject: Subject, number: int = 1):
    session = added(subject, number, reference="order-1")
    result = Result(decision=Status.APPROVED, reasons=["ok"], data={"age": 30}).model_dump(mode="json")
    assert subject.store.advance(
        session.id, Status.APPROVED, now=NOW, cause=Cause.POLL, fields={"result": result}
    )
    return session


def test_a_redaction_erases_the_personal_fields_and_the_result_data_once(subject: Subject):
    session = final(subject)
    later = NOW + timedelta(minutes=1)
    before = item_of(subject, session.id)
    assert subject.store.redact(session.id, status=Status.APPROVED, now=later)
    item = item_of(subject, session.id)
    for erased in ("reference", "provider_ref", "provider_token", "verification_url", "email"):
        assert erased not in item
    assert item["result"] == {**before["result"], "data": {}}
    assert (item["redacted_at"], item["updated_at"]) == (later.isoformat(), later.isoformat())
    assert item["history"][-1] == entry(later, "approved", "redact")
    kept = {name: value for name, value in before.items() if name not in ("result", "history", "updated_at")}
    assert {name: item[name] for name in kept if name in item} == {
        name: value
        for name, value in kept.items()
        if name not in ("reference", "provider_ref", "provider_token")
    }
    assert not subject.store.redact(session.id, status=Status.APPROVED, now=later + timedelta(minutes=1))
    assert item_of(subject, session.id) == item


def test_only_a_final_stored_session_in_the_given_status_is_redacted(subject: Subject):
    open_session = added(subject, 1)
    before = item_of(subject, open_session.id)
    assert not subject.store.redact(open_session.id, status=Status.PENDING, now=NOW)
    assert item_of(subject, open_session.id) == before
    approved = final(subject, 2)
    before = item_of(subject, approved.id)
    assert not subject.store.redact(approved.id, status=Status.DECLINED, now=NOW)
    assert item_of(subject, approved.id) == before
    assert not subject.store.redact("ses_contract999999999999", status=Status.APPROVED, now=NOW)
    assert subject.raw("ses_contract999999999999") is None


def test_the_redaction_event_is_due_once_redacted_and_claimed_apart_from_the_final_one(subject: Subject):
    session = final(subject)
    assert not subject.store.claim_event(session.id, now=NOW, stale_after=STALE, event="redacted")
    assert subject.store.claim_event(session.id, now=NOW, stale_after=STALE)  # the final event's own claim
    assert subject.store.redact(session.id, status=Status.APPROVED, now=NOW)
    assert subject.store.claim_event(session.id, now=NOW, stale_after=STALE, event="redacted")
    assert item_of(subject, session.id)["redaction_claimed_at"] == NOW.isoformat()
    assert not subject.store.claim_event(session.id, now=NOW, stale_after=STALE, event="redacted")
    subject.store.release_event_claim(session.id, "redacted")
    assert "redaction_claimed_at" not in item_of(subject, session.id)
    assert item_of(subject, session.id)["event_claimed_at"] == NOW.isoformat(), "the other claim stays"
    assert subject.store.claim_event(session.id, now=NOW, stale_after=STALE, event="redacted")
    subject.store.mark_event_published(session.id, "redacted")
    assert item_of(subject, session.id)["redaction_published"] is True
    assert item_of(subject, session.id)["event_published"] is False
    later = NOW + timedelta(days=1)
    assert not subject.store.claim_event(session.id, now=later, stale_after=STALE, event="redacted")
    assert subject.store.get(session.id).redaction_published is True  # type: ignore[union-attr]


@MEMORY_ONLY
def test_of_racing_redactions_exactly_one_wins(subject: Subject):
    for number in range(10):
        session = final(subject, number)
        won = race(
            8, lambda _, session=session: subject.store.redact(session.id, status=Status.APPROVED, now=NOW)
        )
        assert won.count(True) == 1
        assert [change["cause"] for change in item_of(subject, session.id)["history"]].count("redact") == 1


# ---- races (the in-memory store; see MEMORY_ONLY) --------------------------------------------

RACED = MEMORY_ONLY
FINALS = [Status.APPROVED, Status.DECLINED, Status.EXPIRED, Status.ERROR]
#: Each race is run on this many sessions: one interleaving seldom shows a missing lock, many do.
ROUNDS = 25


@RACED
def test_of_racing_final_writes_exactly_one_wins(subject: Subject):
    targets = [FINALS[index % len(FINALS)] for index in range(16)]
    for number in range(ROUNDS):
        session = added(subject, number, status=Status.PROCESSING)
        won = race(
            16,
            lambda index, session=session: subject.store.advance(
                session.id, targets[index], now=NOW, cause=Cause.POLL
            ),
        )
        assert won.count(True) == 1
        final = subject.store.get(session.id)
        assert final is not None
        assert final.status is targets[won.index(True)]


@RACED
def test_racing_pin_attempts_never_exceed_the_limit(subject: Subject):
    for number in range(ROUNDS):
        session = added(subject, number, status=Status.AWAITING_PIN)
        counts = race(
            12, lambda _, session=session: subject.store.count_pin_attempt(session.id, max_attempts=5)
        )
        assert sorted(count for count in counts if count is not None) == [1, 2, 3, 4, 5]
        assert counts.count(None) == 7


@RACED
def test_of_racing_claims_exactly_one_wins(subject: Subject):
    for number in range(ROUNDS):
        session = added(subject, number)
        assert subject.store.advance(session.id, Status.APPROVED, now=NOW, cause=Cause.POLL)
        claimed = race(
            8, lambda _, session=session: subject.store.claim_event(session.id, now=NOW, stale_after=STALE)
        )
        assert claimed.count(True) == 1
