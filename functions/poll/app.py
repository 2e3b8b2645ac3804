"""One step of the poll state machine (statemachine/poll.asl.json): look at the provider once,
record what changed, answer the next wait or `done`. `abort` ends a session the machine gave up on."""

from __future__ import annotations

import gc

# The collector is paused for the cold start: what the import makes lives as long as the container, and a
# collection now would traverse it for nothing (freeze_long_lived, at the end, freezes it and resumes them).
gc.disable()

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from idgate.follow_state import AbortRequest, FollowState
from idgate.logs import log_invocation
from idgate.wiring import default_service, freeze_long_lived

#: What this function's code does in AWS (through the layer: idgate.store, idgate.notify, ...), by resource as
#: template.yaml writes its ARN. Its role allows exactly this: tests/unit/test_least_privilege.py holds
#: template.yaml to it, and it to the calls the layer makes.
AWS_PERMISSIONS: dict[str, tuple[str, ...]] = {
    # sessions (read, record what the provider says), shared provider tokens
    "${SessionsTable.Arn}": ("dynamodb:GetItem", "dynamodb:UpdateItem"),
    "${EncryptionKey.Arn}": ("kms:Encrypt", "kms:Decrypt"),  # shared tokens
    # every provider's credentials
    (
        "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}"
        ":secret:${AWS::StackName}/providers/*"
    ): ("secretsmanager:GetSecretValue",),
    # a second factor's PIN, from SenderEmail only (a condition): any identity, as SES checks a sandbox
    # recipient's too
    "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/*": ("ses:SendEmail",),
    # a long follow-up's next execution
    "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:${AWS::StackName}-poll": (
        "states:StartExecution",
    ),
}

logger = Logger(service="idgate")


@log_invocation(logger)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # A malformed state is our own bug, never a caller's: let it fail the step loudly.
    if event.get("abort"):
        request = AbortRequest.model_validate(event)
        logger.thread_safe_append_keys(session_id=request.session_id)
        default_service().abort(request.session_id)
        return {"session_id": request.session_id, "done": True}
    state = FollowState.model_validate(event)
    logger.thread_safe_append_keys(session_id=state.session_id)
    return default_service().poll(state).model_dump()


# What the import made lives as long as the container: the garbage collector leaves it alone, and resumes
# (idgate.wiring).
freeze_long_lived()
