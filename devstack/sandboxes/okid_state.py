"""The okID sandbox's state: a verification as okID would hold it, what it answers (its details, the answer
that created it, its webhook's body), and what a request may change of it.

* ``expiresAt`` is the creation second plus the sandbox's verification lifetime. From that instant
  on (``now >= expiresAt``) a verification without an outcome is ``expired``: its page is a 404 and
  it takes no outcome. Outcomes already set do not expire, so a reviewer may decide a
  ``needs_manual_review`` after ``expiresAt``.
* ``current``: ``pending`` → ``verified`` | ``rejected`` | ``needs_manual_review`` (then
  ``verified`` | ``rejected`` once, the reviewer's decision), or ``expired``. ``abandon`` is the
  user leaving: it is final for the page (409 afterwards), ``current`` stays ``pending`` with the
  document ``in_progress`` until it expires, no webhook is sent and no image exists.

Each reader below raises ``SandboxError`` (a 400) and leaves state alone, so a handler parses first
and changes state after.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from werkzeug.wrappers import Request

from devstack.sandboxes.base import SandboxError, is_http_url, iso_seconds, json_object

__all__ = [
    "DECISIONS",
    "FLOW",
    "OUTCOMES",
    "OUTCOME_ABANDON",
    "SIDES",
    "STATUS_EXPIRED",
    "STATUS_NEEDS_MANUAL_REVIEW",
    "STATUS_PENDING",
    "STATUS_REJECTED",
    "STATUS_VERIFIED",
    "WEBHOOK_EVENT",
    "Verification",
    "parse_generate_body",
    "parse_outcome",
]

STATUS_PENDING = "pending"
STATUS_VERIFIED = "verified"
STATUS_REJECTED = "rejected"
STATUS_NEEDS_MANUAL_REVIEW = "needs_manual_review"
STATUS_EXPIRED = "expired"
OUTCOME_ABANDON = "abandon"
#: What the page (and its JSON POST) can set.
OUTCOMES = (STATUS_VERIFIED, STATUS_REJECTED, STATUS_NEEDS_MANUAL_REVIEW, OUTCOME_ABANDON)
#: The reviewer's decisions after ``needs_manual_review``.
DECISIONS = (STATUS_VERIFIED, STATUS_REJECTED)
FLOW = ("terms", "document", "liveness")
SIDES = ("front", "back")
#: The ``event`` of the sandbox's webhooks (okID documents none: see ``okid``).
WEBHOOK_EVENT = "verification.status_changed"


#: Outcome → fake automatic checks: (document status, score, liveness status, score).
_AUTOMATIC = {
    STATUS_VERIFIED: ("accepted", 0.97, "passed", 0.98),
    STATUS_REJECTED: ("rejected", 0.31, "failed", 0.12),
    STATUS_NEEDS_MANUAL_REVIEW: ("review", 0.64, "passed", 0.71),
}


@dataclass
class Verification:
    """One verification, as okID would hold it."""

    verification_id: str
    owner: str  # SHA-256 of the SDK key that created it
    created_at: int
    expires_at: int
    extra_data: dict[str, Any]
    return_url: str | None
    updated_at: int
    outcome: str | None = None  # verified | rejected | needs_manual_review (the latest)
    abandoned: bool = False
    decided_at: int | None = None  # when a reviewer turned needs_manual_review into a decision

    def current(self, now: float) -> str:
        if self.outcome is not None:
            return self.outcome
        return STATUS_EXPIRED if now >= self.expires_at else STATUS_PENDING

    def has_images(self) -> bool:
        return self.outcome is not None

    def allowed_outcomes(self, now: float) -> tuple[str, ...]:
        current = self.current(now)
        if current == STATUS_PENDING and not self.abandoned:
            return OUTCOMES
        if current == STATUS_NEEDS_MANUAL_REVIEW:
            return DECISIONS
        return ()

    def set_outcome(self, outcome: str, now: float) -> None:
        """The user's outcome, or the reviewer's decision; the caller checked ``allowed_outcomes``."""
        if outcome == OUTCOME_ABANDON:
            self.abandoned = True
        else:
            if self.outcome == STATUS_NEEDS_MANUAL_REVIEW:
                self.decided_at = int(now)
            self.outcome = outcome
        self.updated_at = int(now)

    def details(self, now: float) -> dict[str, object]:
        current = self.current(now)
        if self.outcome is not None:
            progress = {"document": "completed", "liveness": "completed"}
        else:
            progress = {"document": "in_progress" if self.abandoned else "pending", "liveness": "pending"}
        updated_at = self.expires_at if current == STATUS_EXPIRED else self.updated_at
        return {
            "verification_id": self.verification_id,
            "status": {"current": current, "updated_at": iso_seconds(updated_at), "progress": progress},
            "results": self._results(),
        }

    def generated(self) -> dict[str, object]:
        """The answer of ``generate-verification`` that created it."""
        return {
            "verificationId": self.verification_id,
            "expiresAt": iso_seconds(self.expires_at),
            "modules": {
                "document": {"enabled": True, "required": True, "sides": list(SIDES)},
                "liveness": {"enabled": True, "required": True},
            },
            "flow": list(FLOW),
        }

    def notification(self, status: str, now: float) -> dict[str, Any]:
        """The webhook's body saying ``status`` at ``now`` (with a copy of ``extra_data``)."""
        return {
            "event": WEBHOOK_EVENT,
            "verification_id": self.verification_id,
            "status": status,
            "extra_data": json.loads(json.dumps(self.extra_data)),
            "timestamp": iso_seconds(now),
        }

    def _results(self) -> dict[str, object]:
        if self.outcome is None:
            return {}
        if self.decided_at is None:
            document_status, document_score, liveness_status, liveness_score = _AUTOMATIC[self.outcome]
        else:
            # The reviewer's verdict on the document; the automatic scores stay what they were.
            _, document_score, liveness_status, liveness_score = _AUTOMATIC[STATUS_NEEDS_MANUAL_REVIEW]
            document_status = "accepted" if self.outcome == STATUS_VERIFIED else "rejected"
        results: dict[str, object] = {
            "document": {
                "status": document_status,
                "type": "identity_card",
                "issuing_country": "UTO",  # ICAO's specimen state
                "first_name": "SANDBOX",
                "last_name": "TEST PERSON",
                "sides": list(SIDES),
                "score": document_score,
            },
            "liveness": {"status": liveness_status, "score": liveness_score},
        }
        if self.decided_at is not None:
            results["review"] = {"decision": self.outcome, "decided_at": iso_seconds(self.decided_at)}
        return results


def parse_generate_body(request: Request) -> tuple[dict[str, Any], str | None]:
    """(extra_data, return_url) from the optional body of ``generate-verification``."""
    body = json_object(request, empty_ok=True)
    extra_data = body.get("extra_data", {})
    if extra_data is None:
        extra_data = {}
    if not isinstance(extra_data, dict):
        raise SandboxError(400, "extra_data must be an object")
    return_url = body.get("return_url")
    if return_url is not None and not is_http_url(return_url):
        raise SandboxError(400, "return_url must be an http(s) URL")
    return extra_data, return_url


def parse_outcome(body: object) -> tuple[str, bool]:
    if not isinstance(body, dict):
        raise SandboxError(400, "The body must be a JSON object")
    outcome = body.get("outcome")
    if outcome not in OUTCOMES:
        raise SandboxError(400, "outcome must be one of " + ", ".join(OUTCOMES))
    webhook = body.get("webhook", True)
    if not isinstance(webhook, bool):
        raise SandboxError(400, "webhook must be true or false")
    return str(outcome), webhook
