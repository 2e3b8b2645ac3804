"""Publishes final-status (and redaction) events from the sessions table's change stream (DynamoDB Streams).

Whatever wrote a final status (a poll step, a webhook, a PIN), its stream record reaches this function,
which publishes the session's event once (a claim on the session dedupes concurrent publishers). A
record whose publish fails is reported as a batch item failure, so Lambda retries it, and the records
after it in its shard, until EventBridge takes it: no final status can miss its event.
"""

from __future__ import annotations

import gc

# The collector is paused for the cold start: what the import makes lives as long as the container, and a
# collection now would traverse it for nothing (freeze_long_lived, at the end, freezes it and resumes them).
gc.disable()

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from idgate.batches import Image, is_true, stream_batch, text_of
from idgate.logs import log_invocation
from idgate.secrets_util import SESSION_ID
from idgate.wiring import default_announcer, freeze_long_lived

#: What this function's code does in AWS (through the layer: idgate.store, idgate.notify, ...), by resource as
#: template.yaml writes its ARN. Its role allows exactly this: tests/unit/test_least_privilege.py holds
#: template.yaml to it, and it to the calls the layer makes.
AWS_PERMISSIONS: dict[str, tuple[str, ...]] = {
    # read a final session, claim its event, mark it published (SAM adds the stream's read actions)
    "${SessionsTable.Arn}": ("dynamodb:GetItem", "dynamodb:UpdateItem"),
    "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/default": ("events:PutEvents",),
}

logger = Logger(service="idgate")


def announce(image: Image) -> None:
    session_id = text_of(image, "pk")
    # Only a session's writes after its final status (or its redaction), before its event is out, can need
    # an event: the table also holds other items (shared provider tokens), and most writes are of open
    # sessions.
    if session_id is None or not SESSION_ID.fullmatch(session_id):
        return
    final_due = "finalized_at" in image and not is_true(image, "event_published")
    redaction_due = "redacted_at" in image and not is_true(image, "redaction_published")
    if not final_due and not redaction_due:
        return
    logger.thread_safe_append_keys(session_id=session_id)
    announcer = default_announcer()
    # The final status first: a session redacted before its final event went out still gets it.
    if final_due and announcer.publish_final(session_id):
        logger.debug("final-status event ensured")
    if redaction_due and announcer.publish_redacted(session_id):
        logger.debug("redaction event ensured")


@log_invocation(logger)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # Each record's failure is reported for its retry (idgate.batches says why not Powertools' batch utility).
    return dict(stream_batch(event, announce))


# What the import made lives as long as the container: the garbage collector leaves it alone, and resumes
# (idgate.wiring).
freeze_long_lived()
