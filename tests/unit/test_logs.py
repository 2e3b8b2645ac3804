"""Each log line names its own invocation's function, request and session, even when invocations of
several functions run at once in one process (the local stack runs them so)."""

from __future__ import annotations

import json
import logging
import re
import sys
import textwrap
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools import Logger

from devstack.lambdas import LambdaContext, Lambdas
from devstack.template import Function
from idgate.logs import log_invocation

REPO = Path(__file__).resolve().parents[2]

#: A handler as ours are written: the function's logger, its session key, and the layer's child logger.
HANDLER = """
from aws_lambda_powertools import Logger
from idgate.logs import log_invocation
import devstack_test_layer_steps as steps

logger = Logger(service="idgate")

@log_invocation(logger)
def handler(event, context):
    logger.thread_safe_append_keys(session_id=event["session"])
    steps.work(event["marker"])
    logger.info("done", marker=event["marker"])
    return {"request": context.aws_request_id}
"""

#: Shared code, as the idgate layer's modules are: a child logger of the `idgate` logger.
STEPS = """
import random, time
from aws_lambda_powertools import Logger

logger = Logger(service="idgate", child=True)

def work(marker):
    for step in range(3):
        time.sleep(random.uniform(0, 0.01))  # lets the other invocations log in between
        logger.info("step", marker=marker, step=step)
"""

FUNCTIONS = ("Api", "Webhook", "Poll")


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def lambdas(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Lambdas:
    monkeypatch.setattr(sys, "path", list(sys.path))  # Lambdas puts the layer on it for good
    (tmp_path / "layer").mkdir()
    (tmp_path / "layer" / "devstack_test_layer_steps.py").write_text(textwrap.dedent(STEPS))
    functions = {}
    for name in FUNCTIONS:
        (tmp_path / name).mkdir()
        (tmp_path / name / "app.py").write_text(textwrap.dedent(HANDLER))
        arn = f"arn:aws:lambda:us-east-1:123456789012:function:idgate-{name}"
        functions[name] = Function(name, f"idgate-{name}", arn, tmp_path / name, "app.handler", {}, 3, 128)
    lambdas = Lambdas(functions, layers=[tmp_path / "layer"], concurrency=8)
    lambdas.load_all()  # the `idgate` logger and its formatter exist from here
    return lambdas


@pytest.fixture
def captured() -> Iterator[Lines]:
    """Every line of the `idgate` logger and its children, as its own handler formats it."""
    Logger(service="idgate")  # the first one in the process sets the handler and its formatter up
    parent = logging.getLogger("idgate")
    lines = Lines()
    lines.setFormatter(parent.powertools_handler.formatter)  # type: ignore[attr-defined]
    parent.addHandler(lines)
    yield lines
    parent.removeHandler(lines)


def test_concurrent_invocations_of_several_functions_label_each_line_with_their_own_keys(
    lambdas: Lambdas, captured: Lines
) -> None:
    # Given 60 invocations of three functions, each for its own session, all at once
    calls = [(FUNCTIONS[n % 3], {"session": f"ses_{n}", "marker": n}) for n in range(60)]

    # When they run concurrently
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        results = list(pool.map(lambda call: lambdas.invoke(*call), calls))

    # Then every line carries the function, request and session of the invocation that wrote it
    assert len(captured.lines) == 60 * 4
    for line in captured.lines:
        n = line["marker"]
        function, event = calls[n]
        labels = (line["function_name"], line["function_request_id"], line.get("session_id"))
        assert labels == (f"idgate-{function}", results[n]["request"], event["session"]), line
    # ...and the keys left nothing behind in the process-wide formatter
    assert not {"function_name", "session_id"} & set(captured.formatter.log_format)  # type: ignore[union-attr]


def test_an_invocation_starts_without_the_keys_of_the_one_before(captured: Lines) -> None:
    # Given a handler that logs, then adds its session, invoked one after the other in one thread (Lambda)
    logger = Logger(service="idgate")

    @log_invocation(logger)
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        logger.info("start", marker=event["n"])
        logger.thread_safe_append_keys(session_id=f"ses_{event['n']}")
        return {}

    # When it is invoked twice
    handler({"n": 1}, LambdaContext("F", "arn:f"))
    handler({"n": 2}, LambdaContext("F", "arn:f"))

    # Then the second's first line has no session of the first; only the first was a cold start
    seen = [(line["marker"], line.get("session_id"), line["cold_start"]) for line in captured.lines]
    assert seen == [(1, None, True), (2, None, False)]


@pytest.mark.parametrize("root", ["functions", "layers/idgate/idgate"])
def test_handlers_and_the_layer_keep_log_keys_per_invocation(root: str) -> None:
    # Process-wide keys (`append_keys`, `inject_lambda_context`) would label other invocations' lines.
    shared = re.compile(r"(?<!thread_safe_)append_keys\(|inject_lambda_context|structure_logs\(")
    offenders = [
        f"{path.relative_to(REPO)}:{number}"
        for path in sorted((REPO / root).rglob("*.py"))
        if path != REPO / "layers/idgate/idgate/logs.py"  # which explains why
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if shared.search(line)
    ]
    assert offenders == []
