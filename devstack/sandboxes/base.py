"""What every provider sandbox shares, so that a sandbox module holds its provider's behaviour only.

``SandboxApp`` is the WSGI plumbing: werkzeug routing (each ``Rule``'s endpoint ``x`` is answered by
the method ``on_x(request, **arguments)``), JSON error answers in the provider's own shape (a handler
raises ``SandboxError``; the sandbox's ``error_body`` shapes it), a lock and an injectable clock, and
the background webhook sender (``webhooks.WebhookSender``). The helpers below parse JSON bodies with a
size limit, compare keys in constant time, check URLs and make QR codes; ``pages`` has the page helpers.
It also faults a share of the calls to the endpoints a sandbox names in ``api_endpoints`` when the stack
asks it to (``faults``: chaos runs); nothing else ever is.

``Sandbox`` is the registration every provider sandbox makes, so that the local stack can start any of
them the same way (``devstack.sandboxes.SANDBOXES`` lists them)::

    for kind in SANDBOXES:
        kind.add_arguments(parser)                      # its own flags, e.g. --okid-verification-ttl
    ...
    sandbox = kind.from_arguments(public_url, vars(args))
    serve(sandbox, port)                                # a WSGI app; kind.default_port by default
    client_base_url = sandbox.api_url()                 # public_url + kind.api_path
    secret = json.dumps(sandbox.credentials())          # what idgate's client reads
    sandbox.dashboard_webhook_url = ...                 # where the provider's dashboard webhook points
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import io
import json
import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, ClassVar, Self
from urllib.parse import urlsplit

import segno
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from devstack.sandboxes.faults import ProviderFaults, serve
from devstack.sandboxes.pages import json_response
from devstack.sandboxes.webhooks import WebhookSender

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

__all__ = [
    "MAX_BODY_BYTES",
    "Sandbox",
    "SandboxApp",
    "SandboxError",
    "is_http_url",
    "iso_seconds",
    "json_object",
    "key_digest",
    "matching_digest",
    "qr_png_base64",
]

MAX_BODY_BYTES = 64 * 1024
MAX_URL_LENGTH = 2048


class SandboxError(Exception):
    """An error answer: HTTP ``status``, a human ``message`` and, for providers that have them, a ``code``."""

    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code


# -- helpers --------------------------------------------------------------------------------------------


def key_digest(key: str) -> str:
    """The SHA-256 hex digest of a key: what a sandbox keeps and compares instead of the key."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def matching_digest(given: str, digests: Iterable[str]) -> str | None:
    """The digest among ``digests`` that ``given`` has, compared in constant time; None if none (or empty)."""
    if not given:
        return None
    digest = key_digest(given)
    found = None
    for known in digests:
        if hmac.compare_digest(digest, known):
            found = known
    return found


