"""Provider webhooks: `POST /v1/webhooks/{provider}/{token}`. The token in the path is the
per-deployment secret the provider's dashboard was given; the body is only a hint (see
Idgate.receive_webhook)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from idgate.http_api import install_error_handlers, json_response, request_bytes
from idgate.logs import log_invocation
from idgate.wiring import default_service

logger = Logger(service="idgate")
app = APIGatewayHttpResolver()
install_error_handlers(app, logger)


@app.post("/v1/webhooks/<provider>/<token>")
def receive(provider: str, token: str) -> Response[str]:
    logger.thread_safe_append_keys(provider=provider)
    headers = dict(app.current_event.headers)
    return json_response(200, default_service().receive_webhook(provider, token, headers, request_bytes(app)))


@log_invocation(logger)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
