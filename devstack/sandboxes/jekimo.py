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

The answers above are the default shapes; ``shapes`` (flags ``--jekimo-qrcode``, ``--jekimo-timestamp``,
``--jekimo-without-url``, ``--jekimo-without-risk``) gives the other readings of the document
(``jekimo_answers``): a link as ``qrcode``, a timestamp in milliseconds or as a string, no ``url``,
no ``risk``.

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
* Jekimo has no webhooks: ``dashboard_webhook_url`` may be set but nothing is ever sent.
* State is in memory behind a lock; expired tokens are dropped on the next ``gettoken``.
  Nothing logs API keys or PINs; tokens are logged by their first 8 characters only.
"""

from __future__ import annotations

import argparse
import hmac
import json
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Self

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from devstack.sandboxes.base import Sandbox, SandboxError, key_digest, matching_digest
from devstack.sandboxes.jekimo_answers import QRCODE_FORMS, TIMESTAMP_FORMS, AnswerShapes
from devstack.sandboxes.jekimo_page import LOGIN_PAGE, NOT_FOUND_PAGE
from devstack.sandboxes.jekimo_requests import (
    PIN_RANGE,
    parse_min_age,
    parse_outcome,
    parse_two_factor,
)
from devstack.sandboxes.pages import html_response, json_response, render

__all__ = ["API_PREFIX", "JekimoSandbox"]

API_PREFIX = "/app.php/v1.1"

INVALID_API_KEY = "Invalid API key"
INVALID_TOKEN = "Invalid Token"  # noqa: S105 - an error message, not a secret

STATUS_CREATED = "created"


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

    def answer(self, shapes: AnswerShapes) -> dict[str, object]:
        return shapes.check_answer(self.status, self.risk, self.pin)


def _random_pin() -> int:
    low, high = PIN_RANGE
    return low + secrets.randbelow(high - low + 1)


class JekimoSandbox(Sandbox):
    """WSGI app standing in for Jekimo (``https://www.jekimo.com``) in the local stack."""

    name = "jekimo"
    title = "Jekimo"
    default_port = 3001
    api_path = API_PREFIX
    api_endpoints = frozenset({"gettoken", "check"})
    #: The API key ``from_arguments`` gives the sandbox (the local stack's).
    DEV_API_KEY: ClassVar[str] = "jekimo-sandbox-key"
    DEFAULT_TOKEN_TTL: ClassVar[int] = 120

    def __init__(
        self,
        api_key: str,
        public_base_url: str,
        token_ttl_seconds: int = DEFAULT_TOKEN_TTL,
        clock: Callable[[], float] = time.time,
        *,
        extra_api_keys: Sequence[str] = (),
        shapes: AnswerShapes | None = None,
    ) -> None:
        """``public_base_url`` is where clients reach this app (the API is under ``/app.php/v1.1``).

        ``extra_api_keys`` lets tests give the sandbox more than one site: a token answers only
        to the key that created it. ``shapes`` picks the answers' shapes (``jekimo_answers``); it may
        be changed at run time.
        """
        keys = [api_key, *extra_api_keys]
        if any(not key for key in keys):
            raise ValueError("API keys must be non-empty")
        if token_ttl_seconds <= 0:
            raise ValueError("token_ttl_seconds must be positive")
        login = f"{API_PREFIX}/<string(length=2):lang>/user/login/<token>"
        rules = [
            Rule(f"{API_PREFIX}/auth/gettoken", endpoint="gettoken", methods=["POST"]),
            Rule(f"{API_PREFIX}/auth/check", endpoint="check", methods=["POST"]),
            Rule(login, endpoint="login_page", methods=["GET"]),
            Rule(login, endpoint="set_outcome", methods=["POST"]),
        ]
        super().__init__(public_base_url, rules, clock=clock)
        self._api_key = api_key
        self._key_digests = [key_digest(key) for key in keys]
        self._ttl = token_ttl_seconds
        self._tokens: dict[str, _TokenState] = {}
        self.shapes = shapes or AnswerShapes()

    # -- registration --------------------------------------------------------------------------------

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--jekimo-token-ttl", type=int, default=cls.DEFAULT_TOKEN_TTL, help="seconds a Jekimo token lives"
        )
        # The readings of Jekimo's document its answers can take (jekimo_answers).
        parser.add_argument(
            "--jekimo-qrcode", choices=QRCODE_FORMS, default="image", help="gettoken's qrcode: image or link"
        )
        parser.add_argument(
            "--jekimo-timestamp", choices=TIMESTAMP_FORMS, default="seconds", help="gettoken's timestamp unit"
        )
        parser.add_argument("--jekimo-without-url", action="store_true", help="gettoken answers no url")
        parser.add_argument("--jekimo-without-risk", action="store_true", help="check answers no risk")

    @classmethod
    def from_arguments(cls, public_base_url: str, arguments: Mapping[str, Any]) -> Self:
        ttl = int(arguments.get("jekimo_token_ttl", cls.DEFAULT_TOKEN_TTL))
        shapes = AnswerShapes(
            qrcode=str(arguments.get("jekimo_qrcode", "image")),
            timestamp=str(arguments.get("jekimo_timestamp", "seconds")),
            with_url=not arguments.get("jekimo_without_url", False),
            with_risk=not arguments.get("jekimo_without_risk", False),
        )
        return cls(cls.DEV_API_KEY, public_base_url, token_ttl_seconds=ttl, shapes=shapes)

    def credentials(self) -> dict[str, str]:
        return {"api_key": self._api_key}

    def client_settings(self) -> dict[str, str]:
        # idgate computes a token's expiry from Jekimo's timestamp and the documented validity.
        return {"TOKEN_TTL_SECONDS": str(self._ttl)}

    def error_body(self, error: SandboxError) -> Mapping[str, object]:
        return {"error": error.message}

    # -- helpers -------------------------------------------------------------------------------

    def _authenticate(self, request: Request) -> str:
        """The digest of the request's ``x-api-key`` if it is a known key (else a 401)."""
        owner = matching_digest(request.headers.get("x-api-key", ""), self._key_digests)
        if owner is None:
            raise SandboxError(401, INVALID_API_KEY)
        return owner

    def _expired(self, state: _TokenState, now: float) -> bool:
        return now - state.timestamp > self._ttl

    def _live_token(self, token: str, now: float) -> _TokenState | None:
        """The token's state if it exists and is still valid. Call with the lock held."""
        state = self._tokens.get(token)
        if state is None or self._expired(state, now):
            return None
        return state

    def login_url(self, token: str) -> str:
        return f"{self.public_base_url}{API_PREFIX}/en/user/login/{token}"

    # -- API -------------------------------------------------------------------------------------

    def on_gettoken(self, request: Request) -> Response:
        owner = self._authenticate(request)
        min_age = parse_min_age(request.headers.get("min-age"))
        two_factor = parse_two_factor(request.headers.get("two-af"))
        now = self._clock()
        token = secrets.token_hex(32)
        state = _TokenState(
            token=token, timestamp=int(now), owner=owner, min_age=min_age, two_factor=two_factor
        )
        with self._lock:
            for stale in [t for t, s in self._tokens.items() if self._expired(s, now)]:
                del self._tokens[stale]
            self._tokens[token] = state
        self.log.info(
            "jekimo sandbox: token %s... created (min-age=%s, two-af=%s)", token[:8], min_age, two_factor
        )
        return json_response(self.shapes.token_answer(token, state.timestamp, self.login_url(token)))

    def on_check(self, request: Request) -> Response:
        owner = self._authenticate(request)
        token = request.headers.get("token", "").strip()
        with self._lock:
            state = self._live_token(token, self._clock()) if token else None
            if state is None or not hmac.compare_digest(state.owner, owner):
                raise SandboxError(401, INVALID_TOKEN)
            return json_response(state.answer(self.shapes))

    # -- the user's side (what the phone app would do) -----------------------------------------

    def on_set_outcome(self, request: Request, lang: str, token: str) -> Response:
        body = request.get_json(force=True, silent=True)
        with self._lock:
            state = self._live_token(token, self._clock())
            if state is None:
                raise SandboxError(404, INVALID_TOKEN)
            status, risk, pin = parse_outcome(body)
            if state.status != STATUS_CREATED:
                raise SandboxError(409, "Outcome already set")
            state.status = status
            state.risk = risk
            state.pin = (pin or _random_pin()) if (state.two_factor and risk) else 0
            answer = state.answer(self.shapes)
        self.log.info("jekimo sandbox: token %s... set to %s (risk=%s)", token[:8], status, risk)
        return json_response(answer)

    def on_login_page(self, request: Request, lang: str, token: str) -> Response:
        now = self._clock()
        with self._lock:
            state = self._live_token(token, now)
            if state is None:
                return html_response(NOT_FOUND_PAGE, 404)
            answer = state.answer(self.shapes)
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
        return html_response(render(LOGIN_PAGE, values))
