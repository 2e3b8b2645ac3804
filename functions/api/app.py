"""The public idgate HTTP API (API Gateway HTTP API, payload 2.0). Routes parse, call one use case
of the shared package, and map the answer; errors become JSON in one place (idgate.http_api)."""

from __future__ import annotations

import gc

# The collector is paused for the cold start: what the import makes lives as long as the container, and a
# collection now would traverse it for nothing (freeze_long_lived, at the end, freezes it and resumes them).
gc.disable()

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from idgate.api import PinRequest, created_view, session_view
from idgate.hooks.contract import created_endpoint_view, delivery_view, endpoint_view
from idgate.http_api import (
    api_base_url,
    install_error_handlers,
    json_response,
    request_caller,
    request_json,
)
from idgate.logs import log_invocation
from idgate.secrets_util import SESSION_ID
from idgate.settings import get_settings
from idgate.validation import validation_failed
from idgate.wiring import default_service, default_webhook_endpoints, freeze_long_lived

#: What this function's code does in AWS (through the layer: idgate.store, idgate.notify, ...), by resource as
#: template.yaml writes its ARN. Its role allows exactly this: tests/unit/test_least_privilege.py holds
#: template.yaml to it, and it to the calls the layer makes.
AWS_PERMISSIONS: dict[str, tuple[str, ...]] = {
    # sessions (create, read, PIN tries), idempotency keys (claim, complete, release), shared provider tokens
    "${SessionsTable.Arn}": (
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
    ),
    "${SessionsTable.Arn}/index/open_by_client": ("dynamodb:Query",),  # a client's open sessions, counted
    # shared tokens, replayable client secrets, webhook endpoints' signing keys
    "${EncryptionKey.Arn}": ("kms:Encrypt", "kms:Decrypt"),
    # every provider's credentials
    (
        "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}"
        ":secret:${AWS::StackName}/providers/*"
    ): ("secretsmanager:GetSecretValue",),
    "${WebhookSecret}": ("secretsmanager:GetSecretValue",),  # webhook URLs given to providers
    # following a new session: its fast phase (Express), or the long phase for a provider without one
    (
        "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}"
        ":stateMachine:${AWS::StackName}-fast-follow"
    ): ("states:StartExecution",),
    "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:${AWS::StackName}-poll": (
        "states:StartExecution",
    ),
    # webhook endpoints (register, list, remove, rotate) and their deliveries (list, replay)
    "${WebhooksTable.Arn}": (
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:Query",
    ),
    "${WebhookDeliveryQueue.Arn}": ("sqs:SendMessage",),  # a replay's first tries
}

logger = Logger(service="idgate")
app = APIGatewayHttpResolver()
install_error_handlers(app, logger)


def label_session(session_id: str) -> None:
    """The request's remaining lines carry the session its path names. Only a well-formed id: anything else
    names no session, and is the caller's text, which no line repeats."""
    if SESSION_ID.fullmatch(session_id):
        logger.thread_safe_append_keys(session_id=session_id)


@app.get("/v1/health")
def health() -> Response[str]:
    return json_response(200, {"status": "ok"})


@app.post("/v1/sessions")
def create_session() -> Response[str]:
    session, client_secret, qr_code = default_service().create_session(
        request_caller(app),
        request_json(app),
        api_base_url=api_base_url(app, get_settings().public_api_url),
        idempotency_key=app.current_event.headers.get("idempotency-key"),
    )
    return json_response(201, created_view(session, client_secret=client_secret, qr_code=qr_code))


@app.get("/v1/sessions/<session_id>")
def get_session(session_id: str) -> Response[str]:
    label_session(session_id)
    client_secret = app.current_event.headers.get("x-client-secret")
    return json_response(
        200, session_view(default_service().get_session(request_caller(app), session_id, client_secret))
    )


@app.post("/v1/sessions/<session_id>/pin")
def submit_pin(session_id: str) -> Response[str]:
    label_session(session_id)
    try:
        request = PinRequest.model_validate(request_json(app))
    except ValidationError as exc:
        raise validation_failed(exc) from exc
    client_secret = app.current_event.headers.get("x-client-secret")
    session = default_service().submit_pin(request_caller(app), session_id, client_secret, request.pin)
    return json_response(200, session_view(session))


@app.post("/v1/sessions/<session_id>/cancel")
def cancel_session(session_id: str) -> Response[str]:
    label_session(session_id)
    return json_response(200, session_view(default_service().cancel_session(request_caller(app), session_id)))


