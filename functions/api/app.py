"""The public idgate HTTP API (API Gateway HTTP API, payload 2.0). Routes parse, call one use case
of the shared package, and map the answer; errors become JSON in one place below."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from idgate.api import MAX_BODY_BYTES, Caller, PinRequest, created_view, session_view
from idgate.errors import IdgateError, InvalidJson, PayloadTooLarge, Unauthorized
from idgate.service import Idgate
from idgate.validation import validation_failed
from idgate.wiring import default_service

logger = Logger(service="idgate")
app = APIGatewayHttpResolver()

#: Tests may replace the service; by default it is built from the settings on first use.
service_override: Idgate | None = None


def service() -> Idgate:
    return service_override or default_service()


def json_response(status: int, body: Any) -> Response:
    return Response(
        status_code=status,
        content_type="application/json",
        body=json.dumps(body),
        headers={"Cache-Control": "no-store"},
    )


def caller() -> Caller:
    context = app.current_event.request_context.authorizer.get_lambda or {}
    try:
        return Caller.model_validate(context)
    except ValidationError as exc:
        raise Unauthorized("missing credentials") from exc


def json_body() -> dict[str, Any]:
    raw = app.current_event.decoded_body or ""
    if len(raw.encode()) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the body exceeds {MAX_BODY_BYTES} bytes")
    try:
        body = json.loads(raw) if raw.strip() else None
    except ValueError as exc:
        raise InvalidJson("the body is not valid JSON") from exc
    if not isinstance(body, dict):
        raise InvalidJson("the body must be a JSON object")
    return body


@app.get("/v1/health")
def health() -> Response:
    return json_response(200, {"status": "ok"})


@app.post("/v1/sessions")
def create_session() -> Response:
    session, client_secret, qr_code = service().create_session(caller(), json_body())
    return json_response(201, created_view(session, client_secret=client_secret, qr_code=qr_code))


@app.get("/v1/sessions/<session_id>")
def get_session(session_id: str) -> Response:
    client_secret = app.current_event.headers.get("x-client-secret")
    return json_response(200, session_view(service().get_session(caller(), session_id, client_secret)))


@app.post("/v1/sessions/<session_id>/pin")
def submit_pin(session_id: str) -> Response:
    body = json_body()
    try:
        request = PinRequest.model_validate(body)
    except ValidationError as exc:
        raise validation_failed(exc) from exc
    client_secret = app.current_event.headers.get("x-client-secret")
    session = service().submit_pin(caller(), session_id, client_secret, request.pin)
    return json_response(200, session_view(session))


@app.exception_handler(IdgateError)
def idgate_error(exc: IdgateError) -> Response:
    logger.info("request refused", code=exc.code, status=exc.status)
    return json_response(exc.status, {"error": {"code": exc.code, "message": exc.message, **exc.details}})


@app.not_found
def not_found(_: Exception) -> Response:
    return json_response(404, {"error": {"code": "route_not_found", "message": "no such route"}})


@app.exception_handler(Exception)
def unexpected_error(exc: Exception) -> Response:
    logger.exception("unexpected error")
    return json_response(
        500, {"error": {"code": "internal_error", "message": "something went wrong on our side"}}
    )


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
