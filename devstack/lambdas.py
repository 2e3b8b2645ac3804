"""The template's Lambda handlers, loaded from their CodeUri and invoked in this process."""

from __future__ import annotations

import contextvars
import decimal
import importlib.util
import json
import logging
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devstack.isolation import isolate_powertools_requests
from devstack.template import LOCAL_ACCOUNT, LOCAL_REGION, Function

log = logging.getLogger("devstack.lambda")

Handler = Callable[[Any, Any], Any]
#: Concurrent invocations of one function (each in an execution environment of its own), by default.
DEFAULT_CONCURRENCY = 10


@dataclass
class LambdaContext:
    """What the Python runtime passes as `context`; enough for aws-lambda-powertools."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int = 128
    timeout_seconds: int = 3
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = "local"
    identity: Any = None
    client_context: Any = None
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self.log_group_name = self.log_group_name or f"/aws/lambda/{self.function_name}"
        self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))

    @classmethod
    def for_function(cls, function: Function) -> LambdaContext:
        return cls(function.name, function.arn, function.memory_size, function.timeout)


class MarshalError(Exception):
    """The handler's result is not JSON: Lambda fails the invocation with Runtime.MarshalError."""

    error_type = "Runtime.MarshalError"


def _decimal_as_float(value: object) -> float:
    # What the Lambda Python runtime's marshaller does with the Decimals boto3 reads from DynamoDB.
    if isinstance(value, decimal.Decimal):
        return float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def json_roundtrip(value: Any) -> Any:
    """The value as the handler's caller sees it after Lambda serialized it."""
    return json.loads(json.dumps(value, default=_decimal_as_float))


