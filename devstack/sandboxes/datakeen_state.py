"""The Datakeen sandbox's state: its login tokens, and an IDify session as Datakeen would hold it, with
what the session answers and the webhooks a new status of it sends.

Separate from ``datakeen`` (the HTTP side: routes, checks, the page) so that what a session is and says
reads apart from how requests reach it. Nothing here locks: the sandbox calls it with its lock held.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from devstack.sandboxes.base import key_digest
from devstack.sandboxes.datakeen_analysis import (
    AI_APPROVED,
    AI_REJECTED,
    USER_APPROVED,
    USER_REJECTED,
    VERIFY,
    analysis,
)

__all__ = [
    "DECISIONS",
    "DEFAULT_BIRTH_DATE",
    "EXPIRED",
    "PENDING",
    "USER_OUTCOMES",
    "Session",
    "Tokens",
    "mongo_id",
    "webhooks",
]

PENDING = "pending"
EXPIRED = "expired"
#: The user's outcomes and the status each gives (abandon leaves the session pending).
USER_OUTCOMES: dict[str, str | None] = {
    "approved": AI_APPROVED,
    "rejected": AI_REJECTED,
    "review": VERIFY,
    "abandon": None,
}
#: The reviewer's decisions on a session in ``verify``.
DECISIONS = {"approved": USER_APPROVED, "rejected": USER_REJECTED}

DEFAULT_BIRTH_DATE = date(1984, 7, 11)
DEFAULT_FIRST_NAME = "Jean"
DEFAULT_LAST_NAME = "DUPONT"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


_JWT_HEADER = _b64url(b'{"alg":"HS256","typ":"JWT"}')


def mongo_id(now: float) -> str:
    """24 lowercase hex digits as MongoDB makes them: the second, then (here) random."""
    return f"{int(now):08x}{secrets.token_hex(8)}"


class Tokens:
    """The login tokens issued: JWT-shaped like Datakeen's, checked by lookup of their SHA-256 digest."""

    def __init__(self, ttl_seconds: int) -> None:
        self.ttl_seconds = ttl_seconds
        self._signing_key = secrets.token_bytes(32)
        self._account_id = secrets.token_hex(12)
        self._expiry: dict[str, int] = {}  # SHA-256 of a token -> the second it expires

    def issue(self, now: float) -> str:
        issued = int(now)
        expires = issued + self.ttl_seconds
        claims = {
            "_id": self._account_id,
            "role": "api",
            "iat": issued,
            "exp": expires,
            "jti": secrets.token_hex(8),
        }
        signed = f"{_JWT_HEADER}.{_b64url(json.dumps(claims, separators=(',', ':')).encode())}"
        signature = hmac.new(self._signing_key, signed.encode("ascii"), hashlib.sha256).digest()
        token = f"{signed}.{_b64url(signature)}"
        for stale in [t for t, until in self._expiry.items() if issued >= until]:
            del self._expiry[stale]
        self._expiry[key_digest(token)] = expires
        return token

    def valid(self, token: str, now: float) -> bool:
        expires = self._expiry.get(key_digest(token))
        return expires is not None and now < expires


@dataclass
class Session:
    """One IDify session, as Datakeen would hold it."""

    session_id: str
    created_at: int
    expires_at: int
    template_id: str
    first_name: str | None
    last_name: str | None
    birth_date: date | None  # as declared when the session was created
    callback_url: str | None
    webhook_url: str | None
    correlation_id: str
    status: str = PENDING  # pending, then a newStatus value
    abandoned: bool = False
    extracted_birth_date: date | None = None
    analysis_id: str = ""
    entity_id: str = ""

    def current(self, now: float) -> str:
        if self.status == PENDING and now >= self.expires_at:
            return EXPIRED
        return self.status

    def allowed(self, now: float) -> tuple[str, ...]:
        current = self.current(now)
        if current == PENDING and not self.abandoned:
            return tuple(USER_OUTCOMES)
        if current == VERIFY:
            return tuple(DECISIONS)
        return ()

    def result(self, now: float) -> dict[str, Any]:
        current = self.current(now)
        if current in (PENDING, EXPIRED):
            message = "Session pending" if current == PENDING else "Session expired"
            data: dict[str, Any] = {"analysid_id": "", "job_status": None, "sessionStatus": current}
            return {"status": 200, "message": message, "data": data}
        job_status = analysis(
            current,
            first_name=self.first_name or DEFAULT_FIRST_NAME,
            last_name=self.last_name or DEFAULT_LAST_NAME,
            birth_date=self.extracted_birth_date or self.birth_date or DEFAULT_BIRTH_DATE,
            created=datetime.fromtimestamp(self.created_at, UTC).date(),
            entity_id=self.entity_id,
        )
        data = {"analysid_id": self.analysis_id, "job_status": job_status, "sessionStatus": current}
        return {"status": 200, "message": "Analysis Completed Successfully", "data": data}


def webhooks(session: Session, reviewed: bool, dashboard: str | None) -> list[tuple[str, dict[str, Any]]]:
    """(URL, body) of each webhook the session's new status sends (``dashboard``: the dashboard's URL)."""
    if reviewed:
        url = dashboard or session.webhook_url
        body = {
            "analysisId": session.analysis_id,
            "entityId": session.entity_id,
            "correlationId": session.correlation_id,
            "sessionId": session.session_id,
            "newStatus": session.status,
        }
        return [(url, body)] if url else []
    deliveries: list[tuple[str, dict[str, Any]]] = []
    if session.webhook_url:
        deliveries.append((session.webhook_url, {"sessionId": session.session_id}))
    if dashboard:
        deliveries.append((dashboard, {"sessionId": session.session_id, "newStatus": session.status}))
    return deliveries
