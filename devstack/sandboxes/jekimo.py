"""A local Jekimo sandbox: a WSGI app that follows Jekimo's documented integration contract.

Jekimo documents no sandbox, so the devstack serves this one in its place. It implements the
two server-side calls of ``seeds/jekimo.txt`` under ``{public_base_url}/app.php/v1.1``:

``POST /auth/gettoken``  headers ``x-api-key``, optional ``min-age`` and ``two-af`` (``true``/``false``)
    200 ``{"token": <64 hex>, "timestamp": <unix s>, "qrcode": <base64 PNG>, "url": <login page>}``
``POST /auth/check``     headers ``x-api-key``, ``token``
    200 ``{"status": "created"|"OK"|"KO", "risk": bool, "pin": int}``

and stands in for the user's phone with the login page that ``url`` points to
(``/app.php/v1.1/en/user/login/<token>``): ``GET`` shows buttons (Approve, Approve with risk,
Decline), ``POST`` with JSON sets the outcome (``{"outcome": "approved"|"declined", "risk": bool,
"pin": 293812}``) for scripted tests.

Behaviour where the document is silent (chosen here, keep clients defensive):

* Errors keep Jekimo's documented body ``{"error": "..."}``. ``Invalid API key`` (wrong, missing, or
  the PHP sample's ``x-apy-key`` header) and ``Invalid Token`` (missing, unknown, another key's,
  or expired) are both HTTP 401; the API key is checked first. A malformed ``min-age`` (not an
  integer 1-99) or ``two-af`` (not ``true``/``false``) is a 400. ``min-age``/``two-af`` are read
  from the headers only, as in the document's curl example (``two-fa``/``twoaf`` are ignored).
* A token is valid while ``now - timestamp <= token_ttl_seconds`` (120 s by default); after that
  ``check`` answers ``Invalid Token`` even when an outcome was set, and the login page is a 404.
* ``pin`` is a 6-digit number only when the token asked ``two-af: true`` and the outcome flags
  ``risk`` (Approve with risk, and Decline, which always has ``risk: true``); otherwise 0.
* An outcome is set once (409 afterwards), only while the token is valid (404 otherwise).
* State is in memory behind a lock; expired tokens are dropped on the next ``gettoken``.
  Nothing logs API keys or PINs; tokens are logged by their first 8 characters only.
"""

from __future__ import annotations

import base64
import hmac
import html
import io
import json
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import segno
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from devstack.sandboxes.pages import html_response, json_response, key_digest, page

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

__all__ = ["API_PREFIX", "JekimoSandbox"]

logger = logging.getLogger(__name__)

API_PREFIX = "/app.php/v1.1"

INVALID_API_KEY = "Invalid API key"
INVALID_TOKEN = "Invalid Token"  # noqa: S105 - an error message, not a secret

STATUS_CREATED = "created"
STATUS_OK = "OK"
STATUS_KO = "KO"

MIN_AGE_RANGE = (1, 99)
PIN_RANGE = (100_000, 999_999)
_PIN_TEXT = re.compile(r"[1-9][0-9]{5}")


@dataclass
class _TokenState:
    """One authorization session, as Jekimo would hold it."""

    token: str
    timestamp: int
    owner: str  # SHA-256 of the API key that created it (the key itself is not kept per token)
    min_age: int | None
    two_factor: bool
    status: str = STATUS_CREATED
    risk: bool = False
    pin: int = 0

    def answer(self) -> dict[str, object]:
        return {"status": self.status, "risk": self.risk, "pin": self.pin}


class _BadRequestError(ValueError):
    """A request value the sandbox refuses (answered with HTTP 400)."""


def _random_pin() -> int:
    low, high = PIN_RANGE
    return low + secrets.randbelow(high - low + 1)


def _qr_png_base64(text: str) -> str:
    buffer = io.BytesIO()
    segno.make(text).save(buffer, kind="png", scale=4)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _parse_min_age(raw: str | None) -> int | None:
    if raw is None or not raw.strip():
        return None
    text = raw.strip()
    if not text.isdigit() or not MIN_AGE_RANGE[0] <= int(text) <= MIN_AGE_RANGE[1]:
        raise _BadRequestError("Invalid min-age")
    return int(text)


