"""The template's HTTP API as the gateway serves it: its routes, Lambda authorizers, CORS and throttling.

Separate from devstack.template, which reads the other resources: the API is read from the OpenAPI body the
SAM transform writes (paths, security schemes, integration URIs), not from resource properties, and only
devstack.gateway uses what it gives.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from devstack.cfn import Resolver

# SAM's name for the API that HttpApi events without ApiId belong to.
IMPLICIT_HTTP_API = "ServerlessHttpApi"
API_TYPE = "AWS::ApiGatewayV2::Api"
STAGE_TYPE = "AWS::ApiGatewayV2::Stage"
_ANY_METHOD = "x-amazon-apigateway-any-method"
_INVOKED_FUNCTION = re.compile(r":lambda:path/[^/]+/functions/(.+)/invocations$")


@dataclass(frozen=True)
class Route:
    method: str  # upper case, or ANY
    path: str  # "/v1/sessions/{id}", or "$default"
    function: str  # logical id
    authorizer: str | None  # None for `Authorizer: NONE`

    @property
    def route_key(self) -> str:
        return "$default" if self.path == "$default" else f"{self.method} {self.path}"


@dataclass(frozen=True)
class Authorizer:
    name: str
    function: str  # logical id
    identity_headers: tuple[str, ...]
    identity_query_strings: tuple[str, ...]
    reauthorize_every: int  # seconds; 0 means no caching
    simple_responses: bool


@dataclass(frozen=True)
class Cors:
    allow_origins: tuple[str, ...]
    allow_headers: tuple[str, ...]
    allow_methods: tuple[str, ...]
    expose_headers: tuple[str, ...] = ()
    max_age: int | None = None
    allow_credentials: bool = False


@dataclass(frozen=True)
class Throttling:
    rate_limit: float  # steady requests per second
    burst_limit: int


@dataclass(frozen=True)
class HttpApi:
    logical_id: str
    routes: tuple[Route, ...]
    authorizers: Mapping[str, Authorizer]
    cors: Cors | None
    throttling: Throttling | None


def read_http_api(r: Resolver, logical_id: str | None = None) -> HttpApi:
    """The HTTP API `logical_id`, or the template's only one (SAM's implicit API, empty, if it has none)."""
    if logical_id is None:
        apis = r.logical_ids(API_TYPE)
        if len(apis) > 1:
            raise ValueError(f"several HTTP APIs ({apis}): say which one to serve")
        if not apis:
            return HttpApi(IMPLICIT_HTTP_API, (), {}, None, None)
        logical_id = apis[0]
    body = r.properties(logical_id).get("Body")
    if not isinstance(body, dict):
        raise ValueError(f"{logical_id}: only an API with its OpenAPI Body in the template is emulated")
    schemes = (body.get("components") or {}).get("securitySchemes") or {}
    authorizers = {name: _authorizer(name, scheme, r) for name, scheme in schemes.items()}
    routes = tuple(sorted(_routes(body, r), key=lambda route: (route.path, route.method)))
    for route in routes:
        if route.authorizer is not None and route.authorizer not in authorizers:
            raise ValueError(f"route {route.route_key} uses unknown authorizer {route.authorizer!r}")
    stages = [r.properties(s) for s in r.logical_ids(STAGE_TYPE)]
    stage = next((s for s in stages if s.get("ApiId") == {"Ref": logical_id}), {})
    cors = _cors(r.resolve(body.get("x-amazon-apigateway-cors")))
    throttling = _throttling(r.resolve(stage.get("DefaultRouteSettings") or {}))
    return HttpApi(logical_id, routes, authorizers, cors, throttling)


def _routes(body: Mapping[str, Any], r: Resolver) -> Iterator[Route]:
    for path, item in (body.get("paths") or {}).items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "x-amazon-apigateway-integration" not in operation:
                continue  # path-level "parameters"
            integration = operation["x-amazon-apigateway-integration"]
            if str(integration.get("payloadFormatVersion", "2.0")) != "2.0":
                raise ValueError(f"{method} {path}: only payload format 2.0 is emulated")
            # `security: [{"NONE": []}]` is SAM's `Authorizer: NONE` when there is a DefaultAuthorizer.
            authorizer = next(iter((operation.get("security") or [{}])[0]), "NONE")
            yield Route(
                "ANY" if method == _ANY_METHOD else method.upper(),
                path,
                _invoked_function(integration.get("uri"), r),
                None if authorizer == "NONE" else authorizer,
            )


def _invoked_function(uri: Any, r: Resolver) -> str:
    """The function an integration or authorizer URI (`...:functions/<ARN>/invocations`) calls."""
    match = _INVOKED_FUNCTION.search(str(r.resolve(uri)))
    function = r.function_logical_id(match.group(1)) if match else None
    if function is None:
        raise ValueError(f"{uri!r} does not invoke a function of the template")
    return function


def _authorizer(name: str, scheme: Mapping[str, Any], r: Resolver) -> Authorizer:
    spec = r.resolve(scheme.get("x-amazon-apigateway-authorizer") or {})
    if spec.get("type") != "request":
        raise ValueError(f"authorizer {name}: only Lambda authorizers are emulated")
    if str(spec.get("authorizerPayloadFormatVersion")) != "2.0":
        raise ValueError(f"authorizer {name}: only payload format 2.0 is emulated")
    sources = spec.get("identitySource") or []
    sources = [s.strip() for s in (sources.split(",") if isinstance(sources, str) else sources)]
    headers, queries = _identity(sources, "header"), _identity(sources, "querystring")
    # API Gateway's default TTL is 300 s, and caching needs an identity source.
    ttl = int(spec.get("authorizerResultTtlInSeconds", 300 if headers or queries else 0))
    simple = bool(spec.get("enableSimpleResponses", False))
    return Authorizer(name, _invoked_function(spec.get("authorizerUri"), r), headers, queries, ttl, simple)


def _identity(sources: list[str], kind: str) -> tuple[str, ...]:
    prefix = f"$request.{kind}."
    return tuple(s.removeprefix(prefix) for s in sources if s.startswith(prefix))


def _as_tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(","))
    return tuple(str(v) for v in value)


def _cors(value: Any) -> Cors | None:
    if not value:
        return None
    max_age = value.get("maxAge")
    return Cors(
        allow_origins=_as_tuple(value.get("allowOrigins")),
        allow_headers=tuple(h.lower() for h in _as_tuple(value.get("allowHeaders"))),
        allow_methods=tuple(m.upper() for m in _as_tuple(value.get("allowMethods"))),
        expose_headers=_as_tuple(value.get("exposeHeaders")),
        max_age=None if max_age is None else int(max_age),
        allow_credentials=bool(value.get("allowCredentials", False)),
    )


def _throttling(settings: Mapping[str, Any]) -> Throttling | None:
    rate: Any = settings.get("ThrottlingRateLimit")
    burst: Any = settings.get("ThrottlingBurstLimit")
    if rate is None and burst is None:
        return None
    # When one limit is missing, the other stands for it.
    return Throttling(float(burst if rate is None else rate), max(1, int(rate if burst is None else burst)))
