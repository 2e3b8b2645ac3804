"""What the gateway hands a Lambda function and makes of its answer: payload format 2.0, both ways.

Separate from devstack.gateway, which decides what runs (routes, throttling, authorizers, CORS): this is only
the translation of a request into the proxy and REQUEST-authorizer events, with API Gateway's header, query,
cookie and body rules, and of a handler's result into an HTTP response.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from werkzeug.wrappers import Request, Response

from devstack.template import LOCAL_ACCOUNT, LOCAL_REGION
from devstack.template_http_api import Route

_TEXT_TYPES = re.compile(
    r"^(text/.*|application/(json|.*\+json|xml|.*\+xml|javascript|x-www-form-urlencoded|graphql|yaml|x-yaml))$"
)


class PlainResponse(Response):
    default_mimetype = None  # a handler's response without content-type gets none


def json_response(status: int, message: str) -> Response:
    """An answer of the gateway itself (404, 413, 429, 401, 403, 500), with API Gateway's body."""
    return PlainResponse(json.dumps({"message": message}), status, content_type="application/json")


@dataclass(frozen=True)
class Incoming:
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


def read_incoming(
    request: Request, route: Route, params: dict[str, str], body: bytes, api_id: str
) -> Incoming:
    """The request as API Gateway passes it on: headers lower-cased and joined, cookies apart, its context."""
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
    return Incoming(route, params, raw_uri.split("?")[0], raw_query, headers, cookies, query, context, body)


def _optional(incoming: Incoming) -> dict[str, Any]:
    # API Gateway leaves these fields out when they are empty.
    fields = {
        "cookies": incoming.cookies,
        "queryStringParameters": incoming.query,
        "pathParameters": incoming.path_parameters,
    }
    return {name: value for name, value in fields.items() if value}


def proxy_event(incoming: Incoming, authorizer_context: Mapping[str, Any] | None) -> dict[str, Any]:
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


def authorizer_event(incoming: Incoming, identity: list[str], api_id: str) -> dict[str, Any]:
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
        return PlainResponse(json.dumps(result), 200, content_type="application/json")
    body = result.get("body")
    if body is not None and not isinstance(body, str):
        raise ValueError(f"body must be a string, not {type(body).__name__}")
    data = base64.b64decode(body or "") if result.get("isBase64Encoded") else (body or "").encode()
    response = PlainResponse(data, int(result["statusCode"]))
    for name, value in (result.get("headers") or {}).items():
        response.headers[name] = str(value)
    for name, values in (result.get("multiValueHeaders") or {}).items():
        response.headers.remove(name)
        for value in values:
            response.headers.add(name, str(value))
    for cookie in result.get("cookies") or ():
        response.headers.add("Set-Cookie", cookie)
    return response