def _parse_two_factor(raw: str | None) -> bool:
    if raw is None or not raw.strip():
        return False
    text = raw.strip().lower()
    if text not in ("true", "false"):
        raise _BadRequestError("Invalid two-af")
    return text == "true"


def _parse_pin(raw: object) -> int | None:
    """A PIN given on the login page: an int or a string of 6 digits (100000-999999), or None."""
    if raw is None:
        return None
    if isinstance(raw, str) and _PIN_TEXT.fullmatch(raw.strip()):
        return int(raw.strip())
    if isinstance(raw, int) and not isinstance(raw, bool) and PIN_RANGE[0] <= raw <= PIN_RANGE[1]:
        return raw
    raise _BadRequestError("pin must be a 6-digit number (100000-999999)")


def _parse_outcome(body: object) -> tuple[str, bool, int | None]:
    """Validate a login-page outcome: (status, risk, pin or None)."""
    if not isinstance(body, dict):
        raise _BadRequestError("body must be a JSON object")
    outcome = body.get("outcome")
    risk = body.get("risk", None)
    if risk is not None and not isinstance(risk, bool):
        raise _BadRequestError("risk must be true or false")
    pin = _parse_pin(body.get("pin"))
    if outcome == "approved":
        return STATUS_OK, bool(risk), pin
    if outcome == "declined":
        if risk is False:
            raise _BadRequestError("a declined outcome always has risk true")
        return STATUS_KO, True, pin
    raise _BadRequestError('outcome must be "approved" or "declined"')


