"""An API Gateway HTTP API emulator (payload format 2.0), built from the template's routes and authorizers.

What it reproduces, because the application depends on it: route matching with path parameters, proxy and
REQUEST-authorizer events, authorizer outcomes (401 without identity source, 403 on denial, 500 on error) and
caching, response mapping, stage throttling, CORS, the 10 MB request limit. Other paths (not under an API
route's first segment, such as /v1) serve the static demo page from `web/`.
"""

from __future__ import annotations

import base64
import json
import logging
import mimetypes
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from werkzeug.security import safe_join
from werkzeug.wrappers import Request, Response

from devstack.escaping import escaped_path, escaped_text
from devstack.template import LOCAL_ACCOUNT, LOCAL_REGION, Authorizer, Cors, HttpApi, Route, Throttling

if TYPE_CHECKING:
    from collections.abc import Iterable

    from _typeshed.wsgi import StartResponse, WSGIEnvironment

log = logging.getLogger("devstack.gateway")

MAX_REQUEST_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
_WEBHOOK_TOKEN = re.compile(r"(/webhooks/[^/]+/)[^/]+")
Invoke = Callable[[str, Any], Any]

_TEXT_TYPES = re.compile(
    r"^(text/.*|application/(json|.*\+json|xml|.*\+xml|javascript|x-www-form-urlencoded|graphql|yaml|x-yaml))$"
)
_STATIC_TYPES = {
    ".html": "text/html", ".js": "text/javascript", ".mjs": "text/javascript", ".css": "text/css",
    ".json": "application/json", ".map": "application/json", ".svg": "image/svg+xml", ".png": "image/png",
    ".ico": "image/x-icon", ".webmanifest": "application/manifest+json", ".wasm": "application/wasm",
    ".woff2": "font/woff2", ".txt": "text/plain",
}  # fmt: skip


class _Response(Response):
    default_mimetype = None  # a handler's response without content-type gets none


def _json_response(status: int, message: str) -> Response:
    return _Response(json.dumps({"message": message}), status, content_type="application/json")


# ---- routes ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _CompiledRoute:
    route: Route
    pattern: re.Pattern[str]
    rank: tuple[int, int, int]  # lower is more specific


def _compile(route: Route) -> _CompiledRoute:
    parts, literals, greedy = [], 0, 0
    for segment in route.path.strip("/").split("/"):
        param = re.fullmatch(r"\{([A-Za-z0-9_]+)(\+?)\}", segment)
        if param is None:
            parts.append(re.escape(segment))
            literals += 1
        elif param[2]:
            parts.append(f"(?P<{param[1]}>.+)")
            greedy = 1
        else:
            parts.append(f"(?P<{param[1]}>[^/]+)")
    pattern = re.compile("/" + "/".join(parts))
    return _CompiledRoute(route, pattern, (-literals, greedy, int(route.method == "ANY")))


class RouteTable:
    """As API Gateway chooses: the most specific route (literal segments, then not greedy, then not ANY)."""

    def __init__(self, routes: Iterable[Route]) -> None:
        self._routes = [_compile(r) for r in routes if r.path != "$default"]
        self._default = next((r for r in routes if r.path == "$default"), None)
        # First segments of API paths (e.g. "v1"): unmatched paths below them are API 404s, not static files.
        self.prefixes = {r.path.strip("/").split("/")[0] for r in routes if r.path != "$default"}

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        found = [
            (c.rank, c.route, m.groupdict())
            for c in self._routes
            if c.route.method in (method, "ANY") and (m := c.pattern.fullmatch(path))
        ]
        if found:
            _, route, params = min(found, key=lambda f: f[0])
            return route, params
        return (self._default, {}) if self._default else None


class TokenBucket:
    def __init__(self, throttling: Throttling, clock: Callable[[], float]) -> None:
        self.rate, self.burst, self.clock = throttling.rate_limit, throttling.burst_limit, clock
        self.tokens, self.updated = float(self.burst), clock()
        self.lock = threading.Lock()

    def take(self) -> bool:
        with self.lock:
            now = self.clock()
            self.tokens = min(float(self.burst), self.tokens + (now - self.updated) * self.rate)
            self.updated = now
            if self.tokens < 1:
                return False
            self.tokens -= 1
            return True


# ---- events ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Incoming:
    """The parts of a request both the authorizer event and the route event carry."""

    route: Route
    path_parameters: dict[str, str]
    raw_path: str
    raw_query: str
    headers: dict[str, str]
    cookies: list[str]
    query: dict[str, str]
    request_context: dict[str, Any]
    body: bytes


