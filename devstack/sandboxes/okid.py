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
  per API key, ``webhook_url`` is the URL of the main ``sdk_key``; verifications of
  ``extra_sdk_keys`` send none. After each outcome except ``abandon`` (unless ``"webhook": false``)
  a background thread POSTs ``{"event": "verification.status_changed", "verification_id",
  "status", "extra_data", "timestamp"}`` (unsigned, no redirects followed, no proxy), retrying
  at most twice on a network error, 429 or 5xx. Expiry sends none (nothing runs on a timer).
* State is in memory behind a lock. Nothing logs SDK keys; ids are logged by their first
  12 characters and webhook URLs by their first path segments only (the rest is a secret token).
"""

from __future__ import annotations

import hmac
import html
import json
import logging
import re
import secrets
import struct
import threading
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from http.client import HTTPMessage
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import segno
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from devstack.sandboxes.pages import html_response, json_response, key_digest, page

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

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

logger = logging.getLogger(__name__)

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
MAX_BODY_BYTES = 64 * 1024
MAX_URL_LENGTH = 2048
#: Attempts are 1 + at most this many retries.
MAX_WEBHOOK_RETRIES = 2

_LOGGED_PATH_SEGMENTS = 3
_ID_LOG_CHARS = 12

INVALID_API_KEY = ("INVALID_API_KEY", "Invalid API key provided")
FORBIDDEN = ("FORBIDDEN", "API key does not have access to this verification")
NOT_FOUND = ("NOT_FOUND", "Verification not found")
EXPIRED = ("VERIFICATION_EXPIRED", "Verification has expired")


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(int(timestamp), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _error(error: tuple[str, str], status: int) -> Response:
    return json_response({"error": error[0], "message": error[1]}, status)


def _bad_request(message: str) -> Response:
    return _error(("INVALID_REQUEST", message), 400)


_PAGE_CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def _is_http_url(value: object) -> bool:
    if not isinstance(value, str) or not value or len(value) > MAX_URL_LENGTH:
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _loggable_path(url: str) -> str:
    """The URL's path with everything after its first segments masked (it may hold a secret token)."""
    segments = [s for s in urlsplit(url).path.split("/") if s]
    kept = segments[: min(_LOGGED_PATH_SEGMENTS, max(0, len(segments) - 1))]
    masked = "/***" if len(segments) > len(kept) else ""
    return "/" + "/".join(kept) + masked if kept else masked or "/"


def _short(verification_id: str) -> str:
    return verification_id[:_ID_LOG_CHARS] + "..."


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A webhook is not followed elsewhere: a 3xx is the delivery's answer."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        return None


# No proxy: the devstack's receivers are on this machine.
_WEBHOOK_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


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
            "status": {"current": current, "updated_at": _iso(updated_at), "progress": progress},
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
            results["review"] = {"decision": self.outcome, "decided_at": _iso(self.decided_at)}
        return results


class _RequestError(ValueError):
    def __init__(self, status: int, error: tuple[str, str]) -> None:
        super().__init__(error[1])
        self.status = status
        self.error = error


def _parse_generate_body(request: Request) -> tuple[dict[str, Any], str | None]:
    """(extra_data, return_url) from the optional body of ``generate-verification``."""
    too_large = _RequestError(413, ("PAYLOAD_TOO_LARGE", f"The body is larger than {MAX_BODY_BYTES} bytes"))
    if (request.content_length or 0) > MAX_BODY_BYTES:
        raise too_large
    raw = request.get_data(cache=False)
    if len(raw) > MAX_BODY_BYTES:
        raise too_large
    if not raw.strip():
        return {}, None
    if request.mimetype != "application/json":
        raise _RequestError(400, ("INVALID_REQUEST", "Content-Type must be application/json"))
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise _RequestError(400, ("INVALID_REQUEST", "The body is not valid JSON")) from exc
    if not isinstance(body, dict):
        raise _RequestError(400, ("INVALID_REQUEST", "The body must be a JSON object"))
    extra_data = body.get("extra_data", {})
    if extra_data is None:
        extra_data = {}
    if not isinstance(extra_data, dict):
        raise _RequestError(400, ("INVALID_REQUEST", "extra_data must be an object"))
    return_url = body.get("return_url")
    if return_url is not None and not _is_http_url(return_url):
        raise _RequestError(400, ("INVALID_REQUEST", "return_url must be an http(s) URL"))
    return extra_data, return_url


