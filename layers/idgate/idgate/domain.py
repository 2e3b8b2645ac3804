"""The session life cycle: statuses, the order they may move in, and the normalized result."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

# The statuses hold no model: the publisher function reads them without importing pydantic (idgate.announced).
from idgate.statuses import FINAL_STATUSES as FINAL_STATUSES
from idgate.statuses import Status as Status
from idgate.statuses import can_move as can_move
from idgate.statuses import statuses_before as statuses_before


class Reason(StrEnum):
    """Stable reason codes found in `result.reasons`. New codes may be added; none is ever renamed."""

    PROVIDER_DECLINED = "provider_declined"
    RISK_FLAGGED = "risk_flagged"
    SECOND_FACTOR_VERIFIED = "second_factor_verified"
    PIN_ATTEMPTS_EXCEEDED = "pin_attempts_exceeded"
    PIN_EXPIRED = "pin_expired"
    VERIFICATION_EXPIRED = "verification_expired"
    PROVIDER_UNREACHABLE = "provider_unreachable"
    PROVIDER_BAD_RESPONSE = "provider_bad_response"
    PROVIDER_AUTH_FAILED = "provider_auth_failed"
    PROVIDER_TOKEN_REJECTED = "provider_token_rejected"  # noqa: S105 - a reason code, not a secret
    PROVIDER_ACCESS_DENIED = "provider_access_denied"
    PROVIDER_NOT_FOUND = "provider_not_found"
    PROVIDER_ERROR = "provider_error"
    REVIEW_TIMEOUT = "review_timeout"
    INTERNAL_ERROR = "internal_error"
    CANCELED = "canceled"  # the client ended the session (POST /v1/sessions/{id}/cancel)


class Cause(StrEnum):
    """What made a session's status change, as its history (GET /v1/sessions/{id}/history) tells it. Stable
    codes: new ones may be added; none is ever renamed."""

    CREATE = "create"  # POST /v1/sessions
    POLL = "poll"  # a look at the provider: a step of the follow-up, or a read that looked afresh
    WEBHOOK = "webhook"  # the provider called us
    PIN = "pin"  # the user submitted a PIN
    DEADLINE = "deadline"  # the session's (or its PIN's) time ran out without a verdict
    CANCEL = "cancel"  # POST /v1/sessions/{id}/cancel
    REDACT = "redact"  # DELETE /v1/sessions/{id}: the status stays, the personal data goes


class StatusChange(BaseModel):
    """One entry of a session's history: no personal data, only the status, its reason codes and cause."""

    model_config = ConfigDict(extra="ignore")

    at: datetime
    status: Status
    reasons: list[str] = Field(default_factory=list)
    cause: Cause


class Result(BaseModel):
    """The one result shape of every provider. `data` holds only the minimum a feature needs."""

    model_config = ConfigDict(extra="forbid")

    decision: Status
    provider_status: str | None = None
    risk: bool | None = None
    reasons: list[str] = Field(default_factory=list)
    data: dict[str, Any] = Field(default_factory=dict)


class RoutingTry(BaseModel):
    """A provider idgate did not start the session with, and why (a stable code: `circuit_open`,
    `time_budget_spent`, or the provider's failure: `provider_unreachable`, `provider_auth_failed`, ...)."""

    provider: str
    reason: str


class Routing(BaseModel):
    """How idgate chose the provider of a session created with `"provider": "auto"` (idgate.routing)."""

    check: str
    tried: list[RoutingTry] = Field(default_factory=list)
    chosen: str


class Session(BaseModel):
    """A session as stored. Secrets (client secret, provider token, PIN) are kept only as hashes or
    never leave the store; the API view is built by `api.session_view`."""

    model_config = ConfigDict(extra="ignore")

    id: str
    client_id: str
    provider: str
    status: Status
    created_at: datetime
    updated_at: datetime
    expires_at: datetime
    client_secret_hash: str
    reference: str | None = None
    email: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    provider_ref: str | None = None
    provider_token: str | None = None
    verification_url: str | None = None
    result: Result | None = None
    finalized_at: datetime | None = None
    event_published: bool = False
    last_poll_error: str | None = None
    #: When the provider became unreachable (the first failed look since the last good one), and how
    #: many looks failed in a row since.
    unreachable_since: datetime | None = None
    failed_looks: int = 0
    pin_hash: str | None = None
    pin_deadline: datetime | None = None
    pin_attempts: int = 0
    review_deadline: datetime | None = None
    #: The status changes in order (GET ./history, idgate.redacting), each written by the change's own write.
    history: list[StatusChange] = Field(default_factory=list)
    #: When the client erased the session's personal data (DELETE /v1/sessions/{id}).
    redacted_at: datetime | None = None
    redaction_published: bool = False
    #: Set when idgate chose the provider (`"provider": "auto"`): the check asked for and the providers tried.
    routing: Routing | None = None
