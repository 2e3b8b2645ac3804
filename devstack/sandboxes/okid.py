"""A local okID v2client sandbox: a WSGI app that follows okID's documented integration contract.

okID's test portal needs a real account, so the devstack serves this one in its place. It implements
the server-to-server calls of ``seeds/okid-v2client.txt`` at ``{public_base_url}``, all authenticated
by the ``X-SDK-Key`` header (no other header, query or fallback key is accepted):

``POST /api/generate-verification``  optional JSON body ``{"extra_data": {...}, "return_url": "..."}``
    200 ``{"verificationId": "ver_<24 hex>", "expiresAt": "<ISO 8601, Z>", "modules": {...},
    "flow": ["terms", "document", "liveness"]}``
``GET /api/get-verification-details/{id}``
    200 ``{"verification_id", "status": {"current", "updated_at", "progress": {...}}, "results": {...}}``
``GET /api/get-verification-image/{id}`` (redacted front), ``-unredacted/{id}`` (front, watermark only),
``-front/{id}`` and ``-back/{id}`` (redacted side); query ``attempt_index`` (default 0), ``image_type``
(``original`` or ``cropped``, default ``original``)
    200 ``image/png``

and stands in for the user with the portal page at ``/?verification_id=ID`` (``&mode=select`` adds
the "QR code or same device" choice): ``GET`` shows buttons (ids ``verified``, ``rejected``,
``needs_manual_review``, ``abandon``) and a ``send-webhook`` checkbox; ``POST`` with JSON
``{"outcome": ..., "webhook": true|false}`` does the same for scripted tests.

Behaviour where the document is silent (chosen here, keep clients defensive):

* Errors are JSON ``{"error": CODE, "message": text}``: 401 ``INVALID_API_KEY`` (missing or unknown
  key, checked first), 404 ``NOT_FOUND`` (unknown id, no image), 403 ``FORBIDDEN`` (another key's
  verification), 400 ``INVALID_REQUEST``, 409 ``CONFLICT``, 405 ``METHOD_NOT_ALLOWED``,
  413 ``PAYLOAD_TOO_LARGE``, and 404 ``VERIFICATION_EXPIRED`` when the user acts on an expired one.
  Order: key (401), id (404), owner (403), query (400), image (404).
* ``generate-verification`` accepts an empty body with any content type (the document's curl sends
  none). A non-empty body must be ``application/json`` holding an object (else 400), at most 64 KiB
  (else 413); ``extra_data`` must be an object, ``return_url`` an http(s) URL; other fields are ignored.
* ``expiresAt`` is the creation second plus ``verification_ttl_seconds`` (30 minutes). From that
  instant on (``now >= expiresAt``) a verification without an outcome is ``expired``: its page is
  a 404 and it takes no outcome. Outcomes already set do not expire, so a reviewer may decide a
  ``needs_manual_review`` after ``expiresAt``. Verifications are forgotten 7 days after
  ``expiresAt`` (the retention period; then 404).
* ``current``: ``pending`` → ``verified`` | ``rejected`` | ``needs_manual_review`` (then
  ``verified`` | ``rejected`` once, the reviewer's decision), or ``expired``. ``abandon`` is the
  user leaving: it is final for the page (409 afterwards), ``current`` stays ``pending`` with the
  document ``in_progress`` until it expires, no webhook is sent and no image exists.
* Images exist once an outcome is set (``verified``, ``rejected``, ``needs_manual_review``): a
  generated PNG whose bytes differ per side, redacted/unredacted and image type (a ``tEXt``
  chunk says which, e.g. ``okID sandbox FRONT redacted original``). Only ``attempt_index`` 0 exists
  (another non-negative integer is a 404; anything else a 400).
* Webhooks: okID documents none of payload, signature or retries. As its dashboard holds one URL
  per API key, ``dashboard_webhook_url`` (alias ``webhook_url``) is the URL of the main
  ``sdk_key``; verifications of ``extra_sdk_keys`` send none. After each outcome except
  ``abandon`` (unless ``"webhook": false``) a background thread POSTs ``{"event":
  "verification.status_changed", "verification_id", "status", "extra_data", "timestamp"}``
  (unsigned, no redirects followed, no proxy), retrying at most twice on a network error, 429
  or 5xx. Expiry sends none (nothing runs on a timer).
* State is in memory behind a lock. Nothing logs SDK keys; ids are logged by their first
  12 characters and webhook URLs by their first path segments only (the rest is a secret token).
"""

from __future__ import annotations

import argparse
import hmac
import json
import re
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, ClassVar, Self
from urllib.parse import quote