def _parse_attempt_index(raw: str | None) -> int:
    if raw is None:
        return 0
    if not re.fullmatch(r"[0-9]{1,6}", raw):
        raise _RequestError(400, ("INVALID_REQUEST", "attempt_index must be a non-negative integer"))
    return int(raw)


def _parse_outcome(body: object) -> tuple[str, bool]:
    if not isinstance(body, dict):
        raise _RequestError(400, ("INVALID_REQUEST", "The body must be a JSON object"))
    outcome = body.get("outcome")
    if outcome not in OUTCOMES:
        raise _RequestError(400, ("INVALID_REQUEST", "outcome must be one of " + ", ".join(OUTCOMES)))
    webhook = body.get("webhook", True)
    if not isinstance(webhook, bool):
        raise _RequestError(400, ("INVALID_REQUEST", "webhook must be true or false"))
    return str(outcome), webhook


# -- the sandbox ---------------------------------------------------------------------------------


class OkidSandbox:
    """WSGI app standing in for okID's v2client portal (``https://verify.test.okid.io``)."""

    #: Seconds a webhook request may take.
    webhook_timeout_seconds: float = 5.0
    #: Pauses before each retry of a failed delivery; at most MAX_WEBHOOK_RETRIES are used.
    webhook_retry_delays: tuple[float, ...] = (1.0, 3.0)

    def __init__(
        self,
        sdk_key: str,
        public_base_url: str,
        *,
        webhook_url: str | None = None,
        verification_ttl_seconds: int = 1800,
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
        if not _is_http_url(public_base_url):
            raise ValueError("public_base_url must be an http(s) URL")
        self._main_key = key_digest(sdk_key)
        self._key_digests = [key_digest(key) for key in keys]
        self._base_url = public_base_url.rstrip("/")
        self._ttl = verification_ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._verifications: dict[str, _Verification] = {}
        self._webhook_url: str | None = None
        self.webhook_url = webhook_url
        self._deliveries: list[tuple[int | None, dict[str, Any]]] = []
        self._senders: set[threading.Thread] = set()
        self._delivery_changed = threading.Condition()
        self._urls = Map(
            [
                Rule("/", endpoint="portal", methods=["GET", "POST"]),
                Rule("/api/generate-verification", endpoint="generate", methods=["POST"]),
                Rule("/api/get-verification-details/<verification_id>", endpoint="details", methods=["GET"]),
                *(
                    Rule(f"/api/{name}/<verification_id>", endpoint=name, methods=["GET"])
                    for name in _IMAGE_ENDPOINTS
                ),
            ]
        )

    # -- configuration ---------------------------------------------------------------------------

    @property
    def webhook_url(self) -> str | None:
        """The main key's webhook URL, as set in okID's dashboard; None sends nothing."""
        return self._webhook_url

    @webhook_url.setter
    def webhook_url(self, url: str | None) -> None:
        if url is not None and not _is_http_url(url):
            raise ValueError("webhook_url must be an http(s) URL or None")
        self._webhook_url = url

    @property
    def public_base_url(self) -> str:
        return self._base_url

    def portal_url(self, verification_id: str, *, select: bool = False) -> str:
        url = f"{self._base_url}/?verification_id={quote(verification_id, safe='')}"
        return url + "&mode=select" if select else url

    # -- WSGI --------------------------------------------------------------------------------------

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        response = self._dispatch(request)
        return response(environ, start_response)

    def _dispatch(self, request: Request) -> Response:
        adapter = self._urls.bind_to_environ(request.environ)
        try:
            endpoint, args = adapter.match()
        except MethodNotAllowed as exc:
            response = _error(("METHOD_NOT_ALLOWED", "Method not allowed"), 405)
            response.headers["Allow"] = ", ".join(sorted(exc.valid_methods or ()))
            return response
        except HTTPException:
            return _error(("NOT_FOUND", "Not found"), 404)
        try:
            if endpoint == "generate":
                return self._generate(request)
            if endpoint == "details":
                return self._details(request, str(args["verification_id"]))
            if endpoint in _IMAGE_ENDPOINTS:
                side, redacted = _IMAGE_ENDPOINTS[endpoint]
                return self._image(request, str(args["verification_id"]), side, redacted)
            if request.method == "POST":
                return self._set_outcome(request)
            return self._page(request)
        except _RequestError as exc:
            return _error(exc.error, exc.status)

    # -- helpers -----------------------------------------------------------------------------------

    def _authenticate(self, request: Request) -> str:
        """The digest of the request's ``X-SDK-Key`` if it is a known key (else a 401)."""
        given = request.headers.get("X-SDK-Key", "")
        if given:
            digest = key_digest(given)
            for known in self._key_digests:
                if hmac.compare_digest(digest, known):
                    return known
        raise _RequestError(401, INVALID_API_KEY)

    def _owned(self, verification_id: str, owner: str) -> _Verification:
        """The verification if ``owner`` created it (else a 404 or 403). Call with the lock held."""
        verification = self._verifications.get(verification_id)
        if verification is None:
            raise _RequestError(404, NOT_FOUND)
        if not hmac.compare_digest(verification.owner, owner):
            raise _RequestError(403, FORBIDDEN)
        return verification

    # -- API ----------------------------------------------------------------------------------------

    def _generate(self, request: Request) -> Response:
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
        logger.info(
            "okid sandbox: verification %s created (expires %s)",
            _short(verification.verification_id),
            _iso(verification.expires_at),
        )
        return json_response(
            {
                "verificationId": verification.verification_id,
                "expiresAt": _iso(verification.expires_at),
                "modules": {
                    "document": {"enabled": True, "required": True, "sides": list(SIDES)},
                    "liveness": {"enabled": True, "required": True},
                },
                "flow": list(FLOW),
            }
        )

    def _details(self, request: Request, verification_id: str) -> Response:
        owner = self._authenticate(request)
        with self._lock:
            details = self._owned(verification_id, owner).details(self._clock())
        return json_response(details)

    def _image(self, request: Request, verification_id: str, side: str, redacted: bool) -> Response:
        owner = self._authenticate(request)
        with self._lock:
            has_images = self._owned(verification_id, owner).has_images()
        attempt_index = _parse_attempt_index(request.args.get("attempt_index"))
        image_type = request.args.get("image_type", "original")
        if image_type not in IMAGE_TYPES:
            raise _RequestError(
                400, ("INVALID_REQUEST", "image_type must be one of " + ", ".join(IMAGE_TYPES))
            )
        if not has_images or attempt_index != 0:
            raise _RequestError(
                404, ("NOT_FOUND", f"No accepted {side} document image for this verification")
            )
        response = Response(_document_png(side, redacted, image_type), mimetype="image/png")
        response.headers["Cache-Control"] = "no-store"
        response.headers["Content-Disposition"] = f'inline; filename="{side}_document.png"'
        return response

    # -- the user's side (what okID's portal would do) -----------------------------------------------

    def _set_outcome(self, request: Request) -> Response:
        verification_id = request.args.get("verification_id", "")
        body = request.get_json(force=True, silent=True)
        now = self._clock()
        with self._lock:
            verification = self._verifications.get(verification_id)
            if verification is None:
                raise _RequestError(404, NOT_FOUND)
            if verification.current(now) == STATUS_EXPIRED:
                raise _RequestError(404, EXPIRED)
            outcome, webhook = _parse_outcome(body)
            if outcome not in verification.allowed_outcomes(now):
                raise _RequestError(409, ("CONFLICT", "The outcome of this verification is already set"))
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
        logger.info("okid sandbox: verification %s: %s -> %s", _short(verification_id), outcome, current)
        url = self._webhook_url
        if notify and url is not None:
            self._start_delivery(url, payload)
        return json_response({"verification_id": verification_id, "status": current})

    def _page(self, request: Request) -> Response:
        verification_id = request.args.get("verification_id", "")
        select = request.args.get("mode") == "select"
        now = self._clock()
        with self._lock:
            verification = self._verifications.get(verification_id)
            if verification is None or verification.current(now) == STATUS_EXPIRED:
                return html_response(_NOT_FOUND_PAGE, 404, csp=_PAGE_CSP)
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
            "__EXPIRES_AT__": _iso(expires_at),
            "__ID__": verification_id,
            "__RETURN_URL__": return_url or "",
            "__SELECT_HIDDEN__": "" if select else " hidden",
            "__QR__": segno.make(direct_url, error="m").svg_data_uri(scale=4) if select else "data:,",
            "__DIRECT_URL__": direct_url,
        }
        rendered = _PORTAL_PAGE
        for placeholder, value in values.items():
            rendered = rendered.replace(placeholder, html.escape(value, quote=True))
        return html_response(rendered, csp=_PAGE_CSP)

    # -- webhooks ------------------------------------------------------------------------------------

    def _payload(self, verification: _Verification, status: str, now: float) -> dict[str, Any]:
        return {
            "event": WEBHOOK_EVENT,
            "verification_id": verification.verification_id,
            "status": status,
            "extra_data": json.loads(json.dumps(verification.extra_data)),
            "timestamp": _iso(now),
        }

    @property
    def webhook_deliveries(self) -> list[tuple[int | None, dict[str, Any]]]:
        """One (HTTP status or None for a network error, payload) per delivery attempt, oldest first."""
        with self._delivery_changed:
            return list(self._deliveries)

    def send_webhook(self, verification_id: str, status: str) -> int | None:
        """Delivers a notification for ``verification_id`` saying ``status`` now, in this thread.

        For tests of duplicate, late or contradictory webhooks: the status is not checked against
        the verification's. Returns the last attempt's HTTP status (None: network error or no URL).
        Raises KeyError for an unknown verification.
        """
        with self._lock:
            verification = self._verifications[verification_id]
            payload = self._payload(verification, status, self._clock())
        url = self._webhook_url
        if url is None:
            logger.info("okid sandbox: no webhook URL set; %s not sent", status)
            return None
        return self._deliver(url, payload)

    def wait_for_webhooks(self, count: int, timeout: float = 5.0) -> list[tuple[int | None, dict[str, Any]]]:
        """Waits until at least ``count`` delivery attempts are recorded; raises TimeoutError."""
        with self._delivery_changed:
            if not self._delivery_changed.wait_for(lambda: len(self._deliveries) >= count, timeout):
                raise TimeoutError(f"{len(self._deliveries)} of {count} webhook attempts after {timeout} s")
            return list(self._deliveries)

    def flush_webhooks(self, timeout: float = 10.0) -> None:
        """Waits until no background delivery is running; raises TimeoutError."""
        with self._delivery_changed:
            if not self._delivery_changed.wait_for(lambda: not self._senders, timeout):
                raise TimeoutError(f"{len(self._senders)} webhook deliveries still running after {timeout} s")

    def _start_delivery(self, url: str, payload: dict[str, Any]) -> None:
        def run() -> None:
            try:
                self._deliver(url, payload)
            finally:
                with self._delivery_changed:
                    self._senders.discard(thread)
                    self._delivery_changed.notify_all()

        thread = threading.Thread(target=run, name="okid-sandbox-webhook", daemon=True)
        with self._delivery_changed:
            self._senders.add(thread)
        thread.start()

    def _deliver(self, url: str, payload: dict[str, Any]) -> int | None:
        delays = tuple(self.webhook_retry_delays)[:MAX_WEBHOOK_RETRIES]
        attempts = 1 + len(delays)
        path = _loggable_path(url)
        status: int | None = None
        for attempt in range(1, attempts + 1):
            if attempt > 1:
                time.sleep(max(0.0, delays[attempt - 2]))
            status = self._post(url, payload)
            with self._delivery_changed:
                self._deliveries.append((status, payload))
                self._delivery_changed.notify_all()
            logger.info(
                "okid sandbox: webhook %s for %s to %s -> %s (attempt %d of %d)",
                payload.get("status"),
                _short(str(payload.get("verification_id", ""))),
                path,
                "network error" if status is None else status,
                attempt,
                attempts,
            )
            if status is not None and status != 429 and status < 500:
                break
        return status

    def _post(self, url: str, payload: dict[str, Any]) -> int | None:
        request = urllib.request.Request(  # noqa: S310 - the URL's scheme is checked to be http(s)
            url,
            data=json.dumps(payload).encode("utf-8"),
            method="POST",
            headers={"Content-Type": "application/json", "User-Agent": "okID-sandbox-webhook/1.0"},
        )
        try:
            with _WEBHOOK_OPENER.open(request, timeout=self.webhook_timeout_seconds) as answer:
                answer.read(65536)
                return int(answer.status)
        except urllib.error.HTTPError as exc:
            exc.close()
            return int(exc.code)
        except (OSError, ValueError):
            return None