class JekimoSandbox:
    """WSGI app standing in for Jekimo (``https://www.jekimo.com``) in the local stack."""

    def __init__(
        self,
        api_key: str,
        public_base_url: str,
        token_ttl_seconds: int = 120,
        clock: Callable[[], float] = time.time,
        *,
        extra_api_keys: Sequence[str] = (),
    ) -> None:
        """``public_base_url`` is where clients reach this app (the API is under ``/app.php/v1.1``).

        ``extra_api_keys`` lets tests give the sandbox more than one site: a token answers only
        to the key that created it.
        """
        keys = [api_key, *extra_api_keys]
        if any(not key for key in keys):
            raise ValueError("API keys must be non-empty")
        if token_ttl_seconds <= 0:
            raise ValueError("token_ttl_seconds must be positive")
        if not public_base_url.startswith(("http://", "https://")):
            raise ValueError("public_base_url must be an http(s) URL")
        self._key_digests = [key_digest(key) for key in keys]
        self._base_url = public_base_url.rstrip("/")
        self._ttl = token_ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens: dict[str, _TokenState] = {}
        self._urls = Map(
            [
                Rule(f"{API_PREFIX}/auth/gettoken", endpoint="gettoken", methods=["POST"]),
                Rule(f"{API_PREFIX}/auth/check", endpoint="check", methods=["POST"]),
                Rule(
                    f"{API_PREFIX}/<string(length=2):lang>/user/login/<token>",
                    endpoint="login",
                    methods=["GET", "POST"],
                ),
            ]
        )

    # -- WSGI -------------------------------------------------------------------------------

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        response = self._dispatch(request)
        return response(environ, start_response)

    def _dispatch(self, request: Request) -> Response:
        adapter = self._urls.bind_to_environ(request.environ)
        try:
            endpoint, args = adapter.match()
        except HTTPException as exc:
            return json_response({"error": exc.name}, exc.code or 404)
        if endpoint == "gettoken":
            return self._gettoken(request)
        if endpoint == "check":
            return self._check(request)
        if request.method == "POST":
            return self._set_outcome(request, str(args["token"]))
        return self._login_page(str(args["token"]))

    # -- helpers -------------------------------------------------------------------------------

    def _authenticate(self, request: Request) -> str | None:
        """The digest of the request's ``x-api-key`` if it is a known key, else None."""
        given = request.headers.get("x-api-key", "")
        if not given:
            return None
        digest = key_digest(given)
        for known in self._key_digests:
            if hmac.compare_digest(digest, known):
                return known
        return None

    def _expired(self, state: _TokenState, now: float) -> bool:
        return now - state.timestamp > self._ttl

    def _live_token(self, token: str, now: float) -> _TokenState | None:
        """The token's state if it exists and is still valid. Call with the lock held."""
        state = self._tokens.get(token)
        if state is None or self._expired(state, now):
            return None
        return state

    def login_url(self, token: str) -> str:
        return f"{self._base_url}{API_PREFIX}/en/user/login/{token}"

    # -- API -------------------------------------------------------------------------------------

    def _gettoken(self, request: Request) -> Response:
        owner = self._authenticate(request)
        if owner is None:
            return json_response({"error": INVALID_API_KEY}, 401)
        try:
            min_age = _parse_min_age(request.headers.get("min-age"))
            two_factor = _parse_two_factor(request.headers.get("two-af"))
        except _BadRequestError as exc:
            return json_response({"error": str(exc)}, 400)
        now = self._clock()
        token = secrets.token_hex(32)
        state = _TokenState(
            token=token, timestamp=int(now), owner=owner, min_age=min_age, two_factor=two_factor
        )
        with self._lock:
            for stale in [t for t, s in self._tokens.items() if self._expired(s, now)]:
                del self._tokens[stale]
            self._tokens[token] = state
        logger.info(
            "jekimo sandbox: token %s... created (min-age=%s, two-af=%s)", token[:8], min_age, two_factor
        )
        url = self.login_url(token)
        qrcode = _qr_png_base64(url)
        return json_response({"token": token, "timestamp": state.timestamp, "qrcode": qrcode, "url": url})

    def _check(self, request: Request) -> Response:
        owner = self._authenticate(request)
        if owner is None:
            return json_response({"error": INVALID_API_KEY}, 401)
        token = request.headers.get("token", "").strip()
        with self._lock:
            state = self._live_token(token, self._clock()) if token else None
            if state is None or not hmac.compare_digest(state.owner, owner):
                return json_response({"error": INVALID_TOKEN}, 401)
            return json_response(state.answer())

    # -- the user's side (what the phone app would do) -----------------------------------------

    def _set_outcome(self, request: Request, token: str) -> Response:
        body = request.get_json(force=True, silent=True)
        with self._lock:
            state = self._live_token(token, self._clock())
            if state is None:
                return json_response({"error": INVALID_TOKEN}, 404)
            try:
                status, risk, pin = _parse_outcome(body)
            except _BadRequestError as exc:
                return json_response({"error": str(exc)}, 400)
            if state.status != STATUS_CREATED:
                return json_response({"error": "Outcome already set"}, 409)
            state.status = status
            state.risk = risk
            state.pin = (pin or _random_pin()) if (state.two_factor and risk) else 0
            answer = state.answer()
        logger.info("jekimo sandbox: token %s... set to %s (risk=%s)", token[:8], status, risk)
        return json_response(answer)

    def _login_page(self, token: str) -> Response:
        now = self._clock()
        with self._lock:
            state = self._live_token(token, now)
            if state is None:
                return html_response(_NOT_FOUND_PAGE, 404)
            answer = state.answer()
            settings = (state.min_age, state.two_factor, state.timestamp)
        min_age, two_factor, timestamp = settings
        expires_in = max(0, int(timestamp + self._ttl - now))
        values = {
            "__MIN_AGE__": "none" if min_age is None else str(min_age),
            "__TWO_FACTOR__": "requested" if two_factor else "not requested",
            "__TWO_FACTOR_FLAG__": "true" if two_factor else "false",
            "__EXPIRES_IN__": str(expires_in),
            "__ANSWER__": json.dumps(answer),
            "__TOKEN_SHORT__": token[:8],
        }
        rendered = _LOGIN_PAGE
        for placeholder, value in values.items():
            rendered = rendered.replace(placeholder, html.escape(value, quote=True))
        return html_response(rendered)


#: Jekimo's own rules, after pages.BASE_STYLE.
_STYLE = """
  :root { --accent: #5b4bdb; }
  main { width: min(28rem, 100% - 2rem); }
  input { font: inherit; padding: .4rem .6rem; width: 100%; border: 1px solid #8888; border-radius: 6px; }
  #approve { background: var(--ok); }
  #approve-risk { background: var(--warn); }
  #decline { background: var(--ko); }
  #state { margin: 1rem 0 0; padding: .6rem; border-radius: 6px; background: #8882; font-weight: 600; }
"""

