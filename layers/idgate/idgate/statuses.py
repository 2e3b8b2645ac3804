"""A session's statuses and the order they may move in: apart from the models of idgate.domain (which
re-exports them), so that what reads a stored session's status needs no pydantic (idgate.announced)."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    PENDING = "pending"  # waiting for the user
    PROCESSING = "processing"  # the provider is deciding
    AWAITING_PIN = "awaiting_pin"  # the user must prove the PIN we emailed
    REVIEW = "review"  # a human at the provider decides
    APPROVED = "approved"
    DECLINED = "declined"
    EXPIRED = "expired"
    ERROR = "error"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATUSES


FINAL_STATUSES = frozenset({Status.APPROVED, Status.DECLINED, Status.EXPIRED, Status.ERROR})

# A status only ever moves to a higher rank; review and awaiting_pin are alternatives, never successive.
_RANK = {
    Status.PENDING: 0,
    Status.PROCESSING: 1,
    Status.REVIEW: 2,
    Status.AWAITING_PIN: 2,
    Status.APPROVED: 3,
    Status.DECLINED: 3,
    Status.EXPIRED: 3,
    Status.ERROR: 3,
}


def can_move(current: Status, target: Status) -> bool:
    return _RANK[target] > _RANK[current]


def statuses_before(target: Status) -> list[Status]:
    """The statuses a session may be in for a write of `target` to succeed (used as the write's condition)."""
    return [status for status in Status if can_move(status, target)]
