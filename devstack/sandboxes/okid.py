"""A local okID v2client sandbox: a WSGI app that follows okID's documented integration contract.

okID's test portal needs a real account, so the devstack serves this one in its place. It implements
the server-to-server calls of ``seeds/okid-v2client.txt`` at ``{public_base_url}``, all authenticated
by the ``X-SDK-Key`` header (no other header, query or fallback key is accepted; the unredacted image
may be served without one, see ``okid_images``):

``POST /api/generate-verification``  optional JSON body ``{"extra_data": {...}, "return_url": "..."}``
    200 ``{"verificationId": "ver_<24 hex>", "expiresAt": "<ISO 8601, Z>", "modules": {...},
    "flow": ["terms", "document", "liveness"]}``
``GET /api/get-verification-details/{id}``
    200 ``{"verification_id", "status": {"current", "updated_at", "progress": {...}}, "results": {...}}``
``GET /api/get-verification-image/{id}`` (redacted front), ``-unredacted/{id}`` (front, watermark only),
``-front/{id}`` and ``-back/{id}`` (the side, unredacted unless ``side_images="redacted"``); query
``attempt_index`` (default 0), ``image_type`` (``original`` or ``cropped``, default ``original``)
    200 ``image/png``

and stands in for the user with the portal page at ``/?verification_id=ID`` (also at ``/verify``,
the path of the document's example journey; ``&mode=select`` adds the "QR code or same device"
choice): ``GET`` shows buttons (ids ``verified``, ``rejected``,
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
* A verification's life (expiry, statuses, abandon) is ``okid_state``'s; verifications are
  forgotten 7 days after ``expiresAt`` (the retention period; then 404).
* Images exist once an outcome is set (``verified``, ``rejected``, ``needs_manual_review``);
  ``okid_images`` says what each endpoint serves. Only ``attempt_index`` 0 exists (another
  non-negative integer is a 404; anything else a 400).
* Webhooks: okID documents none of payload, signature or retries. As its dashboard holds one URL
  per API key, ``dashboard_webhook_url`` (alias ``webhook_url``) is the URL of the main
  ``sdk_key``; verifications of ``extra_sdk_keys`` send none. After each outcome except
  ``abandon`` (unless ``"webhook": false``) a background thread POSTs ``{"event":
  "verification.status_changed", "verification_id", "status", "extra_data", "timestamp"}``
  (unsigned, no redirects followed, no proxy), retrying at most twice on a network error, 429
  or 5xx. Expiry sends none (nothing runs on a timer).
* State is in memory behind a lock. Nothing logs SDK keys; ids are logged by their first
  12 characters and webhook URLs by their first path segments only (the rest is a secret token).

This module is the HTTP side (routes, the portal, webhooks' sending). A verification and what it answers
are ``okid_state``'s, the keys and who may see which verification ``okid_access``'s, the images
``okid_images``' and the portal page ``okid_page``'s.
"""

from __future__ import annotations

import argparse
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from http import HTTPStatus
from typing import Any, ClassVar, Self
from urllib.parse import quote

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from devstack.sandboxes.base import Sandbox, SandboxError, iso_seconds
from devstack.sandboxes.okid_access import ERROR_CODES, NOT_FOUND, Verifications
from devstack.sandboxes.okid_images import (
    IMAGE_ENDPOINTS,
    SIDE_IMAGES,
    ImageReadings,
    image_query,
    image_response,
)
from devstack.sandboxes.okid_page import NOT_FOUND_PAGE, portal_page
from devstack.sandboxes.okid_state import (
    FLOW,
    OUTCOME_ABANDON,
    OUTCOMES,
    STATUS_EXPIRED,
    STATUS_NEEDS_MANUAL_REVIEW,
    STATUS_PENDING,
    STATUS_REJECTED,
    STATUS_VERIFIED,
    WEBHOOK_EVENT,
    Verification,
    parse_generate_body,
    parse_outcome,
)
from devstack.sandboxes.pages import PAGE_CSP, html_response, json_response

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

_ID_LOG_CHARS = 12