_LOGIN_PAGE = page(
    "Jekimo sandbox",
    style=_STYLE,
    body_attributes={
        "data-two-factor": "__TWO_FACTOR_FLAG__",
        "data-expires-in": "__EXPIRES_IN__",
        "data-answer": "__ANSWER__",
    },
    body="""<main>
  <h1>Jekimo sandbox</h1>
  <p class="muted">Stands in for the Jekimo phone app. Token __TOKEN_SHORT__&hellip;</p>
  <dl>
    <dt>Minimum age</dt><dd id="min-age">__MIN_AGE__</dd>
    <dt>Two-factor PIN</dt><dd id="two-factor">__TWO_FACTOR__</dd>
    <dt>Valid for</dt><dd><span id="expires-in">__EXPIRES_IN__</span> s</dd>
  </dl>
  <label id="pin-field" hidden>PIN sent when risk is flagged (optional, 6 digits; random if empty)
    <input id="pin" inputmode="numeric" pattern="[1-9][0-9]{5}" maxlength="6" autocomplete="off">
  </label>
  <div class="buttons">
    <button id="approve" type="button">Approve</button>
    <button id="approve-risk" type="button">Approve with risk</button>
    <button id="decline" type="button">Decline</button>
  </div>
  <p id="state" data-status="created">created</p>
  <p id="message" role="alert"></p>
</main>
<script>
"use strict";
(function () {
  var body = document.body;
  var twoFactor = body.dataset.twoFactor === "true";
  var buttons = ["approve", "approve-risk", "decline"].map(function (id) {
    return document.getElementById(id);
  });
  var pinInput = document.getElementById("pin");
  var stateEl = document.getElementById("state");
  var message = document.getElementById("message");
  var remaining = parseInt(body.dataset.expiresIn, 10);
  var decided = false;

  document.getElementById("pin-field").hidden = !twoFactor;

  function setEnabled(enabled) {
    buttons.forEach(function (b) { b.disabled = !enabled; });
  }

  // Show what /auth/check now answers: {"status", "risk", "pin"}.
  function showState(answer) {
    decided = answer.status !== "created";
    var text = answer.status;
    if (decided) {
      text += " \\u00b7 risk: " + answer.risk + " \\u00b7 pin: " + (answer.pin || "none");
    }
    stateEl.textContent = text;
    stateEl.dataset.status = answer.status;
    setEnabled(!decided && remaining > 0);
  }

  function send(outcome) {
    setEnabled(false);
    message.textContent = "";
    fetch(window.location.href, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(outcome)
    }).then(function (res) {
      return res.json().then(function (data) { return { status: res.status, data: data }; });
    }).then(function (r) {
      if (r.status === 200) { showState(r.data); return; }
      message.textContent = r.data.error || "Request failed";
      // 400: fix the PIN and retry; 404 (expired) and 409 (already decided) are final.
      setEnabled(r.status === 400 && !decided && remaining > 0);
    }).catch(function () {
      message.textContent = "Network error";
      setEnabled(true);
    });
  }

  function withPin(outcome) {
    var pin = pinInput.value.trim();
    if (twoFactor && pin) { outcome.pin = pin; }
    return outcome;
  }

  buttons[0].addEventListener("click", function () { send({ outcome: "approved" }); });
  buttons[1].addEventListener("click", function () { send(withPin({ outcome: "approved", risk: true })); });
  buttons[2].addEventListener("click", function () { send(withPin({ outcome: "declined" })); });

  showState(JSON.parse(body.dataset.answer));

  var countdown = document.getElementById("expires-in");
  var timer = setInterval(function () {
    remaining = Math.max(0, remaining - 1);
    countdown.textContent = String(remaining);
    if (remaining === 0) {
      clearInterval(timer);
      setEnabled(false);
      if (!decided) { stateEl.textContent = "expired"; stateEl.dataset.status = "expired"; }
    }
  }, 1000);
})();
</script>
""",
)

_NOT_FOUND_PAGE = page(
    "Jekimo sandbox",
    style=_STYLE,
    body="""<main>
  <h1>Jekimo sandbox</h1>
  <p id="not-found">This login link is unknown or has expired (tokens are valid for a short time).
  Start a new verification from the site you came from.</p>
</main>
""",
)