# -- images --------------------------------------------------------------------------------------------

_Colour = tuple[int, int, int]


class _Canvas:
    def __init__(self, width: int, height: int, colour: _Colour) -> None:
        self.width = width
        self.height = height
        self.pixels = bytearray(bytes(colour) * (width * height))

    def rect(self, x: int, y: int, width: int, height: int, colour: _Colour) -> None:
        x0, x1 = max(0, x), min(self.width, x + width)
        if x1 <= x0:
            return
        row = bytes(colour) * (x1 - x0)
        for line in range(max(0, y), min(self.height, y + height)):
            start = (line * self.width + x0) * 3
            self.pixels[start : start + len(row)] = row

    def paste(self, other: _Canvas, x: int, y: int) -> None:
        for line in range(other.height):
            source = other.pixels[line * other.width * 3 : (line + 1) * other.width * 3]
            start = ((y + line) * self.width + x) * 3
            self.pixels[start : start + len(source)] = source

    def png(self, description: str) -> bytes:
        def chunk(kind: bytes, data: bytes) -> bytes:
            return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

        stride = self.width * 3
        raw = b"".join(
            b"\x00" + bytes(self.pixels[line * stride : (line + 1) * stride]) for line in range(self.height)
        )
        header = struct.pack(">IIBBBBB", self.width, self.height, 8, 2, 0, 0, 0)
        return (
            b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", header)
            + chunk(b"tEXt", b"Description\x00" + description.encode("latin-1"))
            + chunk(b"IDAT", zlib.compress(raw, 9))
            + chunk(b"IEND", b"")
        )


