"""A local Datakeen IDify sandbox: a WSGI app that follows Datakeen's documented integration contract.

Datakeen's servers need a real account, so the devstack serves this one in their place. It implements
the calls of ``seeds/datakeen-idify.txt`` under ``{public_base_url}/backend``; every call but ``auth``
needs ``Authorization: Basic {token}`` (the word ``Basic``, one space, the token):

``POST /auth``  JSON ``{"username", "password"}``
    200 ``{"status": 200, "data": {"token": "<JWT-shaped token>"}}``
``GET /admin/templates``
    200 ``[{"name", "default", "status", "_id", "createdAt"}, ...]``
``POST /api/v1/session``  JSON, all optional: ``templateId``, ``firstName``, ``lastName``,
``birthDate`` (``dd/mm/yyyy``), ``callbackURL``, ``webhookURL``, ``QR`` (bool)
    200 ``{"status": 200, "message": "Magic Link", "data": {"link", "sessionId", "QRCode"}}``
``GET /api/v1/session/{sessionId}``
    200 ``{"status": 200, "message", "data": {"analysid_id", "job_status", "sessionStatus"}}``

and stands in for the user with the page at ``link`` (``/client/test?sessionId=ID``): ``GET`` shows
buttons (ids ``approved``, ``rejected``, ``review``, ``abandon``), a ``send-webhook`` checkbox and
the birth date the document will show (``birth-date``); while the session is in review it shows the
reviewer's buttons (``approved``, ``rejected``) instead. ``POST`` of JSON ``{"outcome": ...,
"webhook": true|false, "birth_date": "YYYY-MM-DD"}`` does the same for scripted tests.

Behaviour where the document is silent (chosen here, keep clients defensive):

* Errors are JSON ``{"status": code, "message": text}``: 400 (bad body or value, unknown or
  inactive ``templateId``), 401 (wrong credentials; missing, unknown or expired token: checked
  before anything else), 404 (unknown session, or the user acting on an expired one), 405, 409
  (the outcome is already set), 413 (a body over 64 KiB). A non-empty body must be
  ``application/json`` holding an object; ``session`` accepts an empty body.
* The token is JWT-shaped like Datakeen's but is checked by lookup: treat it as opaque. It is
  valid ``token_ttl_seconds`` (24 h) from its issue second; the scheme word ``Basic`` is
  case-insensitive, ``Bearer`` (the v2 API's) and HTTP Basic's ``user:password`` are refused.
* Session ids are 24 lowercase hex digits like Datakeen's (MongoDB-style: the creation second,
  then random). ``QRCode`` is a bare base64 PNG of ``link`` when ``QR`` is true, else ``""``.
  Without ``templateId`` the default template is used; the template does not change the analysis.
* ``sessionStatus`` is ``pending`` until the user's outcome, ``expired`` when
  ``session_ttl_seconds`` (1 h) pass without one (both with ``message`` "Session pending" /
  "Session expired", ``analysid_id: ""`` and ``job_status: null``), then one of Datakeen's
  ``newStatus`` values: ``ai_approved``, ``ai_rejected``, ``verify`` (manual review), and after the
  reviewer ``user_approved`` or ``user_rejected``, with ``message`` "Analysis Completed
  Successfully" and the analysis (see ``datakeen_analysis``). Outcomes do not expire: a reviewer
  may decide after the session's hour. ``abandon`` is the user leaving: final for the page (409
  afterwards), the session stays ``pending`` until it expires and no webhook is sent.
* The analysis shows the session's ``firstName``/``lastName`` (else ``Jean``/``DUPONT``) and the
  page's ``birth_date`` (else the session's ``birthDate``, else 1984-07-11).
* Webhooks (unless ``"webhook": false``), POSTed from a background thread, unsigned, no redirects
  followed, no proxy, retried at most twice on a network error, 429 or 5xx: after the user's
  outcome, ``{"sessionId"}`` to the session's ``webhookURL`` and ``{"sessionId", "newStatus"}``
  to ``dashboard_webhook_url`` (the Datakeen dashboard's webhook, set by the stack); after the
  reviewer's decision, ``{"analysisId", "entityId", "correlationId", "sessionId", "newStatus"}``
  to ``dashboard_webhook_url``, or to the session's ``webhookURL`` when there is none.
  ``correlationId`` is a UUID per session. Expiry sends none (nothing runs on a timer).
* State is in memory behind a lock, for the sandbox's lifetime. Nothing logs the password, tokens,
  names or birth dates; session ids are logged by their first 12 characters and webhook URLs by
  their first path segments only (the rest is a secret token).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import io
import json
import logging
import re
import secrets
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from http.client import HTTPMessage
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import segno
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from devstack.sandboxes.datakeen_analysis import (
    AI_APPROVED,
    AI_REJECTED,
    USER_APPROVED,
    USER_REJECTED,
    VERIFY,
    analysis,
)
from devstack.sandboxes.pages import html_response, key_digest, page

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

__all__ = ["API_PREFIX", "PAGE_PATH", "TEMPLATES", "DatakeenSandbox"]

logger = logging.getLogger(__name__)

API_PREFIX = "/backend"
PAGE_PATH = "/client/test"
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

#: Datakeen's two sample templates (the first ``_id`` made hex) and a retired one.
TEMPLATES: tuple[dict[str, object], ...] = (
    {
        "name": "Vérification Identité avec selfie",
        "default": True,
        "status": "active",
        "_id": "6747253f954e810012b37a0e",
        "createdAt": "2024-11-27T13:57:19.752Z",
    },
    {
        "name": "Vérification Identité et Justificatif de domicile",
        "default": False,
        "status": "active",
        "_id": "6745fcdf34177200112cc345",
        "createdAt": "2024-11-26T16:52:47.731Z",
    },
    {
        "name": "Vérification Identité (ancien parcours)",
        "default": False,
        "status": "inactive",
        "_id": "65f1c2a8e4b0a10012d4c7f0",
        "createdAt": "2024-03-13T15:21:12.408Z",
    },
)
DEFAULT_BIRTH_DATE = date(1984, 7, 11)
DEFAULT_FIRST_NAME = "Jean"
DEFAULT_LAST_NAME = "DUPONT"

MAX_BODY_BYTES = 64 * 1024
MAX_URL_LENGTH = 2048
MAX_NAME_LENGTH = 100
MAX_WEBHOOK_RETRIES = 2
_LOGGED_PATH_SEGMENTS = 3
_ID_LOG_CHARS = 12
_BIRTH_DATE = re.compile(r"([0-9]{2})/([0-9]{2})/([0-9]{4})")
_PAGE_CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


class _RequestError(ValueError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _answer(body: object, status: int = 200) -> Response:
    response = Response(json.dumps(body), status=status, mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response


def _error(status: int, message: str) -> Response:
    return _answer({"status": status, "message": message}, status)


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(int(timestamp), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


_JWT_HEADER = _b64url(b'{"alg":"HS256","typ":"JWT"}')


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


def _short(session_id: str) -> str:
    return session_id[:_ID_LOG_CHARS] + "..."


def _qr_png_base64(text: str) -> str:
    buffer = io.BytesIO()
    segno.make(text, error="m").save(buffer, kind="png", scale=4)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


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


# -- requests ---------------------------------------------------------------------------------------


def _json_object(request: Request, *, empty: bool) -> dict[str, Any]:
    """The request's JSON object body; an empty body is ``{}`` when ``empty`` allows it."""
    too_large = _RequestError(413, f"The body is larger than {MAX_BODY_BYTES} bytes")
    if (request.content_length or 0) > MAX_BODY_BYTES:
        raise too_large
    raw = request.get_data(cache=False)
    if len(raw) > MAX_BODY_BYTES:
        raise too_large
    if not raw.strip() and empty:
        return {}
    if request.mimetype != "application/json":
        raise _RequestError(400, "Content-Type must be application/json")
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise _RequestError(400, "The body is not valid JSON") from exc
    if not isinstance(body, dict):
        raise _RequestError(400, "The body must be a JSON object")
    return body


