"""The deadline's rules (idgate.deadline), to the second: the final stretch, "over" near the deadline, and
what a session with no verdict becomes. test_service.py runs the same rules through the poll steps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from idgate import deadline
from idgate.domain import Result, Session, Status
from idgate.errors import ProviderRejected

CREATED = datetime(2026, 11, 22, 20, 0, tzinfo=UTC)


def session(life: timedelta, **fields) -> Session:
    values = {
        "id": "ses_deadline0000000000",
        "client_id": "shop",
        "provider": "fake",
        "status": Status.PENDING,
        "created_at": CREATED,
        "updated_at": CREATED,
        "expires_at": CREATED + life,
        "client_secret_hash": "x",
    }
    return Session(**(values | fields))


def unreachable_for(life: timedelta, seconds_before_deadline: float) -> Session:
    return session(life, unreachable_since=CREATED + life - timedelta(seconds=seconds_before_deadline))


def test_the_final_stretch_is_six_poll_intervals():
    assert deadline.final_stretch(session(timedelta(minutes=30)), 5) == timedelta(seconds=30)
    assert deadline.final_stretch(session(timedelta(minutes=30)), 7) == timedelta(seconds=42)


def test_the_final_stretch_is_at_most_half_the_sessions_life():
    assert deadline.final_stretch(session(timedelta(seconds=40)), 5) == timedelta(seconds=20)


@pytest.mark.parametrize(
    ("life", "since", "throughout"),
    [
        (timedelta(minutes=30), 31, True),
        (timedelta(minutes=30), 30, True),  # the outage began exactly as the stretch did
        (timedelta(minutes=30), 29, False),
        (timedelta(seconds=40), 25, True),
        (timedelta(seconds=40), 20, True),
        (timedelta(seconds=40), 15, False),
    ],
)
def test_unreachable_throughout_means_since_the_final_stretch_began(life, since, throughout):
    many = deadline.MIN_FAILED_LOOKS
    assert deadline.unreachable_throughout(unreachable_for(life, since), 5, many) is throughout


def test_never_unreachable_is_not_unreachable_throughout():
    assert deadline.unreachable_throughout(session(timedelta(minutes=30)), 5, 100) is False


@pytest.mark.parametrize(
    ("before", "last_look", "throughout"), [(2, 6, True), (1, 6, False), (7, 0, False), (8, 0, True)]
)
def test_unreachable_throughout_needs_eight_failed_looks_in_a_row(before, last_look, throughout):
    assert deadline.MIN_FAILED_LOOKS == 8
    unreachable = unreachable_for(timedelta(minutes=30), 60).model_copy(update={"failed_looks": before})
    assert deadline.unreachable_throughout(unreachable, 5, last_look) is throughout


@pytest.mark.parametrize(("seconds_before", "over"), [(16, False), (15, True), (0, True), (-60, True)])
def test_over_is_expiry_within_fifteen_seconds_of_our_deadline(seconds_before, over):
    ours = session(timedelta(minutes=30))
    now = ours.expires_at - timedelta(seconds=seconds_before)
    for reason in ("provider_token_rejected", "provider_not_found"):
        assert deadline.over_near_deadline(ProviderRejected(reason, "over"), ours, now) is over


@pytest.mark.parametrize("reason", ["provider_auth_failed", "provider_access_denied", "provider_error"])
def test_a_refusal_that_is_ours_is_never_over(reason):
    ours = session(timedelta(minutes=30))
    assert deadline.over_near_deadline(ProviderRejected(reason, "no"), ours, ours.expires_at) is False


@pytest.mark.parametrize("status", [Status.REVIEW, Status.PROCESSING])
def test_a_decision_under_way_at_the_deadline_is_a_review_timeout_keeping_the_providers_status(status):
    deciding = session(
        timedelta(minutes=30),
        status=status,
        result=Result(decision=status, provider_status="needs_manual_review"),
    )
    assert deadline.without_verdict(deciding).model_dump() == {
        "decision": "expired",
        "provider_status": "needs_manual_review",
        "risk": None,
        "reasons": ["review_timeout"],
        "data": {},
    }
    assert deadline.without_verdict(deciding.model_copy(update={"result": None})).provider_status is None


def test_a_session_the_user_never_finished_is_expired():
    for status in (Status.PENDING, Status.AWAITING_PIN):
        idle = session(
            timedelta(minutes=30), status=status, result=Result(decision=status, provider_status="x")
        )
        assert deadline.without_verdict(idle) == Result(
            decision=Status.EXPIRED, reasons=["verification_expired"]
        )


@pytest.mark.parametrize("reason", ["provider_auth_failed", "provider_access_denied", "provider_error"])
def test_a_refusal_of_ours_at_the_deadline_is_an_error_with_its_reason(reason):
    ours = session(timedelta(minutes=30))
    assert deadline.after_refusal(ours, ProviderRejected(reason, "no")) == Result(
        decision=Status.ERROR, reasons=[reason]
    )


def test_a_refusal_saying_it_is_over_at_the_deadline_is_the_deadlines_result():
    ours = session(timedelta(minutes=30))
    assert deadline.after_refusal(ours, ProviderRejected("provider_not_found", "gone")) == Result(
        decision=Status.EXPIRED, reasons=["verification_expired"]
    )


def test_unreachable_at_the_deadline_is_an_error_only_after_a_whole_stretch_of_it():
    many = deadline.MIN_FAILED_LOOKS
    assert deadline.after_unreachable(
        unreachable_for(timedelta(minutes=30), 30), "provider_unreachable", 5, many
    ) == (Result(decision=Status.ERROR, reasons=["provider_unreachable"]))
    assert deadline.after_unreachable(
        unreachable_for(timedelta(minutes=30), 29), "provider_unreachable", 5, many
    ) == (Result(decision=Status.EXPIRED, reasons=["verification_expired"]))
