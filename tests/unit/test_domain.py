from idgate.domain import FINAL_STATUSES, Reason, Status, can_move, statuses_before
from tests.support.contract import openapi


def test_a_final_status_never_moves_again():
    for final in FINAL_STATUSES:
        for target in Status:
            assert not can_move(final, target), (final, target)


def test_statuses_only_move_forward():
    assert can_move(Status.PENDING, Status.PROCESSING)
    assert can_move(Status.PENDING, Status.AWAITING_PIN)
    assert can_move(Status.PROCESSING, Status.REVIEW)
    assert can_move(Status.REVIEW, Status.APPROVED)
    assert not can_move(Status.PROCESSING, Status.PENDING)
    assert not can_move(Status.REVIEW, Status.PROCESSING)
    assert not can_move(Status.PENDING, Status.PENDING)


def test_review_and_awaiting_pin_are_alternatives_not_steps():
    assert not can_move(Status.REVIEW, Status.AWAITING_PIN)
    assert not can_move(Status.AWAITING_PIN, Status.REVIEW)


def test_the_write_condition_for_a_final_status_lists_every_open_status():
    assert set(statuses_before(Status.APPROVED)) == {
        Status.PENDING,
        Status.PROCESSING,
        Status.REVIEW,
        Status.AWAITING_PIN,
    }
    assert statuses_before(Status.PROCESSING) == [Status.PENDING]


# ---- the public contract: the values callers read (README "The API", openapi.yaml) ---------------------

#: As README and openapi.yaml list them; a value is never renamed (callers compare these strings).
STATUSES = ["pending", "processing", "awaiting_pin", "review", "approved", "declined", "expired", "error"]
REASONS = [
    "provider_declined",
    "risk_flagged",
    "second_factor_verified",
    "pin_attempts_exceeded",
    "pin_expired",
    "verification_expired",
    "provider_unreachable",
    "provider_bad_response",
    "provider_auth_failed",
    "provider_token_rejected",
    "provider_access_denied",
    "provider_not_found",
    "provider_error",
    "review_timeout",
    "internal_error",
    "canceled",
]


def test_every_status_has_its_documented_value():
    assert [status.value for status in Status] == STATUSES
    assert openapi()["components"]["schemas"]["Status"]["enum"] == STATUSES


def test_the_final_statuses_are_the_four_verdicts():
    assert sorted(status.value for status in FINAL_STATUSES) == ["approved", "declined", "error", "expired"]
    assert [status.value for status in Status if status.is_final] == [
        "approved",
        "declined",
        "expired",
        "error",
    ]


def test_every_reason_has_its_documented_value():
    assert [reason.value for reason in Reason] == REASONS
    documented = " ".join(
        openapi()["components"]["schemas"]["Result"]["properties"]["reasons"]["description"].split()
    )
    assert documented.startswith("Stable codes: " + ", ".join(REASONS) + ";")


def test_every_allowed_move_and_only_those():
    finals = {"approved", "declined", "expired", "error"}
    allowed = {
        "pending": {"processing", "awaiting_pin", "review"} | finals,
        "processing": {"awaiting_pin", "review"} | finals,
        "awaiting_pin": finals,
        "review": finals,
    } | {final: set() for final in finals}
    assert {current.value: {t.value for t in Status if can_move(current, t)} for current in Status} == allowed
    assert {target.value: {s.value for s in statuses_before(target)} for target in Status} == {
        target: {current for current, moves in allowed.items() if target in moves} for target in STATUSES
    }