def _incoming(request: Request, route: Route, params: dict[str, str], body: bytes, api_id: str) -> _Incoming:
    headers: dict[str, str] = {}
    for name, value in request.headers.items():  # werkzeug already joined repeated headers with ","
        headers[name.lower()] = f"{headers[name.lower()]},{value}" if name.lower() in headers else value
    cookie_header = headers.pop("cookie", "")
    headers.setdefault("x-forwarded-for", request.remote_addr or "127.0.0.1")
    headers.setdefault("x-forwarded-proto", request.scheme)
    headers.setdefault("x-forwarded-port", str(request.environ.get("SERVER_PORT", "")))
    raw_query = request.environ.get("QUERY_STRING", "")
    query: dict[str, str] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        query[key] = f"{query[key]},{value}" if key in query else value
    raw_uri = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or request.path
    now = datetime.now(UTC)
    host = headers.get("host", "localhost")
    context = {
        "accountId": LOCAL_ACCOUNT,
        "apiId": api_id,
        "domainName": host,
        "domainPrefix": host.split(".")[0],
        "http": {
            "method": request.method,
            "path": request.path,
            "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
            "sourceIp": request.remote_addr or "127.0.0.1",
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": str(uuid.uuid4()),
        "routeKey": route.route_key,
        "stage": "$default",
        "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "timeEpoch": int(now.timestamp() * 1000),
    }
    cookies = [c.strip() for c in cookie_header.split(";") if c.strip()]
    return _Incoming(route, params, raw_uri.split("?")[0], raw_query, headers, cookies, query, context, body)


def _optional(incoming: _Incoming) -> dict[str, Any]:
    # API Gateway leaves these fields out when they are empty.
    fields = {
        "cookies": incoming.cookies,
        "queryStringParameters": incoming.query,
        "pathParameters": incoming.path_parameters,
    }
    return {name: value for name, value in fields.items() if value}


def proxy_event(incoming: _Incoming, authorizer_context: Mapping[str, Any] | None) -> dict[str, Any]:
    context = dict(incoming.request_context)
    if authorizer_context is not None:
        context["authorizer"] = {"lambda": dict(authorizer_context)}
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": incoming.route.route_key,
        "rawPath": incoming.raw_path,
        "rawQueryString": incoming.raw_query,
        "headers": incoming.headers,
        **_optional(incoming),
        "requestContext": context,
        "isBase64Encoded": False,
    }
    if incoming.body:
        content_type = incoming.headers.get("content-type", "").split(";")[0].strip().lower()
        event["body"], event["isBase64Encoded"] = _body_field(incoming.body, content_type)
    return event


def _body_field(body: bytes, content_type: str) -> tuple[str, bool]:
    """Text for a text content type (or none) in UTF-8; base64 for anything else, as API Gateway does."""
    if not content_type or _TEXT_TYPES.match(content_type):
        try:
            return body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(body).decode("ascii"), True


def authorizer_event(incoming: _Incoming, identity: list[str], api_id: str) -> dict[str, Any]:
    method = incoming.request_context["http"]["method"]
    api_arn = f"arn:aws:execute-api:{LOCAL_REGION}:{LOCAL_ACCOUNT}:{api_id}"
    return {
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": f"{api_arn}/$default/{method}{incoming.raw_path}",
        "identitySource": identity,
        "routeKey": incoming.route.route_key,
        "rawPath": incoming.raw_path,
        "rawQueryString": incoming.raw_query,
        "headers": incoming.headers,
        **_optional(incoming),
        "requestContext": incoming.request_context,
    }


def http_response(result: Any) -> Response:
    """Maps a handler's result as API Gateway does for payload format 2.0."""
    if not (isinstance(result, dict) and "statusCode" in result):
        # No statusCode: the whole result is a JSON body.
        return _Response(json.dumps(result), 200, content_type="application/json")
    body = result.get("body")
    if body is not None and not isinstance(body, str):
        raise ValueError(f"body must be a string, not {type(body).__name__}")
    data = base64.b64decode(body or "") if result.get("isBase64Encoded") else (body or "").encode()
    response = _Response(data, int(result["statusCode"]))
    for name, value in (result.get("headers") or {}).items():
        response.headers[name] = str(value)
    for name, values in (result.get("multiValueHeaders") or {}).items():
        response.headers.remove(name)
        for value in values:
            response.headers.add(name, str(value))
    for cookie in result.get("cookies") or ():
        response.headers.add("Set-Cookie", cookie)
    return response


# ---- the gateway -------------------------------------------------------------------------------------------


