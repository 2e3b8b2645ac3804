"""The HTTP API contract: request models, the caller, and the views of a session (openapi.yaml)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr

from idgate.domain import Session

MAX_BODY_BYTES = 64 * 1024
EMAIL_PATTERN = r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$"


class CreateSessionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider: StrictStr = Field(min_length=1, max_length=32)
    reference: StrictStr | None = Field(default=None, min_length=1, max_length=128)
    email: StrictStr | None = Field(default=None, max_length=254, pattern=EMAIL_PATTERN)
    options: dict[str, Any] = Field(default_factory=dict)


class AutoSessionRequest(BaseModel):
    """`"provider": "auto"`: a check, idgate choosing the provider by the routing policy (idgate.routing);
    `options` are the check's (idgate.checks)."""

    model_config = ConfigDict(extra="forbid")

    provider: Literal["auto"]
    check: Literal["age", "identity"]
    reference: StrictStr | None = Field(default=None, min_length=1, max_length=128)
    email: StrictStr | None = Field(default=None, max_length=254, pattern=EMAIL_PATTERN)
    options: dict[str, Any] = Field(default_factory=dict)


class PinRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pin: StrictStr = Field(pattern=r"^[0-9]{6}$")


class Caller(BaseModel):
    """Who calls, as the authorizer established it (requestContext.authorizer.lambda)."""

    kind: Literal["secret", "publishable", "client_secret"]
    client_id: str | None = None

    @property
    def is_secret_key(self) -> bool:
        return self.kind == "secret"


def _time(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def session_view(session: Session) -> dict[str, Any]:
    """What GET /v1/sessions/{id} answers: never a secret, a token or a PIN."""
    final = session.status.is_final
    return {
        "id": session.id,
        "provider": session.provider,
        "status": session.status.value,
        "reference": session.reference,
        "verification_url": None if final else session.verification_url,
        "result": session.result.model_dump(mode="json") if final and session.result else None,
        "created_at": _time(session.created_at),
        "updated_at": _time(session.updated_at),
        "expires_at": _time(session.expires_at),
        "finalized_at": _time(session.finalized_at),
        "redacted_at": _time(session.redacted_at),
        "routing": session.routing.model_dump(mode="json") if session.routing else None,
    }


def created_view(session: Session, *, client_secret: str, qr_code: str) -> dict[str, Any]:
    """What POST /v1/sessions answers: the one time the client secret is shown."""
    return {
        "id": session.id,
        "provider": session.provider,
        "status": session.status.value,
        "reference": session.reference,
        "client_secret": client_secret,
        "verification_url": session.verification_url,
        "qr_code": qr_code,
        "expires_at": _time(session.expires_at),
        "created_at": _time(session.created_at),
        "routing": session.routing.model_dump(mode="json") if session.routing else None,
    }