_INK: _Colour = (55, 60, 70)
_BLACK: _Colour = (0, 0, 0)


@lru_cache(maxsize=16)
def _document_png(side: str, redacted: bool, image_type: str) -> bytes:
    """A made-up ID card side: portrait and fields on the front, barcode and MRZ on the back."""
    card = _Canvas(172, 108, (219, 233, 246) if side == "front" else (226, 241, 224))
    if side == "front":
        card.rect(0, 0, 172, 14, (40, 90, 160))
        card.rect(10, 24, 40, 52, _BLACK if redacted else (150, 155, 165))  # portrait
        for line in range(5):
            card.rect(
                58, 26 + line * 12, 100 - line * 9, 5 if not redacted else 8, _BLACK if redacted else _INK
            )
    else:
        for stripe in range(0, 150, 4):
            card.rect(10 + stripe, 10, 2 + (stripe // 4) % 2, 34, _INK)  # barcode
        for line in range(3):
            card.rect(10, 66 + line * 12, 152, 6, _INK)  # MRZ
        if redacted:
            card.rect(6, 62, 160, 40, _BLACK)
    if not redacted:
        for y in range(card.height):  # the watermark: a red diagonal band
            centre = y * card.width // card.height
            card.rect(centre - 3, y, 6, 1, (205, 60, 60))
    if image_type == "cropped":
        canvas = card
    else:
        canvas = _Canvas(card.width + 32, card.height + 32, (96, 96, 96))
        canvas.paste(card, 16, 16)
    view = "redacted" if redacted else "unredacted"
    return canvas.png(f"okID sandbox {side.upper()} {view} {image_type}")


# -- pages -----------------------------------------------------------------------------------------------

#: okID's own rules, after pages.BASE_STYLE.
_STYLE = """
  :root { --accent: #2f6fde; }
  main { width: min(30rem, 100% - 2rem); }
  .muted { overflow-wrap: anywhere; }
  #select-mode { margin: 0 0 1rem; padding: .75rem; border: 1px dashed #8888; border-radius: 8px; }
  #select-mode img { display: block; margin: .5rem auto; background: #fff; }
  .buttons { grid-template-columns: 1fr 1fr; }
  #verified { background: var(--ok); }
  #rejected { background: var(--ko); }
  #needs_manual_review { background: var(--warn); }
  #abandon { background: #666; }
  #status { margin: 1rem 0 0; padding: .6rem; border-radius: 6px; background: #8882; font-weight: 600; }
"""

_PORTAL_PAGE = page(
    "okID sandbox",
    style=_STYLE,
    body_attributes={"data-status": "__STATUS__", "data-allowed": "__ALLOWED__"},
    body="""<main>
  <h1>okID sandbox</h1>
  <p class="muted">Stands in for okID's verification portal (terms, document, liveness).
  Verification <span id="verification-id">__ID__</span></p>
  <section id="select-mode"__SELECT_HIDDEN__>
    <p>Choose how to continue: scan this QR code with your phone, or continue on this device.</p>
    <img id="qr" alt="QR code of this verification" src="__QR__">
    <a id="same-device" href="__DIRECT_URL__">Continue on this device</a>
  </section>
  <dl>
    <dt>Expires at</dt><dd id="expires-at">__EXPIRES_AT__</dd>
  </dl>
  <label><input id="send-webhook" type="checkbox" checked> Send the webhook</label>
  <div class="buttons">
    <button id="verified" type="button">Verified</button>
    <button id="rejected" type="button">Rejected</button>
    <button id="needs_manual_review" type="button">Needs manual review</button>
    <button id="abandon" type="button">Abandon</button>
  </div>
  <p id="status" data-status="__STATUS__">__STATUS_TEXT__</p>
  <p id="message" role="alert"></p>
  <p><a id="return-link" href="__RETURN_URL__" hidden>Return to the site</a></p>
</main>
<script>
"use strict";
(function () {
  var ids = ["verified", "rejected", "needs_manual_review", "abandon"];
  var buttons = ids.map(function (id) { return document.getElementById(id); });
  var statusEl = document.getElementById("status");
  var message = document.getElementById("message");
  var webhook = document.getElementById("send-webhook");
  var returnLink = document.getElementById("return-link");

  function allow(allowed) {
    buttons.forEach(function (b) { b.disabled = allowed.indexOf(b.id) < 0; });
    var done = allowed.length === 0 || allowed.indexOf("abandon") < 0;
    returnLink.hidden = !returnLink.getAttribute("href") || !done;
  }

  function allowedAfter(status, outcome) {
    if (outcome === "abandon") { return []; }
    if (status === "pending") { return ids.slice(); }
    if (status === "needs_manual_review") { return ["verified", "rejected"]; }
    return [];
  }

  function send(outcome) {
    allow([]);
    message.textContent = "";
    fetch(window.location.href, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ outcome: outcome, webhook: webhook.checked })
    }).then(function (res) {
      return res.json().then(function (data) { return { status: res.status, data: data }; });
    }).then(function (r) {
      if (r.status === 200) {
        statusEl.textContent = r.data.status + (outcome === "abandon" ? " (abandoned by the user)" : "");
        statusEl.dataset.status = r.data.status;
        allow(allowedAfter(r.data.status, outcome));
        return;
      }
      message.textContent = r.data.message || r.data.error || "Request failed";
    }).catch(function () {
      message.textContent = "Network error";
      allow(allowedAfter(statusEl.dataset.status, null));
    });
  }

  buttons.forEach(function (b) { b.addEventListener("click", function () { send(b.id); }); });
  var initial = document.body.dataset.allowed;
  allow(initial ? initial.split(" ") : []);
})();
</script>
""",
)

_NOT_FOUND_PAGE = page(
    "okID sandbox",
    style=_STYLE,
    body="""<main>
  <h1>okID sandbox</h1>
  <p id="not-found">This verification is unknown or has expired.
  Start a new verification from the site you came from.</p>
</main>
""",
)