@app.delete("/v1/sessions/<session_id>")
def redact_session(session_id: str) -> Response[str]:
    label_session(session_id)
    return json_response(200, session_view(default_service().redact_session(request_caller(app), session_id)))


@app.get("/v1/sessions/<session_id>/history")
def session_history(session_id: str) -> Response[str]:
    label_session(session_id)
    return json_response(200, default_service().session_history(request_caller(app), session_id))


@app.get("/v1/sessions/<session_id>/images/<side>")
def session_image(session_id: str, side: str) -> Response[bytes]:
    label_session(session_id)
    redacted = (app.current_event.get_query_string_value("redacted") or "true").lower() != "false"
    image = default_service().image(request_caller(app), session_id, side, redacted=redacted)
    # A bytes body goes out base64-encoded with isBase64Encoded, which API Gateway decodes for the client.
    return Response(
        status_code=200,
        content_type=image.content_type,
        body=image.content,
        headers={
            "Cache-Control": "no-store",
            "Content-Disposition": f'inline; filename="{side}"',
            "X-Content-Type-Options": "nosniff",
        },
    )


@app.get("/v1/routing")
def routing_policy() -> Response[str]:
    return json_response(200, default_service().routing_policy(request_caller(app)))


@app.put("/v1/routing")
def replace_routing_policy() -> Response[str]:
    body = request_json(app)
    return json_response(200, default_service().replace_routing_policy(request_caller(app), body))


@app.get("/v1/providers")
def providers() -> Response[str]:
    return json_response(200, default_service().providers())


@app.get("/v1/providers/<provider>/webhook")
def provider_webhook(provider: str) -> Response[str]:
    base_url = api_base_url(app, get_settings().public_api_url)
    return json_response(200, default_service().webhook_url(request_caller(app), provider, base_url))


@app.get("/v1/providers/<provider>/<resource>")
def provider_resource(provider: str, resource: str) -> Response[str]:
    return json_response(200, default_service().provider_resource(request_caller(app), provider, resource))


# ---- webhook endpoints (idgate.hooks) ----------------------------------------------------------------------


@app.post("/v1/webhook-endpoints")
def create_webhook_endpoint() -> Response[str]:
    endpoint, secret = default_webhook_endpoints().create(request_caller(app), request_json(app))
    return json_response(201, created_endpoint_view(endpoint, secret))


@app.get("/v1/webhook-endpoints")
def list_webhook_endpoints() -> Response[str]:
    endpoints = default_webhook_endpoints().all(request_caller(app))
    return json_response(200, {"endpoints": [endpoint_view(endpoint) for endpoint in endpoints]})


@app.delete("/v1/webhook-endpoints/<endpoint_id>")
def delete_webhook_endpoint(endpoint_id: str) -> Response[str]:
    default_webhook_endpoints().delete(request_caller(app), endpoint_id)
    return json_response(200, {"id": endpoint_id, "deleted": True})


@app.post("/v1/webhook-endpoints/<endpoint_id>/rotate-secret")
def rotate_webhook_secret(endpoint_id: str) -> Response[str]:
    endpoint, secret = default_webhook_endpoints().rotate(request_caller(app), endpoint_id)
    return json_response(200, created_endpoint_view(endpoint, secret))


@app.get("/v1/webhook-endpoints/<endpoint_id>/deliveries")
def webhook_deliveries(endpoint_id: str) -> Response[str]:
    query = app.current_event
    deliveries, cursor = default_webhook_endpoints().delivery_page(
        request_caller(app),
        endpoint_id,
        limit=query.get_query_string_value("limit"),
        cursor=query.get_query_string_value("cursor"),
    )
    return json_response(
        200, {"deliveries": [delivery_view(delivery) for delivery in deliveries], "next_cursor": cursor}
    )


@app.post("/v1/webhook-endpoints/<endpoint_id>/replay")
def replay_webhooks(endpoint_id: str) -> Response[str]:
    replayed = default_webhook_endpoints().replay(request_caller(app), endpoint_id, request_json(app))
    return json_response(202, {"replayed": replayed})


# `correlation_id` on every line: API Gateway's request id, the `requestId` of the request's access log line
# (and of every function the request reached).
@log_invocation(logger, correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)


# What the import made lives as long as the container: the garbage collector leaves it alone, and resumes
# (idgate.wiring).
freeze_long_lived()