def is_http_url(value: object) -> bool:
    """An absolute http(s) URL of at most 2048 characters."""
    if not isinstance(value, str) or not value or len(value) > MAX_URL_LENGTH:
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def iso_seconds(timestamp: float) -> str:
    """``timestamp`` as ISO 8601 in UTC, whole seconds, with ``Z``."""
    return datetime.fromtimestamp(int(timestamp), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def qr_png_base64(text: str) -> str:
    """A QR code of ``text`` as a bare base64 PNG (no ``data:`` prefix)."""
    buffer = io.BytesIO()
    segno.make(text).save(buffer, kind="png", scale=4)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def json_object(request: Request, *, empty_ok: bool = False) -> dict[str, Any]:
    """The request's body: a JSON object sent as ``application/json``, at most MAX_BODY_BYTES.

    An empty body is ``{}`` when ``empty_ok`` (whatever its content type). Raises SandboxError:
    413 for a larger body, 400 for another content type, invalid JSON or anything but an object.
    """
    too_large = SandboxError(413, f"The body is larger than {MAX_BODY_BYTES} bytes")
    if (request.content_length or 0) > MAX_BODY_BYTES:
        raise too_large
    raw = request.get_data(cache=False)
    if len(raw) > MAX_BODY_BYTES:
        raise too_large
    if empty_ok and not raw.strip():
        return {}
    if request.mimetype != "application/json":
        raise SandboxError(400, "Content-Type must be application/json")
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise SandboxError(400, "The body is not valid JSON") from exc
    if not isinstance(body, dict):
        raise SandboxError(400, "The body must be a JSON object")
    return body


# -- the WSGI app -----------------------------------------------------------------------------------------


class SandboxApp(WebhookSender):
    """A provider sandbox as a WSGI app: routing to ``on_<endpoint>`` methods and JSON error answers."""

    #: The provider's name in idgate (``jekimo``, ``okid``, ``datakeen``); logs say "<name> sandbox".
    name: ClassVar[str]
    #: The endpoints (of its rules) that are the provider's API, which idgate calls: the only ones
    #: ``faults`` may spoil. Pages a user or reviewer opens and the sandbox's own controls are not.
    api_endpoints: ClassVar[frozenset[str]] = frozenset()

    def __init__(
        self, public_base_url: str, rules: Iterable[Rule], *, clock: Callable[[], float] = time.time
    ) -> None:
        """``public_base_url`` is where clients reach this app; ``rules`` map its paths to endpoints."""
        if not is_http_url(public_base_url):
            raise ValueError("public_base_url must be an http(s) URL")
        self.log = logging.getLogger(type(self).__module__)
        super().__init__(self.log, f"{self.name} sandbox")
        self._base_url = public_base_url.rstrip("/")
        self._clock = clock
        self._lock = threading.Lock()
        self._urls = Map(list(rules))
        unknown = self.api_endpoints - {rule.endpoint for rule in self._urls.iter_rules()}
        if unknown:
            raise ValueError(f"api_endpoints names no rule: {', '.join(sorted(unknown))}")
        #: Shared by a stack's sandboxes (it sets it); on its own a sandbox faults nothing.
        self.faults = ProviderFaults()

    @property
    def public_base_url(self) -> str:
        return self._base_url

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        endpoint = self._api_endpoint(request)
        fault = self.faults.draw(self.name, endpoint) if endpoint else None
        if fault is None:
            return self.dispatch(request)(environ, start_response)
        return serve(fault, lambda: self.dispatch(request), environ, start_response, self.faults.sleep)

    def _api_endpoint(self, request: Request) -> str | None:
        """The API endpoint the request routes to; None for anything else (a page, a 404)."""
        if not self.api_endpoints:
            return None
        try:
            endpoint, _ = self._urls.bind_to_environ(request.environ).match()
        except HTTPException:
            return None
        return endpoint if endpoint in self.api_endpoints else None

    def dispatch(self, request: Request) -> Response:
        """The answer of the ``on_<endpoint>`` method the request's path and method route to."""
        adapter = self._urls.bind_to_environ(request.environ)
        try:
            endpoint, arguments = adapter.match()
        except MethodNotAllowed as exc:
            response = self.error_response(self.routing_error(405))
            response.headers["Allow"] = ", ".join(sorted(exc.valid_methods or ()))
            return response
        except HTTPException:
            return self.error_response(self.routing_error(404))
        handler: Callable[..., Response] = getattr(self, f"on_{endpoint}")
        try:
            return handler(request, **arguments)
        except SandboxError as error:
            return self.error_response(error)

    def error_body(self, error: SandboxError) -> Mapping[str, object]:
        """The JSON body of an error answer; ``{"error": code, "message"}`` unless a sandbox overrides it."""
        return {"error": error.code or HTTPStatus(error.status).name, "message": error.message}

    def error_response(self, error: SandboxError) -> Response:
        return json_response(self.error_body(error), error.status)

    def routing_error(self, status: int) -> SandboxError:
        """The error for a path no rule has (404) or a method its rule refuses (405)."""
        return SandboxError(status, HTTPStatus(status).phrase)


# -- the registration --------------------------------------------------------------------------------------


class Sandbox(SandboxApp, ABC):
    """A provider sandbox the local stack can start without knowing which one it is."""

    #: The provider's name in idgate: ``jekimo``, ``okid``, ``datakeen``.
    name: ClassVar[str]
    #: The provider's name for people (the stack's banner), e.g. ``Datakeen IDify``.
    title: ClassVar[str]
    #: The local port the stack serves it on by default.
    default_port: ClassVar[int]
    #: Appended to the public URL, gives the base URL idgate's client is configured with.
    api_path: ClassVar[str]

    def __init__(
        self,
        public_base_url: str,
        rules: Iterable[Rule],
        *,
        clock: Callable[[], float] = time.time,
        dashboard_webhook_url: str | None = None,
    ) -> None:
        super().__init__(public_base_url, rules, clock=clock)
        self._dashboard_webhook_url: str | None = None
        self.dashboard_webhook_url = dashboard_webhook_url

    @classmethod
    @abstractmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """Adds the sandbox's own command-line flags (named ``--<name>-...``) to ``parser``."""

    @classmethod
    @abstractmethod
    def from_arguments(cls, public_base_url: str, arguments: Mapping[str, Any]) -> Self:
        """The sandbox at ``public_base_url``, set up from ``vars()`` of the parsed flags.

        It has the sandbox's development credentials; a flag missing from ``arguments`` takes its default.
        """

    @abstractmethod
    def credentials(self) -> dict[str, str]:
        """The JSON secret idgate's client of this provider reads, holding this sandbox's credentials."""

    def client_settings(self) -> dict[str, str]:
        """Settings idgate's client must have to match this sandbox (its `<NAME>_<KEY>` variables, without
        the prefix): a shortened validity the client computes itself, for instance."""
        return {}

    def api_url(self) -> str:
        """The base URL idgate's client is configured with."""
        return self.public_base_url + self.api_path

    @property
    def dashboard_webhook_url(self) -> str | None:
        """Where the provider's dashboard webhook points (set by the stack); None sends no such webhook."""
        return self._dashboard_webhook_url

    @dashboard_webhook_url.setter
    def dashboard_webhook_url(self, url: str | None) -> None:
        if url is not None and not is_http_url(url):
            raise ValueError("dashboard_webhook_url must be an http(s) URL or None")
        self._dashboard_webhook_url = url
