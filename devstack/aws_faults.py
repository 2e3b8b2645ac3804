"""Chaos for the local AWS endpoint: a seeded share of the calls to DynamoDB, EventBridge and SES v2
answered with the throttling and service errors those services really answer.

A WSGI middleware in front of moto. It recognizes the three services the functions call at run time:
DynamoDB (``X-Amz-Target: DynamoDB_20120810.*``, JSON 1.0), EventBridge (``AWSEvents.*``, JSON 1.1) and
SES v2 (REST-JSON under ``/v2/email/``, signed for ``ses``). Everything else passes untouched: Lambda
Invoke (served in front of this middleware), Step Functions' API (its engine is the platform, not a call
idgate makes), Secrets Manager and KMS (read once per container and cached, so a fault there tests
little), DynamoDB Streams (read by the platform's poller, not by idgate) and moto's own ``/moto-api``.

The errors and their shapes are those of botocore's service models and of AWS's answers: botocore
retries every one of them (throttling codes and 5xx) except EventBridge's entry failures, a 200 whose
``FailedEntryCount`` says the events were not taken, which a caller must check itself. A faulted request
never reaches moto: nothing is written.
"""

from __future__ import annotations

import json
import logging
import random
import re
import threading
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from werkzeug.wsgi import get_input_stream

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = ["AWS_ERRORS", "SERVICES", "AwsError", "AwsFaultMiddleware", "AwsFaults", "classify"]

log = logging.getLogger("devstack.faults")

_DDB = "com.amazonaws.dynamodb.v20120810#"
_SES = ":http://internal.amazon.com/coral/com.amazonaws.sesv2/"
_SCOPE_SERVICE = re.compile(r"Credential=[^/,]*/[^/,]*/[^/,]*/(?P<service>[^/,]+)/aws4_request")
_OPERATION = re.compile(r"[A-Za-z0-9]{1,64}")


@dataclass(frozen=True)
class AwsError:
    """One error answer: what botocore reads as ``Error.Code`` (``code``), and how it is sent."""

    code: str
    status: int
    message: str
    type_name: str = ""  # the JSON body's __type, when it differs from the code
    entries: bool = False  # EventBridge: a 200 whose entries all failed with this code


AWS_ERRORS: dict[str, tuple[AwsError, ...]] = {
    "dynamodb": (
        AwsError(
            "ProvisionedThroughputExceededException",
            400,
            "The level of configured provisioned throughput for the table was exceeded. "
            "Consider increasing your provisioning level with the UpdateTable API.",
            _DDB + "ProvisionedThroughputExceededException",
        ),
        AwsError(
            "ThrottlingException",
            400,
            "Rate of requests exceeds the allowed throughput.",
            "com.amazon.coral.availability#ThrottlingException",
        ),
        AwsError(
            "RequestLimitExceeded",
            400,
            "Throughput exceeds the current throughput limit for your account. Please contact AWS "
            "Support at https://aws.amazon.com/support request a limit increase",
            _DDB + "RequestLimitExceeded",
        ),
        AwsError("InternalServerError", 500, "Internal server error", _DDB + "InternalServerError"),
    ),
    "events": (
        AwsError("ThrottlingException", 400, "Rate exceeded"),
        AwsError("InternalException", 500, "An internal error occurred"),
        AwsError("InternalFailure", 200, "Internal failure", entries=True),
    ),
    "sesv2": (
        AwsError("TooManyRequestsException", 429, "Too Many Requests"),
        AwsError("InternalServiceErrorException", 500, "Internal Service Error"),
    ),
}
SERVICES = tuple(AWS_ERRORS)


def classify(environ: WSGIEnvironment) -> tuple[str, str] | None:
    """(service, operation) of a call that may be faulted; None for anything else."""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    prefix, _, operation = target.partition(".")
    service = {"DynamoDB_20120810": "dynamodb", "AWSEvents": "events"}.get(prefix)
    if service is None:
        scope = _SCOPE_SERVICE.search(environ.get("HTTP_AUTHORIZATION", ""))
        if (
            scope is None
            or scope["service"] != "ses"
            or not environ.get("PATH_INFO", "").startswith("/v2/email/")
        ):
            return None
        service, operation = "sesv2", _sesv2_operation(environ)
    # The operation only names the call in a log line: never let a header forge one.
    return service, operation if _OPERATION.fullmatch(operation) else "?"


def _sesv2_operation(environ: WSGIEnvironment) -> str:
    if environ.get("REQUEST_METHOD") == "POST" and environ.get("PATH_INFO") == "/v2/email/outbound-emails":
        return "SendEmail"
    return "other"


