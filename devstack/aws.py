"""A local AWS endpoint: moto in server mode inside this process, with Lambda Invoke served by real handlers.

moto's Lambda never runs Python code without Docker, and its Step Functions engine invokes Lambda tasks over
HTTP at http://localhost:$MOTO_PORT. So a small WSGI middleware in front of moto answers
`POST /2015-03-31/functions/{name}/invocations` by calling the handler in-process (404 for a function it does
not know); everything else is moto's, behind `aws_faults.AwsFaultMiddleware` (which fails nothing unless
`LocalAws.faults` is told to).
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import threading
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import boto3
from moto.moto_api._internal.models import moto_api_backend
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.wsgi import get_input_stream

from devstack.atomic_writes import make_dynamodb_writes_atomic
from devstack.aws_faults import AwsFaultMiddleware, AwsFaults
from devstack.lambdas import Lambdas, MarshalError
from devstack.server import BackgroundServer
from devstack.sfn_integrations import fix_step_functions_integrations
from devstack.template import LOCAL_REGION

if TYPE_CHECKING:
    from collections.abc import Iterable

    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger("devstack.lambda")

INVOKE_PATH = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations/?$")
MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}

Invoke = Callable[[str, Any], Any]
FindFunction = Callable[[str], str | None]


def error_payload(exc: BaseException) -> dict[str, Any]:
    """What Lambda answers for an unhandled exception; Step Functions matches Retry/Catch on errorType."""
    error_type = MarshalError.error_type if isinstance(exc, MarshalError) else type(exc).__name__
    return {"errorType": error_type, "errorMessage": str(exc), "stackTrace": []}


class LambdaInvokeMiddleware:
    def __init__(self, app: WSGIApplication, invoke: Invoke, find_function: FindFunction) -> None:
        self.app = app
        self.invoke = invoke
        self.find_function = find_function  # name or ARN -> logical id, None if unknown

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        match = INVOKE_PATH.match(environ.get("PATH_INFO", ""))
        if match and environ["REQUEST_METHOD"] == "POST":
            name = unquote(match["name"])
            logical_id = self.find_function(name)
            if logical_id is None:
                # Not moto's: without Docker it echoes the payload back for any name, even unknown ones.
                error = {"Type": "User", "message": f"Function not found: {name}"}
                headers = {"x-amzn-ErrorType": "ResourceNotFoundException"}
                return _respond(start_response, "404 Not Found", headers, json.dumps(error).encode())
            return self._invoke(logical_id, environ, start_response)
        if environ.get("HTTP_X_AMZ_TARGET") == "AWSStepFunctions.StartExecution":
            _name_execution(environ)
        return self.app(environ, start_response)

    def _invoke(
        self, logical_id: str, environ: WSGIEnvironment, start_response: StartResponse
    ) -> list[bytes]:
        body = get_input_stream(environ).read()
        try:
            event = json.loads(body) if body else {}
        except ValueError:
            error = {"Type": "User", "message": "Could not parse request body into json"}
            headers = {"x-amzn-ErrorType": "InvalidRequestContentException"}
            return _respond(start_response, "400 Bad Request", headers, json.dumps(error).encode())
        invocation_type = environ.get("HTTP_X_AMZ_INVOCATION_TYPE", "RequestResponse")
        if invocation_type == "DryRun":
            return _respond(start_response, "204 No Content", {}, b"")
        if invocation_type == "Event":
            threading.Thread(target=self._run, args=(logical_id, event), daemon=True).start()
            return _respond(start_response, "202 Accepted", {}, b"")
        headers, payload = self._run(logical_id, event)
        return _respond(start_response, "200 OK", headers, json.dumps(payload).encode())

    def _run(self, logical_id: str, event: Any) -> tuple[dict[str, str], Any]:
        headers = {"X-Amz-Executed-Version": "$LATEST"}
        try:
            return headers, self.invoke(logical_id, event)
        except Exception as exc:
            # The caller (Step Functions) keeps only errorType and errorMessage: show where it came from.
            # A traceback has code lines, not the event.
            log.warning("lambda %s raised %s", logical_id, type(exc).__name__, exc_info=exc)
            return {**headers, "X-Amz-Function-Error": "Unhandled"}, error_payload(exc)


def _respond(start_response: StartResponse, status: str, headers: dict[str, str], body: bytes) -> list[bytes]:
    all_headers = {"Content-Type": "application/json", "Content-Length": str(len(body)), **headers}
    start_response(status, list(all_headers.items()))
    return [body]


def _name_execution(environ: WSGIEnvironment) -> None:
    """moto 5.2.5 names an execution started without `name` "None", so the second one is refused
    (ExecutionAlreadyExists). Step Functions generates a UUID: do the same."""
    body = get_input_stream(environ).read()
    try:
        request = json.loads(body)
    except ValueError:
        request = None
    if isinstance(request, dict) and not request.get("name"):
        body = json.dumps({**request, "name": str(uuid.uuid4())}).encode()
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    environ.pop("HTTP_TRANSFER_ENCODING", None)


class _QuietMotoRequestHandler(MotoRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class LocalAws:
    """moto's server app, served threaded on `port` (0 picks a free one). One per process: moto's backends
    and MOTO_PORT are process-wide."""

    def __init__(
        self,
        lambdas: Lambdas | None = None,
        find_function: FindFunction | None = None,
        host: str = "127.0.0.1",
        port: int = 4566,
        faults: AwsFaults | None = None,
    ) -> None:
        self.lambdas = lambdas or Lambdas()
        self.faults = faults or AwsFaults()
        # Without a template, functions are named by their logical ids (handy for fakes in tests).
        self.find_function: FindFunction = find_function or self._by_logical_id
        moto_app = DomainDispatcherApplication(create_backend_app)
        # Invocations are served before the faults: Lambda's own API is never faulted.
        faulty = AwsFaultMiddleware(moto_app, self.faults)
        middleware = LambdaInvokeMiddleware(faulty, self.lambdas.invoke, self._find)
        self._server = BackgroundServer(middleware, host, port, request_handler=_QuietMotoRequestHandler)
        self.port = self._server.port
        self.url = self._server.url

    def _find(self, name_or_arn: str) -> str | None:
        return self.find_function(name_or_arn)  # late-bound: the stack sets find_function after start

    def _by_logical_id(self, name_or_arn: str) -> str | None:
        name = name_or_arn.split(":")[6] if name_or_arn.startswith("arn:") else name_or_arn
        return name if name in self.lambdas else None

    def start(self) -> LocalAws:
        # moto's Step Functions engine calls Lambda at http://localhost:$MOTO_PORT: this server.
        os.environ["MOTO_PORT"] = str(self.port)
        moto_api_backend.set_config(MOTO_CONFIG)
        make_dynamodb_writes_atomic()
        fix_step_functions_integrations()
        self._server.start()
        log.debug("local AWS endpoint on %s", self.url)
        return self

    def stop(self) -> None:
        self._server.stop()

    def reset(self) -> None:
        """Forgets every resource (all of moto's backends in this process)."""
        moto_api_backend.reset()
        moto_api_backend.set_config(MOTO_CONFIG)

    def client(self, service: str) -> Any:
        return local_client(service, self.url)


def local_client(service: str, endpoint_url: str) -> Any:
    """A boto3 client of the local endpoint; moto accepts any credentials."""
    return boto3.client(
        service,
        endpoint_url=endpoint_url,
        region_name=LOCAL_REGION,
        aws_access_key_id="devstack",
        aws_secret_access_key="devstack",  # noqa: S106 - a dummy
    )