@dataclass
class _Decision:
    allowed: bool
    context: dict[str, Any]
    expires: float


class _AuthorizerFailed(Exception):
    """The authorizer raised or answered something API Gateway cannot read: the client gets a 500."""


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
        self._auth_cache: dict[tuple[str, tuple[str, ...]], _Decision] = {}
        self._auth_lock = threading.Lock()

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
            return self._with_cors(request, _json_response(413, "Request Entity Too Large"))
        cors = self.api.cors
        if cors and request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
            return self._preflight(request, cors)
        matched = self.routes.match(request.method, request.path)
        if matched is None:
            first = request.path.strip("/").split("/")[0]
            if self.web_root is not None and first not in self.routes.prefixes:
                return self._static(request)
            return self._with_cors(request, _json_response(404, "Not Found"))
        return self._with_cors(request, self._route(request, *matched))

    def _route(self, request: Request, route: Route, params: dict[str, str]) -> Response:
        bucket = self._buckets.get(route.route_key)
        if bucket is not None and not bucket.take():
            return _json_response(429, "Too Many Requests")
        body = request.stream.read(MAX_REQUEST_BYTES + 1)
        if len(body) > MAX_REQUEST_BYTES:  # a chunked body has no Content-Length to check first
            return _json_response(413, "Request Entity Too Large")
        incoming = _incoming(request, route, params, body, self.api_id)
        context: dict[str, Any] | None = None
        if route.authorizer is not None:
            try:
                decision = self._authorize(self.api.authorizers[route.authorizer], incoming)
            except _AuthorizerFailed:
                log.exception("authorizer %s failed", route.authorizer)
                return _json_response(500, "Internal Server Error")
            if decision is None:
                return _json_response(401, "Unauthorized")
            if not decision.allowed:
                return _json_response(403, "Forbidden")
            context = decision.context
        try:
            response = http_response(self.invoke(route.function, proxy_event(incoming, context)))
        except Exception:
            log.exception("%s failed on %s", route.function, route.route_key)
            return _json_response(500, "Internal Server Error")
        response.headers["apigw-requestid"] = incoming.request_context["requestId"]
        return response

    def _authorize(self, authorizer: Authorizer, incoming: _Incoming) -> _Decision | None:
        """The decision, or None when an identity source is missing (401 without calling the authorizer)."""
        identity = [incoming.headers.get(h.lower(), "") for h in authorizer.identity_headers]
        identity += [incoming.query.get(q, "") for q in authorizer.identity_query_strings]
        if not all(identity):
            return None
        key = (authorizer.name, tuple(identity))
        cacheable = bool(identity) and authorizer.reauthorize_every > 0
        with self._auth_lock:
            cached = self._auth_cache.get(key) if cacheable else None
            if cached is not None and cached.expires > self.clock():
                return cached
        try:
            result = self.invoke(authorizer.function, authorizer_event(incoming, identity, self.api_id))
            allowed = _is_allowed(result, authorizer.simple_responses)
            context = result.get("context") or {}
        except Exception as exc:
            raise _AuthorizerFailed(str(exc)) from exc
        decision = _Decision(allowed, dict(context), self.clock() + authorizer.reauthorize_every)
        if cacheable:
            with self._auth_lock:
                self._auth_cache[key] = decision
        return decision

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
        response = _Response(b"", 204)
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
            return _json_response(404, "Not Found")
        relative = request.path.lstrip("/")
        if relative == "" or relative.endswith("/"):
            relative += "index.html"
        joined = safe_join(str(self.web_root), relative)  # None for "..", absolute paths, backslashes
        root = self.web_root.resolve()
        path = Path(joined).resolve() if joined else None
        if path is None or not path.is_relative_to(root) or not path.is_file():
            return _json_response(404, "Not Found")
        mimetype = _STATIC_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0]
        response = _Response(path.read_bytes(), 200, mimetype=mimetype or "application/octet-stream")
        response.headers["Cache-Control"] = "no-cache"  # the page is being edited: always fresh
        return response


def _is_allowed(result: Any, simple: bool) -> bool:
    if not isinstance(result, dict):
        raise ValueError("authorizer answered no JSON object")
    if simple:
        if not isinstance(result.get("isAuthorized"), bool):
            raise ValueError("simple response without boolean isAuthorized")
        return bool(result["isAuthorized"])
    statements = (result.get("policyDocument") or {}).get("Statement") or []
    effects = {str(s.get("Effect", "")).lower() for s in statements}
    return "allow" in effects and "deny" not in effects