def load_handler(function: Function, environment: int = 1) -> Handler:
    """Imports the handler's module under a name of its own (two functions may both have `app.py`, and each
    execution environment of a function has its own copy of the module)."""
    module_path, attribute = function.handler.rsplit(".", 1)
    path = function.code_uri / (module_path.replace(".", "/") + ".py")
    unique = f"devstack_fn_{function.logical_id}" + (f"_{environment}" if environment > 1 else "")
    spec = importlib.util.spec_from_file_location(unique, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"{function.logical_id}: cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[unique] = module
    # Sibling modules of app.py import as top-level modules, as from /var/task in Lambda.
    sys.path.insert(0, str(function.code_uri))
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[unique]
        raise
    finally:
        sys.path.remove(str(function.code_uri))
    handler = getattr(module, attribute, None)
    if not callable(handler):
        raise ImportError(f"{function.logical_id}: {path} has no callable {attribute!r}")
    return handler  # type: ignore[no-any-return]


class Environments:
    """A function's execution environments. As on Lambda, each runs one invocation at a time with
    module-level state of its own (the handler's module is imported once per environment: its resolver,
    its caches), a new one starts (cold) when every one is busy, and at most `limit` run at once. Beyond
    that Lambda throttles (429); here the invocation waits for a free environment, so that a burst in a
    test is slowed down, not refused."""

    def __init__(self, load: Callable[[int], Handler], limit: int) -> None:
        self._load = load
        self._slots = threading.BoundedSemaphore(limit)
        self._lock = threading.Lock()
        self._idle: list[Handler] = []
        self.started = 0

    def warm(self) -> None:
        """Has at least one environment started (its import errors show now, not on a request)."""
        with self.reserve():
            pass

    @contextmanager
    def reserve(self) -> Iterator[Handler]:
        """The handler of an idle environment (the last used, as Lambda reuses warm ones) or of a new one,
        held until the invocation ends."""
        with self._slots:
            handler = self._take()
            try:
                yield handler
            finally:
                with self._lock:
                    self._idle.append(handler)

    def _take(self) -> Handler:
        with self._lock:
            if self._idle:
                return self._idle.pop()
            self.started += 1
            number = self.started
        return self._load(number)


class Lambdas:
    """Handlers by logical id: the template's, imported on first use, or fakes that tests register.

    Invocations of a function run concurrently, as on Lambda, up to `concurrency` at once (see
    `Environments`), each in a context of its own, so that what a handler keeps in context variables
    (Powertools' per-invocation log keys, the current request: see devstack.isolation) is its own.
    """

    def __init__(
        self,
        functions: Mapping[str, Function] | None = None,
        layers: Iterable[Path] = (),
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, not {concurrency}")
        self.functions: dict[str, Function] = dict(functions or {})
        self.concurrency = concurrency
        self._environments: dict[str, Environments] = {}
        self._lock = threading.Lock()
        # Module loading changes sys.path: one at a time.
        self._load_lock = threading.Lock()
        for layer in layers:
            if str(layer) not in sys.path:
                sys.path.insert(0, str(layer))
        isolate_powertools_requests()

    def register(self, logical_id: str, handler: Handler, function: Function | None = None) -> None:
        with self._lock:
            self._environments[logical_id] = Environments(lambda _: handler, self.concurrency)
        if function is not None:
            self.functions[logical_id] = function

    def __contains__(self, logical_id: object) -> bool:
        return logical_id in self._environments or logical_id in self.functions

    def environments(self, logical_id: str) -> Environments:
        with self._lock:
            if logical_id not in self._environments:
                if logical_id not in self.functions:
                    raise KeyError(f"no function {logical_id!r}")
                function = self.functions[logical_id]
                self._environments[logical_id] = Environments(
                    lambda number: self._load(function, number), self.concurrency
                )
            return self._environments[logical_id]

    def _load(self, function: Function, environment: int) -> Handler:
        with self._load_lock:
            return load_handler(function, environment)

    def load_all(self) -> None:
        for logical_id in self.functions:
            self.environments(logical_id).warm()

    def context(self, logical_id: str) -> LambdaContext:
        if logical_id in self.functions:
            return LambdaContext.for_function(self.functions[logical_id])
        arn = f"arn:aws:lambda:{LOCAL_REGION}:{LOCAL_ACCOUNT}:function:{logical_id}"
        return LambdaContext(logical_id, arn)

    def invoke(self, logical_id: str, event: Any) -> Any:
        """Calls the handler with the event and returns its JSON result, or raises what the handler raised."""
        environments = self.environments(logical_id)
        event = json_roundtrip(event)  # the handler gets its own copy, as JSON
        started = time.perf_counter()
        try:
            with environments.reserve() as handler:
                # A copy of the caller's context: what the handler sets in it stays in this invocation.
                result = contextvars.copy_context().run(handler, event, self.context(logical_id))
            try:
                result = json_roundtrip(result)
            except (TypeError, ValueError) as exc:
                raise MarshalError(f"Unable to marshal response: {exc}") from exc
        except Exception as exc:
            log.info("lambda %s %.0f ms error %s", logical_id, _ms_since(started), type(exc).__name__)
            raise
        log.info("lambda %s %.0f ms ok", logical_id, _ms_since(started))
        return result


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def function_environment(
    functions: Iterable[Function], aws_url: str, overrides: Mapping[str, str] | None = None
) -> dict[str, str]:
    """One process runs every function, so it gets the union of their environments."""
    env: dict[str, str] = {}
    for function in functions:
        for name, value in function.environment.items():
            if env.setdefault(name, value) != value:
                log.warning(
                    "%s differs between functions (%r, %r): the first applies", name, env[name], value
                )
    env.update(local_aws_variables(aws_url))
    env.update(POWERTOOLS_TRACE_DISABLED="true", POWERTOOLS_METRICS_NAMESPACE="idgate")
    env.update(overrides or {})
    return env


def local_aws_variables(aws_url: str) -> dict[str, str]:
    """What points an AWS SDK at the local endpoint: the endpoint, its region and dummy credentials."""
    return {
        "AWS_ENDPOINT_URL": aws_url,
        "AWS_DEFAULT_REGION": LOCAL_REGION,
        "AWS_REGION": LOCAL_REGION,
        "AWS_ACCESS_KEY_ID": "devstack",
        "AWS_SECRET_ACCESS_KEY": "devstack",  # a dummy: moto accepts any
    }


def apply_environment(env: Mapping[str, str]) -> dict[str, str | None]:
    """Sets the variables; returns their previous values for `restore_environment`."""
    previous = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    return previous


def restore_environment(previous: Mapping[str, str | None]) -> None:
    for name, value in previous.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
