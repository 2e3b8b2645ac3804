"""Key administration, invoked directly (not through the API):
`{"action": "create", "kind": "secret"|"publishable", "client_id"?: ..., "name"?: ...}`,
`{"action": "import", "key": "sk_...", "client_id": ...}`, `{"action": "list"}`,
`{"action": "revoke", "key_id": ...}`."""

from __future__ import annotations

import gc

# The collector is paused for the cold start: what the import makes lives as long as the container, and a
# collection now would traverse it for nothing (freeze_long_lived, at the end, freezes it and resumes them).
gc.disable()

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from idgate.errors import IdgateError
from idgate.key_admin import administer
from idgate.logs import log_invocation
from idgate.wiring import default_key_store, freeze_long_lived

#: What this function's code does in AWS (through the layer: idgate.store, idgate.notify, ...), by resource as
#: template.yaml writes its ARN. Its role allows exactly this: tests/unit/test_least_privilege.py holds
#: template.yaml to it, and it to the calls the layer makes.
AWS_PERMISSIONS: dict[str, tuple[str, ...]] = {
    # create and import (put; read back on a conflict), revoke (update), list (scan)
    "${KeysTable.Arn}": ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Scan"),
}

logger = Logger(service="idgate")


@log_invocation(logger)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        return administer(default_key_store(), event, now=lambda: datetime.now(UTC))
    except IdgateError as exc:
        return {"error": {"code": exc.code, "message": exc.message, **exc.details}}


# What the import made lives as long as the container: the garbage collector leaves it alone, and resumes
# (idgate.wiring).
freeze_long_lived()