class AwsFaults:
    """Which share of which services' calls fail, and one seeded generator per service."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._share = 0.0
        self._services: frozenset[str] = frozenset(SERVICES)
        self._codes: frozenset[str] | None = None
        self._seed = 0
        self._generators: dict[str, random.Random] = {}
        self._counts: dict[str, Counter[str]] = {}

    def configure(
        self,
        share: float,
        *,
        services: Iterable[str] | None = None,
        codes: Iterable[str] | None = None,
        seed: int | None = None,
    ) -> None:
        """Fail ``share`` (0 to 1) of the calls to ``services`` (None: all of SERVICES), with errors of
        ``codes`` (None: each service's all; a service with none of them is not faulted).

        A ``seed`` restarts every generator from it, and the counts; without one each goes on.
        """
        self.check(share, services=services, codes=codes)
        chosen = frozenset(SERVICES if services is None else services)
        with self._lock:
            self._share, self._services = share, chosen
            self._codes = None if codes is None else frozenset(codes)
            if seed is not None:
                self._seed = seed
                self._generators.clear()
                self._counts.clear()

    @staticmethod
    def check(
        share: float, *, services: Iterable[str] | None = None, codes: Iterable[str] | None = None
    ) -> None:
        """Raises ValueError unless ``configure`` would take these settings."""
        known = {error.code for errors in AWS_ERRORS.values() for error in errors}
        if not 0.0 <= share <= 1.0:
            raise ValueError("aws_faults must be between 0 and 1")
        if services is not None and set(services) - set(SERVICES):
            raise ValueError(f"services are some of {', '.join(SERVICES)}")
        if codes is not None and set(codes) - known:
            raise ValueError(f"aws_errors are some of {', '.join(sorted(known))}")

    def draw(self, service: str, operation: str) -> AwsError | None:
        """The error this call of ``service`` is answered with, or None to let moto answer it."""
        with self._lock:
            errors = [e for e in AWS_ERRORS[service] if self._codes is None or e.code in self._codes]
            if self._share <= 0.0 or service not in self._services or not errors:
                return None
            if operation != "PutEvents":
                errors = [error for error in errors if not error.entries]
            counts = self._counts.setdefault(service, Counter())
            counts["calls"] += 1
            generator = self._generators.get(service)
            if generator is None:
                generator = self._generators[service] = random.Random(f"aws:{service}:{self._seed}")
            if generator.random() >= self._share or not errors:
                return None
            error = generator.choice(errors)
            counts[error.code] += 1
        log.info("aws fault: %s %s answered %s%s", service, operation, error.code, " entries" * error.entries)
        return error

    def counts(self) -> dict[str, dict[str, int]]:
        """By service, since the last seed: the calls drawn for (``calls``) and the errors of each code."""
        with self._lock:
            return {service: dict(counts) for service, counts in self._counts.items()}


class AwsFaultMiddleware:
    def __init__(self, app: WSGIApplication, faults: AwsFaults) -> None:
        self.app = app
        self.faults = faults

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        call = classify(environ)
        error = self.faults.draw(*call) if call else None
        if error is None:
            return self.app(environ, start_response)
        service, _ = call or ("", "")
        status, headers, body = answer(service, error, environ)
        headers = {**headers, "Content-Length": str(len(body)), "x-amzn-RequestId": str(uuid.uuid4())}
        start_response(status, list(headers.items()))
        return [body]


def answer(service: str, error: AwsError, environ: WSGIEnvironment) -> tuple[str, dict[str, str], bytes]:
    """The status line, headers and body AWS answers ``error`` with."""
    status = f"{error.status} {_PHRASES[error.status]}"
    if error.entries:
        entries = _entry_count(environ)
        failed = [{"ErrorCode": error.code, "ErrorMessage": error.message}] * entries
        body = {"FailedEntryCount": entries, "Entries": failed}
        return status, {"Content-Type": "application/x-amz-json-1.1"}, json.dumps(body).encode()
    if service == "sesv2":
        headers = {"Content-Type": "application/json", "x-amzn-ErrorType": error.code + _SES}
        return status, headers, json.dumps({"message": error.message}).encode()
    version = "1.0" if service == "dynamodb" else "1.1"
    body = {"__type": error.type_name or error.code, "message": error.message}
    return status, {"Content-Type": f"application/x-amz-json-{version}"}, json.dumps(body).encode()


_PHRASES = {200: "OK", 400: "Bad Request", 429: "Too Many Requests", 500: "Internal Server Error"}


def _entry_count(environ: WSGIEnvironment) -> int:
    """How many events a PutEvents call carries (every one fails), at least 1."""
    try:
        request = json.loads(get_input_stream(environ).read() or b"{}")
    except ValueError:
        return 1
    entries = request.get("Entries") if isinstance(request, dict) else None
    return max(len(entries), 1) if isinstance(entries, list) else 1
