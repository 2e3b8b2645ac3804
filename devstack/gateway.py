"""An API Gateway HTTP API emulator (payload format 2.0), built from the template's routes and authorizers.

What it reproduces, because the application depends on it: route matching with path parameters, proxy and
REQUEST-authorizer events, authorizer outcomes (401 without identity source, 403 on denial, 500 on error) and
caching, response mapping, stage throttling, CORS, the 10 MB request limit. Other paths (not under an API
route's first segment, such as /v1) serve the static demo page from `web/`.

This module serves requests: limits, CORS, static files and the access log. Which function runs and whether
it may is devstack.gateway_routing's; the events it gets and the response made of its answer are
devstack.gateway_events'.
"""

from __future__ import annotations

import logging
import mimetypes
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from werkzeug.security import safe_join
from werkzeug.wrappers import Request, Response

from devstack.escaping import escaped_path, escaped_text
from devstack.gateway_events import PlainResponse, http_response, json_response, proxy_event, read_incoming
from devstack.gateway_routing import AuthorizerFailed, Authorizers, Invoke, RouteTable, TokenBucket
from devstack.template_http_api import Cors, HttpApi, Route

if TYPE_CHECKING:
    from collections.abc import Iterable

    from _typeshed.wsgi import StartResponse, WSGIEnvironment

log = logging.getLogger("devstack.gateway")

MAX_REQUEST_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
_WEBHOOK_TOKEN = re.compile(r"(/webhooks/[^/]+/)[^/]+")

_STATIC_TYPES = {
    ".html": "text/html", ".js": "text/javascript", ".mjs": "text/javascript", ".css": "text/css",
    ".json": "application/json", ".map": "application/json", ".svg": "image/svg+xml", ".png": "image/png",
    ".ico": "image/x-icon", ".webmanifest": "application/manifest+json", ".wasm": "application/wasm",
    ".woff2": "font/woff2", ".txt": "text/plain",
}  # fmt: skip


class Gateway:
    """A WSGI app. `invoke(logical_id, event)` runs a function (the real handlers, or fakes in tests)."""

    def __init__(
        self,
        api: HttpApi,
        invoke: Invoke,
        web_root: Path | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.api, self.invoke, self.web_root, self.clock = api, invoke, web_root, clock
        self.routes = RouteTable(api.routes)
        self.api_id = api.logical_id.lower()
        # API Gateway applies the stage's default route throttling to each route separately.
        throttling = api.throttling
        self._buckets = (
            {r.route_key: TokenBucket(throttling, clock) for r in api.routes} if throttling else {}
        )
        self.authorizers = Authorizers(api.authorizers, invoke, self.api_id, clock)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        started = time.perf_counter()
        response = self._handle(request)
        elapsed = (time.perf_counter() - started) * 1000
        # A webhook path ends in its secret token: never log it. The rest comes from the caller: escaped.
        path = escaped_path(_WEBHOOK_TOKEN.sub(r"\1***", request.path))
        log.info("%s %s %d %.0f ms", escaped_text(request.method), path, response.status_code, elapsed)
        return response(environ, start_response)

    def _handle(self, request: Request) -> Response:
        if (request.content_length or 0) > MAX_REQUEST_BYTES:
            return self._with_cors(request, json_response(413, "Request Entity Too Large"))
        cors = self.api.cors
        if cors and request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
            return self._preflight(request, cors)
        matched = self.routes.match(request.method, request.path)
        if matched is None:
            first = request.path.strip("/").split("/")[0]
            if self.web_root is not None and first not in self.routes.prefixes:
                return self._static(request)
            return self._with_cors(request, json_response(404, "Not Found"))
        return self._with_cors(request, self._route(request, *matched))

    def _route(self, request: Request, route: Route, params: dict[str, str]) -> Response:
        bucket = self._buckets.get(route.route_key)
        if bucket is not None and not bucket.take():
            return json_response(429, "Too Many Requests")
        body = request.stream.read(MAX_REQUEST_BYTES + 1)
        if len(body) > MAX_REQUEST_BYTES:  # a chunked body has no Content-Length to check first
            return json_response(413, "Request Entity Too Large")
        incoming = read_incoming(request, route, params, body, self.api_id)
        context: dict[str, Any] | None = None
        if route.authorizer is not None:
            try:
                decision = self.authorizers.decide(route.authorizer, incoming)
            except AuthorizerFailed:
                log.exception("authorizer %s failed", route.authorizer)
                return json_response(500, "Internal Server Error")
            if decision is None:
                return json_response(401, "Unauthorized")
            if not decision.allowed:
                return json_response(403, "Forbidden")
            context = decision.context
        try:
            response = http_response(self.invoke(route.function, proxy_event(incoming, context)))
        except Exception:
            log.exception("%s failed on %s", route.function, route.route_key)
            return json_response(500, "Internal Server Error")
        response.headers["apigw-requestid"] = incoming.request_context["requestId"]
        return response

    # -- CORS --

    def _allowed_origin(self, origin: str | None) -> str | None:
        cors = self.api.cors
        if cors is None or not origin:
            return None
        for allowed in cors.allow_origins:
            if allowed == "*":
                return "*"
            if re.fullmatch(re.escape(allowed).replace(r"\*", "[^/]*"), origin, re.IGNORECASE):
                return origin
        return None

    def _preflight(self, request: Request, cors: Cors) -> Response:
        response = PlainResponse(b"", 204)
        origin = self._allowed_origin(request.headers.get("Origin"))
        if origin is None:
            return response
        requested_headers = request.headers.get("Access-Control-Request-Headers", "")
        requested_method = request.headers["Access-Control-Request-Method"]
        methods = requested_method if "*" in cors.allow_methods else ",".join(cors.allow_methods)
        headers = requested_headers if "*" in cors.allow_headers else ",".join(cors.allow_headers)
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Methods"] = methods
        if headers:
            response.headers["Access-Control-Allow-Headers"] = headers
        if cors.max_age is not None:
            response.headers["Access-Control-Max-Age"] = str(cors.max_age)
        if cors.allow_credentials:
            response.headers["Access-Control-Allow-Credentials"] = "true"
        return response

    def _with_cors(self, request: Request, response: Response) -> Response:
        origin = self._allowed_origin(request.headers.get("Origin"))
        if origin is not None and self.api.cors is not None:
            # The CORS configuration wins over what the integration answered, as in API Gateway.
            response.headers["Access-Control-Allow-Origin"] = origin
            if self.api.cors.expose_headers:
                response.headers["Access-Control-Expose-Headers"] = ",".join(self.api.cors.expose_headers)
            if self.api.cors.allow_credentials:
                response.headers["Access-Control-Allow-Credentials"] = "true"
        return response

    # -- static files --

    def _static(self, request: Request) -> Response:
        assert self.web_root is not None
        if request.method not in ("GET", "HEAD"):
            return json_response(404, "Not Found")
        relative = request.path.lstrip("/")
        if relative == "" or relative.endswith("/"):
            relative += "index.html"
        joined = safe_join(str(self.web_root), relative)  # None for "..", absolute paths, backslashes
        root = self.web_root.resolve()
        path = Path(joined).resolve() if joined else None
        if path is None or not path.is_relative_to(root) or not path.is_file():
            return json_response(404, "Not Found")
        mimetype = _STATIC_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0]
        response = PlainResponse(path.read_bytes(), 200, mimetype=mimetype or "application/octet-stream")
        response.headers["Cache-Control"] = "no-cache"  # the page is being edited: always fresh
        return response
