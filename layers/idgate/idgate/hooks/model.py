"""What the webhooks are made of: event types, endpoints, deliveries and the retry schedule."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from idgate.statuses import Status

# A type only: the delivery function handles no session, and building the session's models was about 0.03 of
# the floor of its first invocation.
if TYPE_CHECKING:
    from idgate.domain import Session


class EventType(StrEnum):
    FINALIZED = "session.finalized"
    UPDATED = "session.updated"


class EndpointStatus(StrEnum):
    ENABLED = "enabled"
    FAILING = "failing"  # a delivery used every try; deliveries go on
    DISABLED = "disabled"  # failing for DISABLE_AFTER: no new deliveries


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # every try of its series failed: in the dead-letter queue


#: The pause before each try of a series: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
RETRY_SCHEDULE_SECONDS = (0, 5, 300, 1800, 7200, 18000, 36000, 36000)
#: An endpoint failing this long (no delivery acknowledged since its first failure) is disabled.
DISABLE_AFTER = timedelta(days=5)
#: A second secret signs with the new one this long after a rotation.
ROTATION_OVERLAP = timedelta(hours=24)
ENDPOINT_ID = re.compile(r"we_[A-Za-z0-9_-]{16,64}")
EVENT_ID = re.compile(r"evt_[0-9a-f]{32}")


def event_id(session_id: str, status: Status) -> str:
    """The event of a session reaching `status`: the same id whichever stream record (or retry) sees it, so an
    event is never fanned out twice, and its `webhook-id` is the same on every try and replay."""
    kind = "finalized" if status.is_final else status.value
    return "evt_" + hashlib.sha256(f"{session_id}:{kind}".encode()).hexdigest()[:32]


def event_ids_of(session_id: str) -> list[str]:
    """Every event a session may have had: its non-final changes and its final status."""
    return [
        event_id(session_id, status) for status in (Status.PROCESSING, Status.REVIEW, Status.AWAITING_PIN)
    ] + [event_id(session_id, Status.APPROVED)]


def event_of(session: Session) -> EventType | None:
    """The event a session's status is, if any: its final status, or a non-final change after creation."""
    if session.status.is_final:
        return EventType.FINALIZED
    if session.status is Status.PENDING:  # where every session starts: no change yet
        return None
    return EventType.UPDATED


class SealedSecret(BaseModel):
    model_config = ConfigDict(frozen=True)

    ciphertext: str  # base64 of what KMS returned
    #: Set on the previous secret at a rotation: it still signs until then.
    retires_at: datetime | None = None


class Endpoint(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    client_id: str
    url: str
    events: list[EventType]
    description: str | None = None
    created_at: datetime
    status: EndpointStatus = EndpointStatus.ENABLED
    failing_since: datetime | None = None
    secrets: list[SealedSecret] = Field(default_factory=list)

    def signing_secrets(self, now: datetime) -> list[SealedSecret]:
        return [s for s in self.secrets if s.retires_at is None or s.retires_at > now]


class Delivery(BaseModel):
    """One event to one endpoint: its payload (signed as it is), and where its current series of tries is."""

    model_config = ConfigDict(frozen=True)

    endpoint_id: str
    event_id: str
    type: EventType
    session_id: str
    occurred_at: datetime
    #: The body, signed as it is; None once the session was redacted (nothing is sent any more).
    payload: str | None = None
    created_at: datetime
    series: int = 1  # a replay starts a new series
    attempts: int = 0
    status: DeliveryStatus = DeliveryStatus.PENDING
    last_status_code: int | None = None
    last_latency_ms: int | None = None
    last_error: str | None = None
    next_try_at: datetime | None = None
    enqueued: bool = False
    #: When the current try was taken, and the last try whose outcome was recorded (a try taken and never
    #: recorded may be taken again once stale: idgate.hooks.delivery).
    claimed_at: datetime | None = None
    done_attempts: int = 0


class Attempt(BaseModel):
    """The queue's message: try number `attempt` of `series` of a delivery, not before `not_before`."""

    model_config = ConfigDict(frozen=True)

    client_id: str
    endpoint_id: str
    event_id: str
    occurred_at: datetime
    series: int
    attempt: int = Field(ge=1)
    not_before: datetime
