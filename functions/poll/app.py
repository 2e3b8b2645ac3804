"""One step of the poll state machine (statemachine/poll.asl.json): look at the provider once,
record what changed, answer the next wait or `done`. `abort` ends a session the machine gave up on."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from idgate.wiring import default_service

logger = Logger(service="idgate")


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(session_id=event.get("session_id"))
    if event.get("abort"):
        return default_service().abort(event)
    return default_service().poll(event)
