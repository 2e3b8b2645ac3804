"""Delivers signed webhooks, one try per message of the delivery queue (SQS), as idgate.hooks.delivery says:
the next try, or the dead-letter queue, is a new message; so a message is done once its try ran, whatever came
of it. A message that cannot be read or whose handling fails is reported as a batch item failure: SQS offers
it again after its visibility timeout, and moves it to the dead-letter queue after a few receives."""

from __future__ import annotations

import gc

# The collector is paused for the cold start: what the import makes lives as long as the container, and a
# collection now would traverse it for nothing (freeze_long_lived, at the end, freezes it and resumes them).
gc.disable()

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from idgate.batches import queue_batch
from idgate.logs import log_invocation
from idgate.wiring import default_deliverer, freeze_long_lived

#: What this function's code does in AWS (through the layer: idgate.hooks.store, .sealing, .queue), by
#: resource as
#: template.yaml writes its ARN. Its role allows exactly this: tests/unit/test_least_privilege.py holds
#: template.yaml to it, and it to the calls the layer makes.
AWS_PERMISSIONS: dict[str, tuple[str, ...]] = {
    # the delivery (take a try, record it), its endpoint (read, mark failing or healthy)
    "${WebhooksTable.Arn}": ("dynamodb:GetItem", "dynamodb:UpdateItem"),
    "${EncryptionKey.Arn}": ("kms:Decrypt",),  # the endpoint's signing keys
    "${WebhookDeliveryQueue.Arn}": (
        "sqs:SendMessage",
    ),  # the next try (SAM adds the queue's receive actions)
    "${WebhookDeadLetterQueue.Arn}": ("sqs:SendMessage",),  # a series whose tries are all used
}

logger = Logger(service="idgate")


def deliver(body: str) -> None:
    from idgate.hooks.model import Attempt  # with the deliverer's dependencies, not at cold start

    attempt = Attempt.model_validate_json(body)
    logger.thread_safe_append_keys(endpoint_id=attempt.endpoint_id, event_id=attempt.event_id)
    outcome = default_deliverer().handle(attempt)
    logger.info("webhook try", attempt=attempt.attempt, series=attempt.series, outcome=outcome)


@log_invocation(logger)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # Each message's failure is reported for its retry (idgate.batches: why not Powertools' batch utility).
    return dict(queue_batch(event, deliver))


# What the import made lives as long as the container: the garbage collector leaves it alone, and resumes
# (idgate.wiring).
freeze_long_lived()
