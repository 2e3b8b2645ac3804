"""The keys every log line of an invocation carries (its function, request, API request and session), kept
per invocation.

Powertools' `append_keys` and `inject_lambda_context` keep their keys in the formatter of the `idgate`
logger, which every logger of the process shares (the layer's child loggers write through it). On Lambda a
process runs one invocation at a time, so that state is one invocation's. The local stack runs concurrent
invocations of every function in one process, and there a line could carry another invocation's function,
request or session. Keys added with `thread_safe_append_keys` live in a context variable instead, so each
invocation (each runs in its own context) labels its lines with its own keys, on Lambda as locally; the
layer's child loggers read the same context variable, so their lines carry the keys too.
Handlers therefore use `log_invocation` and `thread_safe_append_keys`, never `append_keys`; the layer uses
`label_lines`.
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.exceptions import OrphanedChildLoggerError
from aws_lambda_powertools.logging.lambda_context import build_lambda_context_model
from aws_lambda_powertools.utilities.typing import LambdaContext

LambdaHandler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]

#: Keys separated by dots, such as Powertools' `correlation_paths.API_GATEWAY_HTTP`. Not JMESPath, which
#: Powertools uses: a walk through nested dicts is all these paths need, on every invocation.
_DOTTED_PATH = re.compile(r"[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*")


def log_invocation(
    logger: Logger, *, correlation_id_path: str | None = None
) -> Callable[[LambdaHandler], LambdaHandler]:
    """`inject_lambda_context(clear_state=True, correlation_id_path=...)` with the keys kept per invocation:
    every line of the invocation names its function, request id and cold start, its `correlation_id` (the
    value at `correlation_id_path` in the event, e.g. API Gateway's request id), and nothing of an earlier
    invocation."""
    if correlation_id_path is not None and not _DOTTED_PATH.fullmatch(correlation_id_path):
        raise ValueError(f"correlation_id_path must be keys separated by dots, not {correlation_id_path!r}")

    def decorate(handler: LambdaHandler) -> LambdaHandler:
        # Per loaded handler, i.e. per execution environment (Powertools' flag is per process).
        cold = [True]

        @functools.wraps(handler)
        def invoke(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
            cold_start, cold[0] = cold[0], False
            logger.thread_safe_clear_keys()
            keys: dict[str, Any] = {"cold_start": cold_start, **vars(build_lambda_context_model(context))}
            correlation_id = _at(event, correlation_id_path) if correlation_id_path else None
            if correlation_id is not None:
                keys["correlation_id"] = correlation_id  # Powertools' name for it
            logger.thread_safe_append_keys(**keys)
            try:
                return handler(event, context)
            finally:
                logger.thread_safe_clear_keys()

        return invoke

    return decorate


def label_lines(logger: Logger, **keys: str) -> None:
    """Adds keys to the rest of this invocation's lines, from the layer's child loggers (a session, once the
    layer knows it). Without a handler's logger (the layer driven by a test or a script) Powertools has no
    formatter to keep keys for, and no line to label: nothing to do."""
    with contextlib.suppress(OrphanedChildLoggerError):
        logger.thread_safe_append_keys(**keys)


def _at(event: Any, path: str) -> str | None:
    """The string at `path` in the event; None when the event has none there."""
    value = event
    for key in path.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, str) and value else None