def _optional_text(body: dict[str, Any], name: str, limit: int = MAX_NAME_LENGTH) -> str | None:
    value = body.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise _RequestError(400, f"{name} must be a string of at most {limit} characters")
    return value.strip() or None


def _optional_url(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None or value == "":
        return None
    if not _is_http_url(value):
        raise _RequestError(400, f"{name} must be an http(s) URL")
    return str(value)


def _declared_birth_date(body: dict[str, Any]) -> date | None:
    value = body.get("birthDate")
    if value is None or value == "":
        return None
    match = _BIRTH_DATE.fullmatch(value) if isinstance(value, str) else None
    try:
        if match is None:
            raise ValueError(value)
        day, month, year = (int(part) for part in match.groups())
        return date(year, month, day)
    except ValueError as exc:
        raise _RequestError(400, "birthDate must be a date as dd/mm/yyyy") from exc


def _page_outcome(body: object, today: date) -> tuple[str, bool, date | None]:
    """(outcome, webhook, birth date or None) from the page's JSON POST."""
    if not isinstance(body, dict):
        raise _RequestError(400, "The body must be a JSON object")
    outcome = body.get("outcome")
    if outcome not in USER_OUTCOMES:
        raise _RequestError(400, "outcome must be one of " + ", ".join(USER_OUTCOMES))
    webhook = body.get("webhook", True)
    if not isinstance(webhook, bool):
        raise _RequestError(400, "webhook must be true or false")
    raw = body.get("birth_date")
    if raw is None:
        return str(outcome), webhook, None
    try:
        if not isinstance(raw, str) or not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", raw):
            raise ValueError(raw)
        birth_date = date.fromisoformat(raw)
        if not date(1900, 1, 1) <= birth_date <= today:
            raise ValueError(raw)
    except ValueError as exc:
        raise _RequestError(400, "birth_date must be a past date as YYYY-MM-DD") from exc
    return str(outcome), webhook, birth_date


# -- state -----------------------------------------------------------------------------------------


@dataclass
class _Session:
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


# -- the sandbox -------------------------------------------------------------------------------------


class DatakeenSandbox:
    """WSGI app standing in for Datakeen IDify (``https://app.datakeen.co``) in the local stack."""

    #: Seconds a webhook request may take.
    webhook_timeout_seconds: float = 5.0
    #: Pauses before each retry of a failed delivery; at most MAX_WEBHOOK_RETRIES are used.
    webhook_retry_delays: tuple[float, ...] = (1.0, 3.0)

    def __init__(
        self,
        username: str,
        password: str,
        public_base_url: str,
        *,
        token_ttl_seconds: int = 86400,
        session_ttl_seconds: int = 3600,
        dashboard_webhook_url: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``public_base_url`` is where clients reach this app (the API is under ``/backend``)."""
        if not username or not password:
            raise ValueError("username and password must be non-empty")
        if token_ttl_seconds <= 0 or session_ttl_seconds <= 0:
            raise ValueError("token_ttl_seconds and session_ttl_seconds must be positive")
        if not _is_http_url(public_base_url):
            raise ValueError("public_base_url must be an http(s) URL")
        self._username = key_digest(username)
        self._password = key_digest(password)
        self._base_url = public_base_url.rstrip("/")
        self._token_ttl = token_ttl_seconds
        self._session_ttl = session_ttl_seconds
        self._clock = clock
        self._signing_key = secrets.token_bytes(32)
        self._account_id = secrets.token_hex(12)
        self._lock = threading.Lock()
        self._tokens: dict[str, int] = {}  # SHA-256 of a token -> the second it expires
        self._sessions: dict[str, _Session] = {}
        self._dashboard_webhook_url: str | None = None
        self.dashboard_webhook_url = dashboard_webhook_url
        self._deliveries: list[tuple[int | None, dict[str, Any]]] = []
        self._senders: set[threading.Thread] = set()
        self._delivery_changed = threading.Condition()
        self._urls = Map(
            [
                Rule(f"{API_PREFIX}/auth", endpoint="auth", methods=["POST"]),
                Rule(f"{API_PREFIX}/admin/templates", endpoint="templates", methods=["GET"]),
                Rule(f"{API_PREFIX}/api/v1/session", endpoint="create", methods=["POST"]),
                Rule(f"{API_PREFIX}/api/v1/session/<session_id>", endpoint="result", methods=["GET"]),
                Rule(PAGE_PATH, endpoint="page", methods=["GET", "POST"]),
            ]
        )

    @property
    def dashboard_webhook_url(self) -> str | None:
        """The webhook URL set in Datakeen's dashboard; None sends no dashboard webhook."""
        return self._dashboard_webhook_url

    @dashboard_webhook_url.setter
    def dashboard_webhook_url(self, url: str | None) -> None:
        if url is not None and not _is_http_url(url):
            raise ValueError("dashboard_webhook_url must be an http(s) URL or None")
        self._dashboard_webhook_url = url

    def session_link(self, session_id: str) -> str:
        return f"{self._base_url}{PAGE_PATH}?sessionId={quote(session_id, safe='')}"

    # -- WSGI ----------------------------------------------------------------------------------------

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        response = self._dispatch(request)
        return response(environ, start_response)

    def _dispatch(self, request: Request) -> Response:
        adapter = self._urls.bind_to_environ(request.environ)
        try:
            endpoint, args = adapter.match()
        except MethodNotAllowed as exc:
            response = _error(405, "Method Not Allowed")
            response.headers["Allow"] = ", ".join(sorted(exc.valid_methods or ()))
            return response
        except HTTPException:
            return _error(404, "Not Found")
        try:
            if endpoint == "auth":
                return self._auth(request)
            if endpoint == "page":
                return self._set_outcome(request) if request.method == "POST" else self._page(request)
            self._check_token(request)
            if endpoint == "templates":
                return _answer([dict(template) for template in TEMPLATES])
            if endpoint == "create":
                return self._create(request)
            return self._result(str(args["session_id"]))
        except _RequestError as exc:
            return _error(exc.status, exc.message)

    # -- API -------------------------------------------------------------------------------------------

    def _auth(self, request: Request) -> Response:
        body = _json_object(request, empty=False)
        username, password = body.get("username"), body.get("password")
        if not isinstance(username, str) or not isinstance(password, str) or not username or not password:
            raise _RequestError(400, "username and password are required")
        user_ok = hmac.compare_digest(key_digest(username), self._username)
        password_ok = hmac.compare_digest(key_digest(password), self._password)
        if not (user_ok and password_ok):
            logger.info("datakeen sandbox: auth refused")
            raise _RequestError(401, "Invalid username or password")
        issued = int(self._clock())
        claims = {
            "_id": self._account_id,
            "role": "api",
            "iat": issued,
            "exp": issued + self._token_ttl,
            "jti": secrets.token_hex(8),
        }
        signed = f"{_JWT_HEADER}.{_b64url(json.dumps(claims, separators=(',', ':')).encode())}"
        signature = hmac.new(self._signing_key, signed.encode("ascii"), hashlib.sha256).digest()
        token = f"{signed}.{_b64url(signature)}"
        with self._lock:
            for stale in [t for t, expires in self._tokens.items() if issued >= expires]:
                del self._tokens[stale]
            self._tokens[key_digest(token)] = issued + self._token_ttl
        logger.info("datakeen sandbox: token issued (valid %d s)", self._token_ttl)
        return _answer({"status": 200, "data": {"token": token}})

    def _check_token(self, request: Request) -> None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if not token:
            raise _RequestError(401, "Missing token")
        with self._lock:
            expires = self._tokens.get(key_digest(token))
        if scheme.lower() != "basic" or expires is None or self._clock() >= expires:
            raise _RequestError(401, "Invalid or expired token")

    def _create(self, request: Request) -> Response:
        body = _json_object(request, empty=True)
        template_id = body.get("templateId")
        if template_id is None or template_id == "":
            template_id = next(str(t["_id"]) for t in TEMPLATES if t["default"])
        template = next((t for t in TEMPLATES if t["_id"] == template_id), None)
        if template is None:
            raise _RequestError(400, "Template not found")
        if template["status"] != "active":
            raise _RequestError(400, "Template is not active")
        qr = body.get("QR", False)
        if not isinstance(qr, bool):
            raise _RequestError(400, "QR must be true or false")
        now = self._clock()
        created = int(now)
        session = _Session(
            session_id=f"{created:08x}{secrets.token_hex(8)}",
            created_at=created,
            expires_at=created + self._session_ttl,
            template_id=str(template_id),
            first_name=_optional_text(body, "firstName"),
            last_name=_optional_text(body, "lastName"),
            birth_date=_declared_birth_date(body),
            callback_url=_optional_url(body, "callbackURL"),
            webhook_url=_optional_url(body, "webhookURL"),
            correlation_id=str(uuid.uuid4()),
        )
        with self._lock:
            self._sessions[session.session_id] = session
        logger.info(
            "datakeen sandbox: session %s created (expires %s)",
            _short(session.session_id),
            _iso(session.expires_at),
        )
        link = self.session_link(session.session_id)
        data = {"link": link, "sessionId": session.session_id, "QRCode": _qr_png_base64(link) if qr else ""}
        return _answer({"status": 200, "message": "Magic Link", "data": data})

    def _result(self, session_id: str) -> Response:
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                raise _RequestError(404, "Session not found")
            return _answer(session.result(self._clock()))

    # -- the user's side (what Datakeen's screens and back office would do) -----------------------------

    def _set_outcome(self, request: Request) -> Response:
        session_id = request.args.get("sessionId", "")
        body = request.get_json(force=True, silent=True)
        now = self._clock()
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                raise _RequestError(404, "Session not found")
            if session.current(now) == EXPIRED:
                raise _RequestError(404, "Session expired")
            outcome, webhook, birth_date = _page_outcome(body, datetime.fromtimestamp(now, UTC).date())
            if outcome not in session.allowed(now):
                raise _RequestError(409, "The outcome of this session is already set")
            reviewed = session.status == VERIFY
            if reviewed:
                if birth_date is not None:
                    raise _RequestError(400, "birth_date is set by the user's outcome, not the reviewer's")
                session.status = DECISIONS[outcome]
            elif outcome == "abandon":
                session.abandoned = True
            else:
                session.status = str(USER_OUTCOMES[outcome])
                session.extracted_birth_date = birth_date
                session.analysis_id = f"{int(now):08x}{secrets.token_hex(8)}"
                session.entity_id = str(uuid.uuid4())
            deliveries = self._webhooks(session, reviewed) if webhook and outcome != "abandon" else []
            current = session.current(now)
        logger.info("datakeen sandbox: session %s: %s -> %s", _short(session_id), outcome, current)
        for url, payload in deliveries:
            self._start_delivery(url, payload)
        data = {"sessionId": session_id, "sessionStatus": current}
        return _answer({"status": 200, "message": "Outcome recorded", "data": data})

    def _page(self, request: Request) -> Response:
        session_id = request.args.get("sessionId", "")
        now = self._clock()
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None or session.current(now) == EXPIRED:
                return html_response(_NOT_FOUND_PAGE, 404, csp=_PAGE_CSP)
            current = session.current(now)
            values = {
                "__STATUS__": current,
                "__STATUS_TEXT__": current + (" (abandoned by the user)" if session.abandoned else ""),
                "__ALLOWED__": " ".join(session.allowed(now)),
                "__REVIEW__": "true" if current == VERIFY else "false",
                "__EXPIRES_AT__": _iso(session.expires_at),
                "__ID__": session_id,
                "__CALLBACK_URL__": session.callback_url or "",
                "__BIRTH_DATE__": (session.birth_date or DEFAULT_BIRTH_DATE).isoformat(),
            }
        rendered = _SESSION_PAGE
        for placeholder, value in values.items():
            rendered = rendered.replace(placeholder, html.escape(value, quote=True))
        return html_response(rendered, csp=_PAGE_CSP)

    # -- webhooks --------------------------------------------------------------------------------------

    def _webhooks(self, session: _Session, reviewed: bool) -> list[tuple[str, dict[str, Any]]]:
        """(URL, body) of each webhook a new status sends. Call with the lock held."""
        dashboard = self._dashboard_webhook_url
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

    @property
    def webhook_deliveries(self) -> list[tuple[int | None, dict[str, Any]]]:
        """One (HTTP status or None for a network error, payload) per delivery attempt, oldest first."""
        with self._delivery_changed:
            return list(self._deliveries)

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

        thread = threading.Thread(target=run, name="datakeen-sandbox-webhook", daemon=True)
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
                "datakeen sandbox: webhook %s for %s to %s -> %s (attempt %d of %d)",
                payload.get("newStatus", "session"),
                _short(str(payload.get("sessionId", ""))),
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
            headers={"Content-Type": "application/json", "User-Agent": "Datakeen-sandbox-webhook/1.0"},
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


# -- pages -----------------------------------------------------------------------------------------------

#: Datakeen's own rules, after pages.BASE_STYLE.
_STYLE = """
  :root { --accent: #0b7a75; }
  main { width: min(30rem, 100% - 2rem); }
  .muted { overflow-wrap: anywhere; }
  input[type=date] { font: inherit; padding: .3rem .5rem; border: 1px solid #8888; border-radius: 6px; }
  .buttons { grid-template-columns: 1fr 1fr; }
  #approved { background: var(--ok); }
  #rejected { background: var(--ko); }
  #review { background: var(--warn); }
  #abandon { background: #666; }
  #step { font-weight: 600; margin: 0 0 1rem; }
  #status { margin: 1rem 0 0; padding: .6rem; border-radius: 6px; background: #8882; font-weight: 600; }
"""

_SESSION_PAGE = page(
    "Datakeen IDify sandbox",
    style=_STYLE,
    body_attributes={"data-status": "__STATUS__", "data-allowed": "__ALLOWED__", "data-review": "__REVIEW__"},
    body="""<main>
  <h1>Datakeen IDify sandbox</h1>
  <p class="muted">Stands in for Datakeen's IDify screens (identity document, selfie) and back office.
  Session <span id="session-id">__ID__</span></p>
  <dl>
    <dt>Expires at</dt><dd id="expires-at">__EXPIRES_AT__</dd>
  </dl>
  <p id="step">The user's capture: choose how the analysis ends.</p>
  <label id="birth-date-field">Birth date on the document
    <input id="birth-date" type="date" value="__BIRTH_DATE__" min="1900-01-01"></label>
  <label><input id="send-webhook" type="checkbox" checked> Send the webhooks</label>
  <div class="buttons">
    <button id="approved" type="button">Approved</button>
    <button id="rejected" type="button">Rejected</button>
    <button id="review" type="button">Manual review</button>
    <button id="abandon" type="button">Abandon</button>
  </div>
  <p id="status" data-status="__STATUS__">__STATUS_TEXT__</p>
  <p id="message" role="alert"></p>
  <p><a id="return-link" href="__CALLBACK_URL__" hidden>Return to the site</a></p>
</main>
<script>
"use strict";
(function () {
  var ids = ["approved", "rejected", "review", "abandon"];
  var buttons = ids.map(function (id) { return document.getElementById(id); });
  var statusEl = document.getElementById("status");
  var message = document.getElementById("message");
  var webhook = document.getElementById("send-webhook");
  var birthDate = document.getElementById("birth-date");
  var returnLink = document.getElementById("return-link");
  var reviewing = document.body.dataset.review === "true";

  // In review the page is the back office: only the reviewer's approve and reject remain.
  function show(allowed, status) {
    reviewing = status === "verify";
    document.getElementById("step").textContent = reviewing
      ? "Back office: the analysis needs a manual review. Decide as the reviewer."
      : "The user's capture: choose how the analysis ends.";
    document.getElementById("birth-date-field").hidden = reviewing || status !== "pending";
    buttons.forEach(function (b) {
      b.hidden = reviewing && (b.id === "review" || b.id === "abandon");
      b.disabled = allowed.indexOf(b.id) < 0;
    });
    returnLink.hidden = !returnLink.getAttribute("href") || status === "pending";
  }

  function allowedAfter(status, outcome) {
    if (outcome === "abandon") { return []; }
    if (status === "pending") { return ids.slice(); }
    if (status === "verify") { return ["approved", "rejected"]; }
    return [];
  }

  function send(outcome) {
    var body = { outcome: outcome, webhook: webhook.checked };
    if (!reviewing && outcome !== "abandon" && birthDate.value) { body.birth_date = birthDate.value; }
    buttons.forEach(function (b) { b.disabled = true; });
    message.textContent = "";
    fetch(window.location.href, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body)
    }).then(function (res) {
      return res.json().then(function (data) { return { status: res.status, data: data }; });
    }).then(function (r) {
      if (r.status === 200) {
        var status = r.data.data.sessionStatus;
        statusEl.textContent = status + (outcome === "abandon" ? " (abandoned by the user)" : "");
        statusEl.dataset.status = status;
        show(allowedAfter(status, outcome), status);
        return;
      }
      message.textContent = r.data.message || "Request failed";
      // 400: fix the birth date and retry; 404 (expired) and 409 (already set) are final.
      show(r.status === 400 ? allowedAfter(statusEl.dataset.status, null) : [], statusEl.dataset.status);
    }).catch(function () {
      message.textContent = "Network error";
      show(allowedAfter(statusEl.dataset.status, null), statusEl.dataset.status);
    });
  }

  buttons.forEach(function (b) { b.addEventListener("click", function () { send(b.id); }); });
  var initial = document.body.dataset.allowed;
  show(initial ? initial.split(" ") : [], document.body.dataset.status);
})();
</script>
""",
)

_NOT_FOUND_PAGE = page(
    "Datakeen IDify sandbox",
    style=_STYLE,
    body="""<main>
  <h1>Datakeen IDify sandbox</h1>
  <p id="not-found">This session is unknown or has expired (a session lasts one hour).
  Start a new verification from the site you came from.</p>
</main>
""",
)
