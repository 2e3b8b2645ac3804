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

This module is the HTTP side (routes, the token check, the page); the state (tokens, sessions, what a
session answers, its webhooks) is in ``datakeen_state``, the readers of request bodies and the templates
in ``datakeen_requests``, the analysis in ``datakeen_analysis`` and the page in ``datakeen_page``.
"""

from __future__ import annotations

import argparse
import hmac
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar, Self
from urllib.parse import quote

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from devstack.sandboxes.base import Sandbox, SandboxError, iso_seconds, json_object, key_digest, qr_png_base64
from devstack.sandboxes.datakeen_analysis import VERIFY
from devstack.sandboxes.datakeen_page import NOT_FOUND_PAGE, session_page
from devstack.sandboxes.datakeen_requests import (
    TEMPLATES,
    declared_birth_date,
    optional_text,
    optional_url,
    page_outcome,
    template_id,
)
from devstack.sandboxes.datakeen_state import (
    DECISIONS,
    EXPIRED,
    USER_OUTCOMES,
    Session,
    Tokens,
    mongo_id,
    webhooks,
)
from devstack.sandboxes.pages import PAGE_CSP, html_response, json_response

__all__ = ["API_PREFIX", "PAGE_PATH", "TEMPLATES", "DatakeenSandbox"]

API_PREFIX = "/backend"
PAGE_PATH = "/client/test"
_ID_LOG_CHARS = 12


def _short(session_id: str) -> str:
    return session_id[:_ID_LOG_CHARS] + "..."


class DatakeenSandbox(Sandbox):
    """WSGI app standing in for Datakeen IDify (``https://app.datakeen.co``) in the local stack."""

    name = "datakeen"
    title = "Datakeen IDify"
    default_port = 3003
    api_path = API_PREFIX
    api_endpoints = frozenset({"auth", "templates", "create", "result"})
    webhook_user_agent = "Datakeen-sandbox-webhook/1.0"
    #: The account ``from_arguments`` gives the sandbox (the local stack's).
    DEV_USERNAME: ClassVar[str] = "datakeen-sandbox"
    DEV_PASSWORD: ClassVar[str] = "datakeen-sandbox-password"  # noqa: S105 - the sandbox's own
    DEFAULT_TOKEN_TTL: ClassVar[int] = 86400
    DEFAULT_SESSION_TTL: ClassVar[int] = 3600

    def __init__(
        self,
        username: str,
        password: str,
        public_base_url: str,
        *,
        token_ttl_seconds: int = DEFAULT_TOKEN_TTL,
        session_ttl_seconds: int = DEFAULT_SESSION_TTL,
        dashboard_webhook_url: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``public_base_url`` is where clients reach this app (the API is under ``/backend``)."""
        if not username or not password:
            raise ValueError("username and password must be non-empty")
        if token_ttl_seconds <= 0 or session_ttl_seconds <= 0:
            raise ValueError("token_ttl_seconds and session_ttl_seconds must be positive")
        rules = [
            Rule(f"{API_PREFIX}/auth", endpoint="auth", methods=["POST"]),
            Rule(f"{API_PREFIX}/admin/templates", endpoint="templates", methods=["GET"]),
            Rule(f"{API_PREFIX}/api/v1/session", endpoint="create", methods=["POST"]),
            Rule(f"{API_PREFIX}/api/v1/session/<session_id>", endpoint="result", methods=["GET"]),
            Rule(PAGE_PATH, endpoint="page", methods=["GET"]),
            Rule(PAGE_PATH, endpoint="set_outcome", methods=["POST"]),
        ]
        super().__init__(public_base_url, rules, clock=clock, dashboard_webhook_url=dashboard_webhook_url)
        self._credentials = {"username": username, "password": password}
        self._username = key_digest(username)
        self._password = key_digest(password)
        self._token_ttl = token_ttl_seconds
        self._session_ttl = session_ttl_seconds
        self._tokens = Tokens(token_ttl_seconds)
        self._sessions: dict[str, Session] = {}

    # -- registration --------------------------------------------------------------------------------

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--datakeen-token-ttl",
            type=int,
            default=cls.DEFAULT_TOKEN_TTL,
            help="seconds a Datakeen token lives",
        )
        parser.add_argument(
            "--datakeen-session-ttl",
            type=int,
            default=cls.DEFAULT_SESSION_TTL,
            help="seconds a Datakeen IDify session lives",
        )

    @classmethod
    def from_arguments(cls, public_base_url: str, arguments: Mapping[str, Any]) -> Self:
        return cls(
            cls.DEV_USERNAME,
            cls.DEV_PASSWORD,
            public_base_url,
            token_ttl_seconds=int(arguments.get("datakeen_token_ttl", cls.DEFAULT_TOKEN_TTL)),
            session_ttl_seconds=int(arguments.get("datakeen_session_ttl", cls.DEFAULT_SESSION_TTL)),
        )

    def credentials(self) -> dict[str, str]:
        return dict(self._credentials)

    def client_settings(self) -> dict[str, str]:
        # idgate renews its token before the documented validity ends and dates a session's end itself.
        return {"TOKEN_TTL_SECONDS": str(self._token_ttl), "SESSION_TTL_SECONDS": str(self._session_ttl)}

    def error_body(self, error: SandboxError) -> Mapping[str, object]:
        return {"status": error.status, "message": error.message}

    def session_link(self, session_id: str) -> str:
        return f"{self.public_base_url}{PAGE_PATH}?sessionId={quote(session_id, safe='')}"

    # -- API -------------------------------------------------------------------------------------------

    def on_auth(self, request: Request) -> Response:
        body = json_object(request)
        username, password = body.get("username"), body.get("password")
        if not isinstance(username, str) or not isinstance(password, str) or not username or not password:
            raise SandboxError(400, "username and password are required")
        user_ok = hmac.compare_digest(key_digest(username), self._username)
        password_ok = hmac.compare_digest(key_digest(password), self._password)
        if not (user_ok and password_ok):
            self.log.info("datakeen sandbox: auth refused")
            raise SandboxError(401, "Invalid username or password")
        with self._lock:
            token = self._tokens.issue(self._clock())
        self.log.info("datakeen sandbox: token issued (valid %d s)", self._token_ttl)
        return json_response({"status": 200, "data": {"token": token}})

    def _check_token(self, request: Request) -> None:
        """A 401 unless the request has ``Authorization: Basic {token}`` with a live token."""
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if not token:
            raise SandboxError(401, "Missing token")
        with self._lock:
            valid = self._tokens.valid(token, self._clock())
        if scheme.lower() != "basic" or not valid:
            raise SandboxError(401, "Invalid or expired token")

    def on_templates(self, request: Request) -> Response:
        self._check_token(request)
        return json_response([dict(template) for template in TEMPLATES])

    def on_create(self, request: Request) -> Response:
        self._check_token(request)
        body = json_object(request, empty_ok=True)
        chosen_template = template_id(body)
        qr = body.get("QR", False)
        if not isinstance(qr, bool):
            raise SandboxError(400, "QR must be true or false")
        now = self._clock()
        session = Session(
            session_id=mongo_id(now),
            created_at=int(now),
            expires_at=int(now) + self._session_ttl,
            template_id=chosen_template,
            first_name=optional_text(body, "firstName"),
            last_name=optional_text(body, "lastName"),
            birth_date=declared_birth_date(body),
            callback_url=optional_url(body, "callbackURL"),
            webhook_url=optional_url(body, "webhookURL"),
            correlation_id=str(uuid.uuid4()),
        )
        with self._lock:
            self._sessions[session.session_id] = session
        self.log.info(
            "datakeen sandbox: session %s created (expires %s)",
            _short(session.session_id),
            iso_seconds(session.expires_at),
        )
        link = self.session_link(session.session_id)
        data = {"link": link, "sessionId": session.session_id, "QRCode": qr_png_base64(link) if qr else ""}
        return json_response({"status": 200, "message": "Magic Link", "data": data})

    def on_result(self, request: Request, session_id: str) -> Response:
        self._check_token(request)
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                raise SandboxError(404, "Session not found")
            return json_response(session.result(self._clock()))

    # -- the user's side (what Datakeen's screens and back office would do) -----------------------------

    def on_set_outcome(self, request: Request) -> Response:
        session_id = request.args.get("sessionId", "")
        body = request.get_json(force=True, silent=True)
        now = self._clock()
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                raise SandboxError(404, "Session not found")
            if session.current(now) == EXPIRED:
                raise SandboxError(404, "Session expired")
            outcome, webhook, birth_date = page_outcome(body, datetime.fromtimestamp(now, UTC).date())
            if outcome not in session.allowed(now):
                raise SandboxError(409, "The outcome of this session is already set")
            reviewed = session.status == VERIFY
            if reviewed:
                if birth_date is not None:
                    raise SandboxError(400, "birth_date is set by the user's outcome, not the reviewer's")
                session.status = DECISIONS[outcome]
            elif outcome == "abandon":
                session.abandoned = True
            else:
                session.status = str(USER_OUTCOMES[outcome])
                session.extracted_birth_date = birth_date
                session.analysis_id = mongo_id(now)
                session.entity_id = str(uuid.uuid4())
            deliveries = []
            if webhook and outcome != "abandon":
                deliveries = webhooks(session, reviewed, self.dashboard_webhook_url)
            current = session.current(now)
        self.log.info("datakeen sandbox: session %s: %s -> %s", _short(session_id), outcome, current)
        for url, payload in deliveries:
            about = f"{payload.get('newStatus', 'session')} for {_short(session_id)}"
            self.start_webhook(url, payload, about)
        data = {"sessionId": session_id, "sessionStatus": current}
        return json_response({"status": 200, "message": "Outcome recorded", "data": data})

    def on_page(self, request: Request) -> Response:
        session_id = request.args.get("sessionId", "")
        now = self._clock()
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None or session.current(now) == EXPIRED:
                return html_response(NOT_FOUND_PAGE, 404, csp=PAGE_CSP)
            page = session_page(session, now)
        return html_response(page, csp=PAGE_CSP)
