"""X-Ray tracing of what an invocation waits on, the provider calls and the AWS calls, when the deployment
turns it on (template.yaml's `Tracing` parameter, which sets POWERTOOLS_TRACE_DISABLED; README, "Tracing").

Powertools' Tracer imports the X-Ray SDK even to stay disabled, and a cold start pays for that import: so
nothing here imports either unless tracing is on, and then when idgate.wiring first builds the dependencies.

What a trace holds, and why no more:
- AWS calls: the X-Ray SDK's botocore patch, one subsegment per call (service, operation, region, request id,
  status, the error). It records a few parameters of some services (DynamoDB's table names), never items.
- Provider calls: one subsegment per HTTP request, named by the provider and annotated with it, holding the
  method, the URL without its query string and the status. A failure shows as idgate's ProviderUnavailable,
  which names the method, the path and the exception's type. The X-Ray SDK's own requests patch is not used:
  it records requests' exceptions, whose text holds the URL with its query string (FACEKI takes its
  credentials there), and it would send our trace ids to the providers in a header.
No body, header, secret or personal data is recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

#: What the X-Ray SDK patches once tracing is on: botocore, i.e. every boto3 client.
PATCHED_MODULES = ("botocore",)

_started = False
#: The X-Ray recorder while tracing is on in this process; None: off, and X-Ray never imported.
_recorder: Any = None


def start_tracing(enabled: bool) -> None:
    """Turns tracing on for this process, once, when `enabled`: AWS calls and provider calls are recorded
    from then on. Powertools keeps it off where no X-Ray daemon listens (outside Lambda, `sam local`)."""
    global _started, _recorder
    if not enabled or _started:
        return
    _started = True
    from aws_lambda_powertools import Tracer

    tracer = Tracer(patch_modules=PATCHED_MODULES)
    if not tracer.disabled:
        _recorder = tracer.provider


def tracing() -> bool:
    """Whether this process records traces."""
    return _recorder is not None


def _ignore(status: int) -> None:
    """Tracing is off: nothing to record."""


@contextmanager
def provider_call(provider: str, method: str, url: str) -> Iterator[Callable[[int], None]]:
    """Around one HTTP request to `provider`: a subsegment when tracing, nothing otherwise. Yields what
    records the answer's status (a 4xx marks the subsegment an error, a 5xx a fault, as X-Ray reads them)."""
    if _recorder is None:
        yield _ignore
        return
    # A remote subsegment: the service map shows each provider as a node of its own.
    with _recorder.in_subsegment(name=provider, namespace="remote") as subsegment:
        if subsegment is None:  # no trace to add it to (an invocation without a trace header)
            yield _ignore
            return
        subsegment.put_annotation("provider", provider)
        subsegment.put_http_meta("method", method)
        subsegment.put_http_meta("url", without_query(url))
        yield lambda status: subsegment.put_http_meta("status", status)


def without_query(url: str) -> str:
    """The URL without what a provider may take credentials in: its query string, fragment and user info."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
