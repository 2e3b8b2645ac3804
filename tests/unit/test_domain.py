from idgate.domain import FINAL_STATUSES, Status, can_move, statuses_before


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