def _short(verification_id: str) -> str:
    return verification_id[:_ID_LOG_CHARS] + "..."


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
        side_images: str = "unredacted",
        unredacted_needs_key: bool = True,
    ) -> None:
        """``public_base_url`` is where clients reach this app (the portal page is its root).

        ``extra_sdk_keys`` are other okID customers: a verification answers only to the key that
        created it. ``webhook_url`` (settable later) receives the main key's notifications.
        ``side_images`` and ``unredacted_needs_key`` pick a reading of what okID leaves open about its
        images (``okid_images.ImageReadings``).
        """
        keys = [sdk_key, *extra_sdk_keys]
        if any(not isinstance(key, str) or not key for key in keys):
            raise ValueError("SDK keys must be non-empty strings")
        if verification_ttl_seconds <= 0:
            raise ValueError("verification_ttl_seconds must be positive")
        self.images = ImageReadings(side_images, unredacted_needs_key)
        images = "any(" + ", ".join(f'"{name}"' for name in IMAGE_ENDPOINTS) + ")"
        # The document sends the user to the portal's root, except in its example journey (/verify).
        portal = [
            Rule(path, endpoint=endpoint, methods=[method])
            for path in ("/", "/verify")
            for endpoint, method in (("portal", "GET"), ("set_outcome", "POST"))
        ]
        rules = [
            *portal,
            Rule("/api/generate-verification", endpoint="generate", methods=["POST"]),
            Rule("/api/get-verification-details/<verification_id>", endpoint="details", methods=["GET"]),
            Rule(f"/api/<{images}:kind>/<verification_id>", endpoint="image", methods=["GET"]),
        ]
        super().__init__(public_base_url, rules, clock=clock, dashboard_webhook_url=webhook_url)
        self._sdk_key = sdk_key
        self._ttl = verification_ttl_seconds
        self._verifications = Verifications(sdk_key, extra_sdk_keys)

    # -- registration and configuration ------------------------------------------------------------

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--okid-verification-ttl",
            type=int,
            default=cls.DEFAULT_VERIFICATION_TTL,
            help="seconds an okID verification lives",
        )
        parser.add_argument(
            "--okid-side-images",
            choices=SIDE_IMAGES,
            default="unredacted",
            help="whether okID's -front/-back images are redacted (its document does not say)",
        )
        parser.add_argument(
            "--okid-unredacted-without-key",
            action="store_true",
            help="serve the unredacted image without X-SDK-Key, as okID's code samples do",
        )

    @classmethod
    def from_arguments(cls, public_base_url: str, arguments: Mapping[str, Any]) -> Self:
        ttl = int(arguments.get("okid_verification_ttl", cls.DEFAULT_VERIFICATION_TTL))
        return cls(
            cls.DEV_SDK_KEY,
            public_base_url,
            verification_ttl_seconds=ttl,
            side_images=str(arguments.get("okid_side_images", "unredacted")),
            unredacted_needs_key=not arguments.get("okid_unredacted_without_key", False),
        )

    def credentials(self) -> dict[str, str]:
        return {"sdk_key": self._sdk_key}

    def add_sdk_key(self, sdk_key: str) -> None:
        """Another okID customer's key: its verifications answer only to it (and send no webhook)."""
        with self._lock:
            self._verifications.add_key(sdk_key)

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
        code = error.code or ERROR_CODES.get(error.status) or HTTPStatus(error.status).name
        return {"error": code, "message": error.message}

    def routing_error(self, status: int) -> SandboxError:
        return SandboxError(status, HTTPStatus(status).phrase.capitalize())

    # -- API ----------------------------------------------------------------------------------------

    def on_generate(self, request: Request) -> Response:
        owner = self._verifications.authenticate(request)
        extra_data, return_url = parse_generate_body(request)
        now = self._clock()
        created = int(now)
        verification = Verification(
            verification_id="ver_" + secrets.token_hex(12),
            owner=owner,
            created_at=created,
            expires_at=created + self._ttl,
            extra_data=extra_data,
            return_url=return_url,
            updated_at=created,
        )
        with self._lock:
            self._verifications.add(verification, now)
        self.log.info(
            "okid sandbox: verification %s created (expires %s)",
            _short(verification.verification_id),
            iso_seconds(verification.expires_at),
        )
        return json_response(verification.generated())

    def on_details(self, request: Request, verification_id: str) -> Response:
        owner = self._verifications.authenticate(request)
        with self._lock:
            details = self._verifications.visible_to(verification_id, owner).details(self._clock())
        return json_response(details)

    def on_image(self, request: Request, kind: str, verification_id: str) -> Response:
        side, redacted = self.images.serves(kind)
        keyless = not self.images.needs_key(kind) and not request.headers.get("X-SDK-Key")
        owner = None if keyless else self._verifications.authenticate(request)
        with self._lock:
            has_images = self._verifications.visible_to(verification_id, owner).has_images()
        attempt_index, image_type = image_query(request)
        if not has_images or attempt_index != 0:
            raise SandboxError(404, f"No accepted {side} document image for this verification")
        return image_response(side, redacted, image_type)

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
            outcome, webhook = parse_outcome(body)
            if outcome not in verification.allowed_outcomes(now):
                raise SandboxError(409, "The outcome of this verification is already set")
            verification.set_outcome(outcome, now)
            current = verification.current(now)
            notify = (
                webhook and outcome != OUTCOME_ABANDON and self._verifications.is_main(verification.owner)
            )
            payload = verification.notification(current, now)
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
            page = portal_page(verification, now, self.portal_url(verification_id), select=select)
        return html_response(page, csp=PAGE_CSP)

    # -- webhooks ------------------------------------------------------------------------------------

    def send_webhook(self, verification_id: str, status: str) -> int | None:
        """Delivers a notification for ``verification_id`` saying ``status`` now, in this thread.

        For tests of duplicate, late or contradictory webhooks: the status is not checked against
        the verification's. Returns the last attempt's HTTP status (None: network error or no URL).
        Raises KeyError for an unknown verification.
        """
        with self._lock:
            verification = self._verifications[verification_id]
            payload = verification.notification(status, self._clock())
        url = self.dashboard_webhook_url
        if url is None:
            self.log.info("okid sandbox: no webhook URL set; %s not sent", status)
            return None
        return self.deliver_webhook(url, payload, f"{status} for {_short(verification_id)}")
