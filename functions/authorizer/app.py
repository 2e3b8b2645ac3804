"""API Gateway Lambda authorizer (payload 2.0, simple responses): API keys by hash, or a client secret
passed through for the session check."""

from __future__ import annotations

import gc

# The collector is paused for the cold start: what the import makes lives as long as the container, and a
# collection now would traverse it for nothing (freeze_long_lived, at the end, freezes it and resumes them).
gc.disable()

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from idgate.apikeys import authorize
from idgate.logs import log_invocation
from idgate.wiring import default_key_store, freeze_long_lived

#: What this function's code does in AWS (through the layer: idgate.store, idgate.notify, ...), by resource as
#: template.yaml writes its ARN. Its role allows exactly this: tests/unit/test_least_privilege.py holds
#: template.yaml to it, and it to the calls the layer makes.
AWS_PERMISSIONS: dict[str, tuple[str, ...]] = {
    "${KeysTable.Arn}": ("dynamodb:GetItem",),  # a key, by its hash
}

logger = Logger(service="idgate")


# `correlation_id` on every line: API Gateway's request id, the `requestId` of the request's access log line
# (and of every function the request reached).
@log_invocation(logger, correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return authorize(default_key_store(), event.get("headers") or {})


# What the import made lives as long as the container: the garbage collector leaves it alone, and resumes
# (idgate.wiring).
freeze_long_lived()
