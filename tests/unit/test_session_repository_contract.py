"""The SessionRepository contract (idgate.repository), held by both implementations: SessionStore on a
moto table built from the template, and the in-memory store of the use-case tests (tests/support/
repository_contract.py). Each test runs on both, so the fake cannot drift from the store it stands for.
Here: adding, reading and finding a session, advancing its status, updating an open one."""

from __future__ import annotations

from datetime import timedelta

import pytest
from botocore.exceptions import ClientError

from idgate.domain import Cause, Result, Status, can_move
from idgate.repository import OPEN_ONLY_FIELDS
from idgate.store import epoch
from tests.support.repository_contract import (
    NOW,
    RETENTION,
    Subject,
    a_session,
    added,
    error_code,
    item_of,
    subject,
)

__all__ = ["subject"]  # the fixture, used by name


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
