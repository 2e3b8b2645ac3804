"""Stored sessions for tests of provider clients, which read only a few of a session's fields."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from idgate.domain import Session, Status
from idgate.providers.base import NewVerification


def open_session(provider: str, started: NewVerification | None = None, **fields: Any) -> Session:
    """A pending session of `provider`, carrying what `started` (the provider's answer) gave it."""
    now = datetime.now(UTC)
    values: dict[str, Any] = {
        "id": "ses_test0000000000000000",
        "client_id": "client",
        "provider": provider,
        "status": Status.PENDING,
        "created_at": now,
        "updated_at": now,
        "expires_at": now + timedelta(minutes=30),
        "client_secret_hash": "x",
    }
    if started is not None:
        values |= {
            "expires_at": started.expires_at,
            "provider_ref": started.provider_ref,
            "provider_token": started.provider_token,
            "verification_url": started.verification_url,
        }
    return Session(**(values | fields))
