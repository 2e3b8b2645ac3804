"""The SessionRepository contract (idgate.repository), held by both implementations: SessionStore on a
moto table built from the template, and the in-memory store of the use-case tests. Each test runs on
both, so the fake cannot drift from the store it stands for."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pydantic
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from idgate.domain import Cause, Result, Session, Status, can_move
from idgate.repository import OPEN_ONLY_FIELDS, SessionRepository
from idgate.store import SessionStore, epoch
from tests.support.memory_store import InMemorySessionStore
from tests.support.messages import says
from tests.support.tables import create_template_tables

NOW = datetime(2026, 11, 22, 20, 0, tzinfo=UTC)
RETENTION = timedelta(days=30)
STALE = timedelta(seconds=60)

#: DynamoDB serializes the writes to one item; moto does not (its conditional UpdateItem reads, checks
#: and writes without a lock, a known emulator limit), so races are run on the in-memory store only.
MEMORY_ONLY = pytest.mark.parametrize("subject", ["memory"], indirect=True)


@dataclass
class Subject:
    store: SessionRepository
    #: The stored item as boto3's DynamoDB resource returns it (numbers as Decimal), or None.
    raw: Callable[[str], dict[str, Any] | None]


@pytest.fixture(params=["dynamodb", "memory"])
def subject(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Subject]:
    if request.param == "memory":
        memory = InMemorySessionStore(retention=RETENTION)
        yield Subject(memory, memory.stored_item)
        return
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        client = boto3.client("dynamodb")
        names = create_template_tables(client)
        table = boto3.resource("dynamodb").Table(names["SessionsTable"])
        yield Subject(
            SessionStore(names["SessionsTable"], retention=RETENTION, client=client),
            lambda session_id: table.get_item(Key={"pk": session_id}, ConsistentRead=True).get("Item"),
        )


def a_session(number: int = 1, **fields: Any) -> Session:
    values: dict[str, Any] = {
        "id": f"ses_contract{number:012d}",
        "client_id": "shop",
        "provider": "fake",
        "status": Status.PENDING,
        "created_at": NOW,
        "updated_at": NOW,
        "expires_at": NOW + timedelta(minutes=30),
        "client_secret_hash": "secret-hash",
        "email": "ada@example.com",
        "options": {"two_factor": True},
        "provider_ref": f"ref-{number}",
        "provider_token": "provider-token",
        "verification_url": "https://provider.example/v/1",
    }
    return Session(**(values | fields))


def added(subject: Subject, number: int = 1, **fields: Any) -> Session:
    session = a_session(number, **fields)
    subject.store.add(session)
    return session


def item_of(subject: Subject, session_id: str) -> dict[str, Any]:
    item = subject.raw(session_id)
    assert item is not None
    return item


def error_code(exc: ClientError) -> str:
    return str(exc.response["Error"]["Code"])


def race(workers: int, work: Callable[[int], Any]) -> list[Any]:
    """Runs `work(0..workers-1)` in threads released together; their answers in worker order."""
    start = threading.Barrier(workers)
    answers: list[Any] = [None] * workers

    def run(index: int) -> None:
        start.wait()
        answers[index] = work(index)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(workers)]
    # Threads switch as often as the interpreter allows, so that a check-then-write without the lock
    # would be interleaved (and caught) rather than run whole within one time slice.
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(switch_interval)
    return answers


# ---- add, get, find --------------------------------------------------------------------------


def test_an_added_session_is_read_back_equal_and_as_a_fresh_object(subject: Subject):
    session = added(subject)
    first = subject.store.get(session.id)
    assert first == session
    assert first is not session
    assert first is not None
    first.options["mutated"] = True
    assert subject.store.get(session.id) == session


def test_an_added_session_is_stored_without_empty_fields_and_with_a_ttl_from_its_expiry(subject: Subject):
    session = added(subject)
    item = subject.raw(session.id)
    assert item is not None
    assert item["pk"] == session.id
    assert item["expires_ttl"] == epoch(session.expires_at + RETENTION)
    assert item["status"] == "pending"
    assert item["created_at"] == session.model_dump(mode="json")["created_at"]
    assert (item["pin_attempts"], item["event_published"]) == (0, False)
    assert not {"reference", "result", "finalized_at", "pin_hash", "pin_deadline"} & item.keys()


def test_floats_are_stored_as_decimals_and_whole_ones_come_back_as_int(subject: Subject):
    session = added(subject, options={"threshold": 0.5, "count": 2.0, "nested": [1.25, {"n": 3.0}]})
    stored = subject.store.get(session.id)
    assert stored is not None
    assert stored.options == {"threshold": 0.5, "count": 2, "nested": [1.25, {"n": 3}]}
    assert type(stored.options["count"]) is int
    assert type(stored.options["threshold"]) is float


def test_adding_an_existing_id_is_refused_with_a_condition_failure_and_changes_nothing(subject: Subject):
    session = added(subject)
    with pytest.raises(ClientError) as refused:
        subject.store.add(a_session(client_id="another", status=Status.APPROVED))
    assert error_code(refused.value) == "ConditionalCheckFailedException"
    assert subject.store.get(session.id) == session


def test_an_unknown_id_reads_as_none(subject: Subject):
    added(subject)
    assert subject.store.get("ses_contract999999999999") is None


def test_an_empty_id_is_a_validation_error(subject: Subject):
    with pytest.raises(ClientError) as refused:
        subject.store.get("")
    assert error_code(refused.value) == "ValidationException"


def test_a_session_with_an_empty_provider_ref_is_refused(subject: Subject):
    with pytest.raises(ClientError) as refused:
        subject.store.add(a_session(provider_ref=""))
    assert error_code(refused.value) == "ValidationException"
    assert subject.store.get(a_session().id) is None


def test_a_session_is_found_by_its_provider_and_provider_ref_only(subject: Subject):
    first, second = added(subject, 1), added(subject, 2)
    added(subject, 3, provider="other", provider_ref="ref-1")
    assert subject.store.find_by_provider_ref("fake", "ref-1") == first
    assert subject.store.find_by_provider_ref("fake", "ref-2") == second
    assert subject.store.find_by_provider_ref("fake", "ref-9") is None
    assert subject.store.find_by_provider_ref("nobody", "ref-2") is None


def test_a_provider_ref_written_later_makes_the_session_findable(subject: Subject):
    session = added(subject, provider_ref=None)
    assert subject.store.update_open(session.id, now=NOW, fields={"provider_ref": "late-ref"})
    found = subject.store.find_by_provider_ref("fake", "late-ref")
    assert found is not None
    assert found.id == session.id


def test_finding_by_an_empty_provider_ref_is_a_validation_error(subject: Subject):
    added(subject)
    with pytest.raises(ClientError) as refused:
        subject.store.find_by_provider_ref("fake", "")
    assert error_code(refused.value) == "ValidationException"


# ---- advance ---------------------------------------------------------------------------------


def test_advance_writes_exactly_the_moves_forward_and_changes_nothing_otherwise(subject: Subject):
    later = NOW + timedelta(minutes=1)
    for number, (current, target) in enumerate((current, target) for current in Status for target in Status):
        session = added(subject, number, status=current)
        before = subject.raw(session.id)
        moved = subject.store.advance(
            session.id, target, now=later, fields={"last_poll_error": "x"}, cause=Cause.POLL
        )
        assert moved is can_move(current, target), (current, target)
        stored = subject.store.get(session.id)
        assert stored is not None
        if moved:
            assert (stored.status, stored.updated_at, stored.last_poll_error) == (target, later, "x")
        else:
            assert subject.raw(session.id) == before, (current, target)


def test_a_final_status_is_written_once(subject: Subject):
    session = added(subject, status=Status.PROCESSING)
    approved = Result(decision=Status.APPROVED, reasons=["first"]).model_dump(mode="json")
    declined = Result(decision=Status.DECLINED, reasons=["second"]).model_dump(mode="json")
    assert subject.store.advance(
        session.id, Status.APPROVED, now=NOW, fields={"result": approved}, cause=Cause.POLL
    )
    before = subject.raw(session.id)
    later = NOW + timedelta(seconds=5)
    assert not subject.store.advance(
        session.id, Status.DECLINED, now=later, fields={"result": declined}, cause=Cause.POLL
    )
    assert not subject.store.advance(
        session.id, Status.APPROVED, now=later, fields={"result": declined}, cause=Cause.POLL
    )
    assert subject.raw(session.id) == before
    final = subject.store.get(session.id)
    assert final is not None
    assert final.status is Status.APPROVED
    assert final.result is not None
    assert final.result.reasons == ["first"]


def test_a_final_status_removes_what_only_an_open_session_needs_and_counts_the_ttl_from_now(
    subject: Subject,
):
    session = added(
        subject,
        status=Status.AWAITING_PIN,
        pin_hash="pin-hash",
        pin_deadline=NOW + timedelta(minutes=10),
        reference="order-7",
    )
    assert set(OPEN_ONLY_FIELDS) <= item_of(subject, session.id).keys()
    final_at = NOW + timedelta(hours=1)
    assert subject.store.advance(
        session.id,
        Status.DECLINED,
        now=final_at,
        # A later expiry given with a final status does not delay its removal.
        fields={"expires_at": (NOW + timedelta(days=400)).isoformat()},
        cause=Cause.POLL,
    )
    item = subject.raw(session.id)
    assert item is not None
    assert not set(OPEN_ONLY_FIELDS) & item.keys()
    # By name too, so that a field dropped from OPEN_ONLY_FIELDS (Jekimo's URL holds its token) fails here.
    assert not {
        "email",
        "provider_token",
        "verification_url",
        "pin_hash",
        "pin_deadline",
        "open_client",
    } & set(item)
    assert item["finalized_at"] == final_at.isoformat()
    assert item["expires_ttl"] == epoch(final_at + RETENTION)
    final = subject.store.get(session.id)
    assert final is not None
    assert (final.finalized_at, final.reference, final.provider_ref, final.client_secret_hash) == (
        final_at,
        "order-7",
        session.provider_ref,
        "secret-hash",
    )


def test_a_final_status_refuses_to_set_what_it_removes(subject: Subject):
    session = added(subject)
    before = subject.raw(session.id)
    with pytest.raises(ClientError) as refused:
        subject.store.advance(
            session.id, Status.APPROVED, now=NOW, fields={"email": "new@example.com"}, cause=Cause.POLL
        )
    assert error_code(refused.value) == "ValidationException"
    assert subject.raw(session.id) == before


def test_an_open_advance_with_a_new_expiry_moves_the_ttl(subject: Subject):
    session = added(subject)
    followed_until = NOW + timedelta(hours=2)
    assert subject.store.advance(
        session.id,
        Status.REVIEW,
        now=NOW,
        fields={"expires_at": followed_until.isoformat()},
        cause=Cause.POLL,
    )
    item = subject.raw(session.id)
    assert item is not None
    assert item["expires_ttl"] == epoch(followed_until + RETENTION)
    assert "finalized_at" not in item
    assert item["email"] == session.email
    stored = subject.store.get(session.id)
    assert stored is not None
    assert stored.expires_at == followed_until


def test_an_open_advance_without_a_new_expiry_keeps_the_ttl(subject: Subject):
    session = added(subject)
    assert subject.store.advance(
        session.id, Status.PROCESSING, now=NOW + timedelta(minutes=1), cause=Cause.POLL
    )
    assert item_of(subject, session.id)["expires_ttl"] == epoch(session.expires_at + RETENTION)


def test_advance_removes_the_attributes_it_is_asked_to_and_refuses_to_set_one_it_removes(subject: Subject):
    session = added(subject, reference="order-7")
    assert subject.store.advance(
        session.id, Status.PROCESSING, now=NOW, remove=["reference", "reference"], cause=Cause.POLL
    )
    assert "reference" not in item_of(subject, session.id)
    before = subject.raw(session.id)
    with pytest.raises(ClientError) as refused:
        subject.store.advance(
            session.id,
            Status.REVIEW,
            now=NOW,
            fields={"reference": "x"},
            remove=["reference"],
            cause=Cause.POLL,
        )
    assert error_code(refused.value) == "ValidationException"
    assert subject.raw(session.id) == before


def test_a_final_advance_removes_what_it_is_asked_to_as_well_as_the_open_only_fields(subject: Subject):
    session = added(subject, reference="order-7")
    assert subject.store.advance(session.id, Status.APPROVED, now=NOW, remove=["reference"], cause=Cause.POLL)
    item = item_of(subject, session.id)
    assert not {"reference", "email", "verification_url", "open_client"} & set(item)
    assert item["provider_ref"] == session.provider_ref


def test_no_write_may_change_the_key(subject: Subject):
    session = added(subject)
    with pytest.raises(ClientError) as refused:
        subject.store.update_open(session.id, now=NOW, fields={"pk": "ses_contract999999999999"})
    assert error_code(refused.value) == "ValidationException"
    assert subject.store.get("ses_contract999999999999") is None


def test_nothing_advances_to_pending_or_an_unknown_session(subject: Subject):
    session = added(subject)
    assert not subject.store.advance(session.id, Status.PENDING, now=NOW, cause=Cause.POLL)
    assert not subject.store.advance("ses_contract999999999999", Status.PROCESSING, now=NOW, cause=Cause.POLL)
    assert not subject.store.advance("ses_contract999999999999", Status.APPROVED, now=NOW, cause=Cause.POLL)
    assert subject.store.get("ses_contract999999999999") is None


def test_a_value_dynamodb_cannot_hold_is_refused_before_anything_is_written(subject: Subject):
    session = added(subject)
    before = subject.raw(session.id)
    with pytest.raises(TypeError):
        subject.store.update_open(session.id, now=NOW, fields={"last_poll_error": NOW})
    assert subject.raw(session.id) == before


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
