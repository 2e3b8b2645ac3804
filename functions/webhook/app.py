"""Provider webhooks: `POST /v1/webhooks/{provider}/{token}`. The token in the path is the
per-deployment secret the provider's dashboard was given; the body is only a hint (see
Idgate.receive_webhook)."""

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

from idgate.http_api import install_error_handlers, json_response, request_bytes
from idgate.logs import log_invocation
from idgate.wiring import default_service, freeze_long_lived

#: What this function's code does in AWS (through the layer: idgate.store, idgate.notify, ...), by resource as
#: template.yaml writes its ARN. Its role allows exactly this: tests/unit/test_least_privilege.py holds
#: template.yaml to it, and it to the calls the layer makes.
AWS_PERMISSIONS: dict[str, tuple[str, ...]] = {
    # sessions (read, record what the provider says), shared provider tokens
    "${SessionsTable.Arn}": ("dynamodb:GetItem", "dynamodb:UpdateItem"),
    "${SessionsTable.Arn}/index/by_provider_ref": ("dynamodb:Query",),  # the sessions a webhook names
    "${EncryptionKey.Arn}": ("kms:Encrypt", "kms:Decrypt"),  # shared tokens
    # every provider's credentials
    (
        "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}"
        ":secret:${AWS::StackName}/providers/*"
    ): ("secretsmanager:GetSecretValue",),
    "${WebhookSecret}": ("secretsmanager:GetSecretValue",),  # the path token it checks
    # No email: a webhook can move a session to awaiting_pin only for a provider that takes webhooks and
    # has a second factor, and none has (a test says so).
}

logger = Logger(service="idgate")
app = APIGatewayHttpResolver()
install_error_handlers(app, logger)


@app.post("/v1/webhooks/<provider>/<token>")
def receive(provider: str, token: str) -> Response[str]:
    logger.thread_safe_append_keys(provider=provider)
    headers = dict(app.current_event.headers)
    return json_response(200, default_service().receive_webhook(provider, token, headers, request_bytes(app)))


# `correlation_id` on every line: API Gateway's request id, the `requestId` of the request's access log line
# (and of every function the request reached).
@log_invocation(logger, correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)


# What the import made lives as long as the container: the garbage collector leaves it alone, and resumes
# (idgate.wiring).
freeze_long_lived()
