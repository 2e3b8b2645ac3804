"""What every HTTP handler shares: JSON answers, the body and caller of a request, and the one place
where errors become responses."""

from __future__ import annotations

import base64
import json
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from pydantic import ValidationError

from idgate import public_url
from idgate.api import MAX_BODY_BYTES, Caller
from idgate.errors import IdgateError, InvalidJson, PayloadTooLarge, Unauthorized


def json_response(status: int, body: Any) -> Response[str]:
    return Response(
        status_code=status,
        content_type="application/json",
        body=json.dumps(body),
        headers={"Cache-Control": "no-store"},
    )


def error_response(error: IdgateError) -> Response[str]:
    return json_response(
        error.status, {"error": {"code": error.code, "message": error.message, **error.details}}
    )


def request_caller(app: APIGatewayHttpResolver) -> Caller:
    """The caller as the authorizer established it."""
    context = app.current_event.request_context.authorizer.get_lambda or {}
    try:
        return Caller.model_validate(context)
    except ValidationError as exc:
        raise Unauthorized("missing credentials") from exc


def request_bytes(app: APIGatewayHttpResolver) -> bytes:
    """The request's body as sent (at most 64 KiB)."""
    event = app.current_event
    sent = event.body or ""
    try:
        raw = base64.b64decode(sent, validate=True) if event.is_base64_encoded else sent.encode()
    except ValueError as exc:
        raise InvalidJson("the body is not valid JSON") from exc
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the body exceeds {MAX_BODY_BYTES} bytes")
    return raw


def request_json(app: APIGatewayHttpResolver, *, object_only: bool = True) -> Any:
    """The request's JSON body (at most 64 KiB)."""
    raw = request_bytes(app)
    try:
        text = raw.decode("utf-8")
        body = json.loads(text) if text.strip() else None
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError; deep nesting is not
        raise InvalidJson("the body is not valid JSON") from exc
    if object_only and not isinstance(body, dict):
        raise InvalidJson("the body must be a JSON object")
    return body


def api_base_url(app: APIGatewayHttpResolver, public_api_url: str) -> str:
    """The API's public base URL: the configured one, else https on the domain API Gateway was called on
    (never a scheme or a host from the request's headers: see idgate.public_url)."""
    return public_url.api_base_url(public_api_url, app.current_event.request_context.domain_name)


def install_error_handlers(app: APIGatewayHttpResolver, logger: Logger) -> None:
    def idgate_error(exc: IdgateError) -> Response[str]:
        logger.info("request refused", code=exc.code, status=exc.status)
        return error_response(exc)

    def not_found(_: Exception) -> Response[str]:
        return json_response(404, {"error": {"code": "route_not_found", "message": "no such route"}})

    def unexpected_error(_: Exception) -> Response[str]:
        # Logged with its traceback for us; the caller learns nothing of our insides.
        logger.exception("unexpected error")
        body = {"error": {"code": "internal_error", "message": "something went wrong on our side"}}
        return json_response(500, body)

    app.exception_handler(IdgateError)(idgate_error)
    app.not_found(not_found)
    app.exception_handler(Exception)(unexpected_error)
