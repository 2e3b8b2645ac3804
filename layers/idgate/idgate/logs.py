"""The keys every log line of an invocation carries (its function, request and session), kept per invocation.

Powertools' `append_keys` and `inject_lambda_context` keep their keys in the formatter of the `idgate`
logger, which every logger of the process shares (the layer's child loggers write through it). On Lambda a
process runs one invocation at a time, so that state is one invocation's. The local stack runs concurrent
invocations of every function in one process, and there a line could carry another invocation's function,
request or session. Keys added with `thread_safe_append_keys` live in a context variable instead, so each
invocation (each runs in its own context) labels its lines with its own keys, on Lambda as locally.
Handlers therefore use `log_invocation` and `thread_safe_append_keys`, never `append_keys`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.lambda_context import build_lambda_context_model
from aws_lambda_powertools.utilities.typing import LambdaContext

LambdaHandler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


def log_invocation(logger: Logger) -> Callable[[LambdaHandler], LambdaHandler]:
    """`inject_lambda_context(clear_state=True)` with the keys kept per invocation: every line of the
    invocation names its function, request id and cold start, and nothing of an earlier invocation."""

    def decorate(handler: LambdaHandler) -> LambdaHandler:
        # Per loaded handler, i.e. per execution environment (Powertools' flag is per process).
        cold = [True]

        @functools.wraps(handler)
        def invoke(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
            cold_start, cold[0] = cold[0], False
            logger.thread_safe_clear_keys()
            logger.thread_safe_append_keys(cold_start=cold_start, **vars(build_lambda_context_model(context)))
            try:
                return handler(event, context)
            finally:
                logger.thread_safe_clear_keys()

        return invoke

    return decorate
