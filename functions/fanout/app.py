"""Fans each session event out to the client's webhook endpoints, from the sessions table's change stream (the
same outbox as the final-status EventBridge event: functions/publisher).

A record of a session in a status that is an event (final, or a non-final change) becomes one delivery per
subscribed endpoint, its first try queued (idgate.hooks.fanout). A record whose fan-out fails is reported as a
batch item failure and retried with the records after it in its shard: no event is missed.
"""

from __future__ import annotations

import gc

# The collector is paused for the cold start: what the import makes lives as long as the container, and a
# collection now would traverse it for nothing (freeze_long_lived, at the end, freezes it and resumes them).
gc.disable()

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from idgate.batches import Image, is_true, plain_image, stream_batch, text_of
from idgate.logs import log_invocation
from idgate.secrets_util import SESSION_ID
from idgate.wiring import default_fanout, freeze_long_lived

#: What this function's code does in AWS (through the layer: idgate.hooks.store, idgate.hooks.queue), by
#: resource
#: as template.yaml writes its ARN. Its role allows exactly this: tests/unit/test_least_privilege.py holds
#: template.yaml to it, and it to the calls the layer makes.
AWS_PERMISSIONS: dict[str, tuple[str, ...]] = {
    # the client's endpoints, its deliveries (stored once, marked queued), the events fanned out
    "${WebhooksTable.Arn}": ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"),
    "${WebhookDeliveryQueue.Arn}": ("sqs:SendMessage",),  # each delivery's first try
}

logger = Logger(service="idgate")


def fan_out(image: Image) -> None:
    session_id = text_of(image, "pk")
    # Sessions only (the table holds other items too); a final session's records after its event went out
    # (`event_published`) come after the record that finalized it, which was fanned out.
    if session_id is None or not SESSION_ID.fullmatch(session_id):
        return
    logger.thread_safe_append_keys(session_id=session_id)
    # A redaction (DELETE /v1/sessions/{id}) erases the payloads kept for the session's deliveries too; the
    # records after it (its event marked published) have nothing more to do.
    if "redacted_at" in image:
        if not is_true(image, "redaction_published"):
            default_fanout().session_redacted(session_id)
        return
    if is_true(image, "event_published"):
        return
    from idgate.session_writes import session_from_item  # with the fan-out's dependencies, not at cold start

    default_fanout().session_changed(session_from_item(plain_image(image)))


@log_invocation(logger)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # Each record's failure is reported for its retry (idgate.batches says why not Powertools' batch utility).
    return dict(stream_batch(event, fan_out))


# What the import made lives as long as the container: the garbage collector leaves it alone, and resumes
# (idgate.wiring).
freeze_long_lived()