import segno
from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from devstack.sandboxes.base import (
    Sandbox,
    SandboxError,
    is_http_url,
    iso_seconds,
    json_object,
    key_digest,
    matching_digest,
)
from devstack.sandboxes.okid_images import document_png
from devstack.sandboxes.okid_page import NOT_FOUND_PAGE, PORTAL_PAGE
from devstack.sandboxes.pages import PAGE_CSP, html_response, json_response, render

__all__ = [
    "FLOW",
    "OUTCOMES",
    "STATUS_EXPIRED",
    "STATUS_NEEDS_MANUAL_REVIEW",
    "STATUS_PENDING",
    "STATUS_REJECTED",
    "STATUS_VERIFIED",
    "WEBHOOK_EVENT",
    "OkidSandbox",
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
WEBHOOK_EVENT = "verification.status_changed"
IMAGE_TYPES = ("original", "cropped")
SIDES = ("front", "back")
#: Image endpoint → (side, redacted). The document image without a side is the front.
_IMAGE_ENDPOINTS = {
    "get-verification-image": ("front", True),
    "get-verification-image-unredacted": ("front", False),
    "get-verification-image-front": ("front", True),
    "get-verification-image-back": ("back", True),
}

RETENTION_SECONDS = 7 * 24 * 3600
_ID_LOG_CHARS = 12

#: The ``error`` code of each HTTP status okID answers, unless the error names its own.
_CODES = {
    400: "INVALID_REQUEST",
    401: "INVALID_API_KEY",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
}
INVALID_API_KEY = "Invalid API key provided"
FORBIDDEN = "API key does not have access to this verification"
NOT_FOUND = "Verification not found"


def _short(verification_id: str) -> str:
    return verification_id[:_ID_LOG_CHARS] + "..."


#: Outcome → fake automatic checks: (document status, score, liveness status, score).
_AUTOMATIC = {
    STATUS_VERIFIED: ("accepted", 0.97, "passed", 0.98),
    STATUS_REJECTED: ("rejected", 0.31, "failed", 0.12),
    STATUS_NEEDS_MANUAL_REVIEW: ("review", 0.64, "passed", 0.71),
}


# -- state -------------------------------------------------------------------------------------------


@dataclass
class _Verification:
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


def _parse_generate_body(request: Request) -> tuple[dict[str, Any], str | None]:
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


def _parse_attempt_index(raw: str | None) -> int:
    if raw is None:
        return 0
    if not re.fullmatch(r"[0-9]{1,6}", raw):
        raise SandboxError(400, "attempt_index must be a non-negative integer")
    return int(raw)


def _parse_outcome(body: object) -> tuple[str, bool]:
    if not isinstance(body, dict):
        raise SandboxError(400, "The body must be a JSON object")
    outcome = body.get("outcome")
    if outcome not in OUTCOMES:
        raise SandboxError(400, "outcome must be one of " + ", ".join(OUTCOMES))
    webhook = body.get("webhook", True)
    if not isinstance(webhook, bool):
        raise SandboxError(400, "webhook must be true or false")
    return str(outcome), webhook


# -- the sandbox ---------------------------------------------------------------------------------


class OkidSandbox(Sandbox):
    """WSGI app standing in for okID's v2client portal (``https://verify.test.okid.io``)."""

    name = "okid"
    title = "okID"
    default_port = 3002
    api_path = ""
    api_endpoints = frozenset({"generate", "details", "image"})
    webhook_user_agent = "okID-sandbox-webhook/1.0"
    #: The SDK key ``from_arguments`` gives the sandbox (the local stack's).
    DEV_SDK_KEY: ClassVar[str] = "okid-sandbox-key"
    DEFAULT_VERIFICATION_TTL: ClassVar[int] = 1800

    def __init__(
        self,
        sdk_key: str,
        public_base_url: str,
        *,
        webhook_url: str | None = None,
        verification_ttl_seconds: int = DEFAULT_VERIFICATION_TTL,
        clock: Callable[[], float] = time.time,
        extra_sdk_keys: Iterable[str] = (),
    ) -> None:
        """``public_base_url`` is where clients reach this app (the portal page is its root).

        ``extra_sdk_keys`` are other okID customers: a verification answers only to the key that
        created it. ``webhook_url`` (settable later) receives the main key's notifications.
        """
        keys = [sdk_key, *extra_sdk_keys]
        if any(not isinstance(key, str) or not key for key in keys):
            raise ValueError("SDK keys must be non-empty strings")
        if verification_ttl_seconds <= 0:
            raise ValueError("verification_ttl_seconds must be positive")
        images = "any(" + ", ".join(f'"{name}"' for name in _IMAGE_ENDPOINTS) + ")"
        rules = [
            Rule("/", endpoint="portal", methods=["GET"]),
            Rule("/", endpoint="set_outcome", methods=["POST"]),
            Rule("/api/generate-verification", endpoint="generate", methods=["POST"]),
            Rule("/api/get-verification-details/<verification_id>", endpoint="details", methods=["GET"]),
            Rule(f"/api/<{images}:kind>/<verification_id>", endpoint="image", methods=["GET"]),
        ]
        super().__init__(public_base_url, rules, clock=clock, dashboard_webhook_url=webhook_url)
        self._sdk_key = sdk_key
        self._main_key = key_digest(sdk_key)
        self._key_digests = [key_digest(key) for key in keys]
        self._ttl = verification_ttl_seconds
        self._verifications: dict[str, _Verification] = {}

    # -- registration and configuration ------------------------------------------------------------

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--okid-verification-ttl",
            type=int,
            default=cls.DEFAULT_VERIFICATION_TTL,
            help="seconds an okID verification lives",
        )

    @classmethod
    def from_arguments(cls, public_base_url: str, arguments: Mapping[str, Any]) -> Self:
        ttl = int(arguments.get("okid_verification_ttl", cls.DEFAULT_VERIFICATION_TTL))
        return cls(cls.DEV_SDK_KEY, public_base_url, verification_ttl_seconds=ttl)

    def credentials(self) -> dict[str, str]:
        return {"sdk_key": self._sdk_key}

    def add_sdk_key(self, sdk_key: str) -> None:
        """Another okID customer's key: its verifications answer only to it (and send no webhook)."""
        with self._lock:
            self._key_digests.append(key_digest(sdk_key))

    @property
    def webhook_url(self) -> str | None:
        """The main key's webhook URL, as set in okID's dashboard: ``dashboard_webhook_url``."""
        return self.dashboard_webhook_url

    @webhook_url.setter
    def webhook_url(self, url: str | None) -> None:
        self.dashboard_webhook_url = url

    def portal_url(self, verification_id: str, *, select: bool = False) -> str:
        url = f"{self.public_base_url}/?verification_id={quote(verification_id, safe='')}"
        return url + "&mode=select" if select else url

    def error_body(self, error: SandboxError) -> Mapping[str, object]:
        code = error.code or _CODES.get(error.status) or HTTPStatus(error.status).name
        return {"error": code, "message": error.message}

    def routing_error(self, status: int) -> SandboxError:
        return SandboxError(status, HTTPStatus(status).phrase.capitalize())

    # -- helpers -----------------------------------------------------------------------------------

    def _authenticate(self, request: Request) -> str:
        """The digest of the request's ``X-SDK-Key`` if it is a known key (else a 401)."""
        owner = matching_digest(request.headers.get("X-SDK-Key", ""), self._key_digests)
        if owner is None:
            raise SandboxError(401, INVALID_API_KEY)
        return owner

    def _owned(self, verification_id: str, owner: str) -> _Verification:
        """The verification if ``owner`` created it (else a 404 or 403). Call with the lock held."""
        verification = self._verifications.get(verification_id)
        if verification is None:
            raise SandboxError(404, NOT_FOUND)
        if not hmac.compare_digest(verification.owner, owner):
            raise SandboxError(403, FORBIDDEN)
        return verification

    # -- API ----------------------------------------------------------------------------------------

    def on_generate(self, request: Request) -> Response:
        owner = self._authenticate(request)
        extra_data, return_url = _parse_generate_body(request)
        now = self._clock()
        created = int(now)
        verification = _Verification(
            verification_id="ver_" + secrets.token_hex(12),
            owner=owner,
            created_at=created,
            expires_at=created + self._ttl,
            extra_data=extra_data,
            return_url=return_url,
            updated_at=created,
        )
        with self._lock:
            for stale in [
                v for v, s in self._verifications.items() if now >= s.expires_at + RETENTION_SECONDS
            ]:
                del self._verifications[stale]
            self._verifications[verification.verification_id] = verification
        self.log.info(
            "okid sandbox: verification %s created (expires %s)",
            _short(verification.verification_id),
            iso_seconds(verification.expires_at),
        )
        return json_response(
            {
                "verificationId": verification.verification_id,
                "expiresAt": iso_seconds(verification.expires_at),
                "modules": {
                    "document": {"enabled": True, "required": True, "sides": list(SIDES)},
                    "liveness": {"enabled": True, "required": True},
                },
                "flow": list(FLOW),
            }
        )

    def on_details(self, request: Request, verification_id: str) -> Response:
        owner = self._authenticate(request)
        with self._lock:
            details = self._owned(verification_id, owner).details(self._clock())
        return json_response(details)

    def on_image(self, request: Request, kind: str, verification_id: str) -> Response:
        side, redacted = _IMAGE_ENDPOINTS[kind]
        owner = self._authenticate(request)
        with self._lock:
            has_images = self._owned(verification_id, owner).has_images()
        attempt_index = _parse_attempt_index(request.args.get("attempt_index"))
        image_type = request.args.get("image_type", "original")
        if image_type not in IMAGE_TYPES:
            raise SandboxError(400, "image_type must be one of " + ", ".join(IMAGE_TYPES))
        if not has_images or attempt_index != 0:
            raise SandboxError(404, f"No accepted {side} document image for this verification")
        response = Response(document_png(side, redacted, image_type), mimetype="image/png")
        response.headers["Cache-Control"] = "no-store"
        response.headers["Content-Disposition"] = f'inline; filename="{side}_document.png"'
        return response

    # -- the user's side (what okID's portal would do) -----------------------------------------------

    def on_set_outcome(self, request: Request) -> Response:
        verification_id = request.args.get("verification_id", "")
        body = request.get_json(force=True, silent=True)
        now = self._clock()
        with self._lock:
            verification = self._verifications.get(verification_id)
            if verification is None:
                raise SandboxError(404, NOT_FOUND)
            if verification.current(now) == STATUS_EXPIRED:
                raise SandboxError(404, "Verification has expired", "VERIFICATION_EXPIRED")
            outcome, webhook = _parse_outcome(body)
            if outcome not in verification.allowed_outcomes(now):
                raise SandboxError(409, "The outcome of this verification is already set")
            if outcome == OUTCOME_ABANDON:
                verification.abandoned = True
            else:
                if verification.outcome == STATUS_NEEDS_MANUAL_REVIEW:
                    verification.decided_at = int(now)
                verification.outcome = outcome
            verification.updated_at = int(now)
            current = verification.current(now)
            notify = (
                webhook
                and outcome != OUTCOME_ABANDON
                and hmac.compare_digest(verification.owner, self._main_key)
            )
            payload = self._payload(verification, current, now)
        self.log.info("okid sandbox: verification %s: %s -> %s", _short(verification_id), outcome, current)
        url = self.dashboard_webhook_url
        if notify and url is not None:
            self.start_webhook(url, payload, f"{current} for {_short(verification_id)}")
        return json_response({"verification_id": verification_id, "status": current})

    def on_portal(self, request: Request) -> Response:
        verification_id = request.args.get("verification_id", "")
        select = request.args.get("mode") == "select"
        now = self._clock()
        with self._lock:
            verification = self._verifications.get(verification_id)
            if verification is None or verification.current(now) == STATUS_EXPIRED:
                return html_response(NOT_FOUND_PAGE, 404, csp=PAGE_CSP)
            current = verification.current(now)
            allowed = verification.allowed_outcomes(now)
            abandoned = verification.abandoned
            expires_at = verification.expires_at
            return_url = verification.return_url
        direct_url = self.portal_url(verification_id)
        values = {
            "__STATUS__": current,
            "__STATUS_TEXT__": current + (" (abandoned by the user)" if abandoned else ""),
            "__ALLOWED__": " ".join(allowed),
            "__EXPIRES_AT__": iso_seconds(expires_at),
            "__ID__": verification_id,
            "__RETURN_URL__": return_url or "",
            "__SELECT_HIDDEN__": "" if select else " hidden",
            "__QR__": segno.make(direct_url, error="m").svg_data_uri(scale=4) if select else "data:,",
            "__DIRECT_URL__": direct_url,
        }
        return html_response(render(PORTAL_PAGE, values), csp=PAGE_CSP)

    # -- webhooks ------------------------------------------------------------------------------------

    def _payload(self, verification: _Verification, status: str, now: float) -> dict[str, Any]:
        return {
            "event": WEBHOOK_EVENT,
            "verification_id": verification.verification_id,
            "status": status,
            "extra_data": json.loads(json.dumps(verification.extra_data)),
            "timestamp": iso_seconds(now),
        }

    def send_webhook(self, verification_id: str, status: str) -> int | None:
        """Delivers a notification for ``verification_id`` saying ``status`` now, in this thread.

        For tests of duplicate, late or contradictory webhooks: the status is not checked against
        the verification's. Returns the last attempt's HTTP status (None: network error or no URL).
        Raises KeyError for an unknown verification.
        """
        with self._lock:
            verification = self._verifications[verification_id]
            payload = self._payload(verification, status, self._clock())
        url = self.dashboard_webhook_url
        if url is None:
            self.log.info("okid sandbox: no webhook URL set; %s not sent", status)
            return None
        return self.deliver_webhook(url, payload, f"{status} for {_short(verification_id)}")
