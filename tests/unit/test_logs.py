"""Each log line names its own invocation's function, request, API request (`correlation_id`) and session,
even when invocations of several functions run at once in one process (the local stack runs them so), and
the lines the layer logs carry them as the handler's do."""

from __future__ import annotations

import contextvars
import importlib.util
import json
import logging
import random
import re
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths

from devstack.isolation import isolate_powertools_requests
from devstack.lambdas import LambdaContext, Lambdas
from devstack.template import Function
from idgate.errors import ProviderUnavailable
from idgate.logs import log_invocation
from idgate.providers.base import NewVerification, StartRequest
from tests.support.caches import reset_idgate_caches
from tests.support.world import EXPIRES_AT, VERIFICATION_URL, make_world

REPO = Path(__file__).resolve().parents[2]
EVENTS = REPO / "events"

#: A handler as ours are written: the function's logger, its session key, and the layer's child logger.
HANDLER = """
from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths
from idgate.logs import log_invocation
import devstack_test_layer_steps as steps

logger = Logger(service="idgate")

@log_invocation(logger, correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
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
    # Given 60 invocations of three functions, each for its own API request and session, all at once
    calls = [
        (FUNCTIONS[n % 3], {"session": f"ses_{n}", "marker": n, "requestContext": {"requestId": f"req-{n}"}})
        for n in range(60)
    ]

    # When they run concurrently
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        results = list(pool.map(lambda call: lambdas.invoke(*call), calls))

    # Then every line, the shared code's too, carries the function, request, API request and session of the
    # invocation that wrote it
    assert len(captured.lines) == 60 * 4
    for line in captured.lines:
        n = line["marker"]
        function, event = calls[n]
        labels = tuple(line.get(key) for key in ("function_name", "function_request_id", "correlation_id"))
        assert labels == (f"idgate-{function}", results[n]["request"], f"req-{n}"), line
        assert line.get("session_id") == event["session"], line
    # ...and the keys left nothing behind in the process-wide formatter
    shared_keys = set(captured.formatter.log_format)  # type: ignore[union-attr]
    assert not {"function_name", "correlation_id", "session_id"} & shared_keys


def test_an_invocation_starts_without_the_keys_of_the_one_before(captured: Lines) -> None:
    # Given a handler that logs, then adds its session, invoked one after the other in one thread (Lambda)
    logger = Logger(service="idgate")

    @log_invocation(logger, correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        logger.info("start", marker=event["n"])
        logger.thread_safe_append_keys(session_id=f"ses_{event['n']}")
        return {}

    # When it is invoked twice, the first time by an API request, the second time not
    handler({"n": 1, "requestContext": {"requestId": "req-1"}}, LambdaContext("F", "arn:f"))
    handler({"n": 2}, LambdaContext("F", "arn:f"))

    # Then the second's first line has no session or API request of the first; only the first was a cold start
    keys = ("marker", "correlation_id", "session_id", "cold_start")
    seen = [tuple(line.get(key) for key in keys) for line in captured.lines]
    assert seen == [(1, "req-1", None, True), (2, None, None, False)]


@pytest.mark.parametrize("path", ['headers."x-amzn-trace-id"', "Records[0].eventID", ""])
def test_a_correlation_id_path_is_keys_separated_by_dots(path: str) -> None:
    # JMESPath that a walk through dicts would silently read as nothing is refused at once.
    with pytest.raises(ValueError, match="correlation_id_path"):
        log_invocation(Logger(service="idgate"), correlation_id_path=path)


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


# ---- the real handlers, on the use cases with fakes --------------------------------------------------------


def sample(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return event


@pytest.fixture
def load_app(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], ModuleType]]:
    """Imports functions/<name>/app.py as Lambda does (once per test: its resolver and logger are fresh)."""
    monkeypatch.setenv("SESSIONS_TABLE", "sessions")  # read by the settings, never reached here
    monkeypatch.setenv("KEYS_TABLE", "keys")
    reset_idgate_caches()
    # One module serves concurrent requests here: its resolver's current request must be per context, as the
    # local stack makes it (on Lambda each request has its process).
    isolate_powertools_requests()
    loaded: list[str] = []

    def load(name: str) -> ModuleType:
        unique = f"test_logs_{name}_app"
        spec = importlib.util.spec_from_file_location(unique, REPO / "functions" / name / "app.py")
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[unique] = module
        loaded.append(unique)
        spec.loader.exec_module(module)
        return module

    yield load
    for unique in loaded:
        del sys.modules[unique]
    reset_idgate_caches()


def lambda_context(function: str) -> LambdaContext:
    return LambdaContext(f"idgate-{function}", f"arn:aws:lambda:us-east-1:123456789012:function:{function}")


def invoke(module: ModuleType, event: dict[str, Any], context: LambdaContext) -> Any:
    # In a context of its own, as each Lambda invocation (and each of the local stack's) runs.
    return contextvars.copy_context().run(module.handler, event, context)


def test_concurrent_api_requests_label_the_layers_lines_with_their_api_request_and_session(
    load_app: Callable[[str], ModuleType], monkeypatch: pytest.MonkeyPatch, captured: Lines
) -> None:
    # Given the API's handler on the use cases, with a provider that is slow to answer and refuses every other
    # start: the layer then logs that the provider is unreachable without naming the session itself
    api = load_app("api")
    service, provider, _, _ = make_world()
    monkeypatch.setattr(api, "default_service", lambda: service)
    started: dict[str | None, str] = {}  # the session id the provider was asked to start, by reference

    def start(request: StartRequest) -> NewVerification:
        started[request.reference] = request.session_id
        time.sleep(random.uniform(0, 0.01))  # lets the other requests log in between
        if int(str(request.reference).rsplit("-", 1)[1]) % 2:
            raise ProviderUnavailable("provider_unreachable", "no answer")
        return NewVerification(VERIFICATION_URL, EXPIRES_AT, f"ref-{request.reference}")

    monkeypatch.setattr(provider, "start", start)
    requests = []
    for n in range(30):
        event = sample("api-create-session.json")
        event["requestContext"]["requestId"] = f"req-{n}"
        event["body"] = json.dumps({"provider": "fake", "reference": f"order-{n}"})
        requests.append((event, lambda_context("api")))

    # When they are served at once
    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        answers = list(pool.map(lambda request: invoke(api, *request), requests))

    # Then the even ones created their session and the odd ones were refused
    assert [answer["statusCode"] for answer in answers] == [201, 502] * 15
    assert json.loads(answers[0]["body"])["id"] == started["order-0"]
    # ...and every line of each, the layer's included, carries its API request and its session
    by_invocation = {context.aws_request_id: n for n, (_, context) in enumerate(requests)}
    messages: dict[int, set[str]] = {n: set() for n in range(30)}
    for line in captured.lines:
        n = by_invocation[line["function_request_id"]]
        labels = (line.get("correlation_id"), line.get("session_id"))
        assert labels == (f"req-{n}", started[f"order-{n}"]), line
        messages[n].add(line["message"])
    for n, seen in messages.items():
        expected = {"provider unreachable at start", "request refused"} if n % 2 else {"session created"}
        assert seen == expected, n


class NoKeys:
    def get(self, key_hash: str) -> None:
        return None


@pytest.mark.parametrize(
    ("function", "sample_name", "message"),
    [
        ("authorizer", "authorizer-request.json", "API key refused"),  # from idgate.apikeys: no such key here
        ("webhook", "webhook-okid.json", "request refused"),  # from idgate.http_api: no okID here
    ],
)
def test_the_authorizers_and_the_webhooks_lines_carry_the_api_request_id(
    load_app: Callable[[str], ModuleType],
    monkeypatch: pytest.MonkeyPatch,
    captured: Lines,
    function: str,
    sample_name: str,
    message: str,
) -> None:
    # Given the function's handler on fakes that know nothing
    app = load_app(function)
    monkeypatch.setattr(app, "default_key_store", NoKeys, raising=False)
    monkeypatch.setattr(app, "default_service", lambda: make_world()[0], raising=False)
    event = sample(sample_name)

    # When API Gateway invokes it with its sample event
    invoke(app, event, lambda_context(function))

    # Then the layer's line carries the API request's id
    [line] = [line for line in captured.lines if line["message"] == message]
    assert line.get("correlation_id") == event["requestContext"]["requestId"]


@pytest.mark.parametrize(
    ("path", "session_id"),
    [
        ("/v1/sessions/ses_nosuchsession000000", "ses_nosuchsession000000"),
        ("/v1/sessions/ses_nosuchsession000000/images/front", "ses_nosuchsession000000"),
        ("/v1/sessions/not-a-session", None),  # the caller's text: never repeated in a line
    ],
)
def test_a_request_for_a_session_labels_its_lines_with_the_session_it_names(
    load_app: Callable[[str], ModuleType],
    monkeypatch: pytest.MonkeyPatch,
    captured: Lines,
    path: str,
    session_id: str | None,
) -> None:
    # Given the API's handler on an empty world
    api = load_app("api")
    monkeypatch.setattr(api, "default_service", lambda: make_world()[0])
    event = sample("api-create-session.json")
    event.update(rawPath=path, routeKey="$default", body=None)
    event["requestContext"]["http"].update(method="GET", path=path)

    # When the session is asked for
    answer = invoke(api, event, lambda_context("api"))

    # Then it is not found, and the refusal's line names the API request and the session (a real one only)
    assert answer["statusCode"] == 404
    [line] = [line for line in captured.lines if line["message"] == "request refused"]
    labels = (line.get("correlation_id"), line.get("session_id"))
    assert labels == (event["requestContext"]["requestId"], session_id)
