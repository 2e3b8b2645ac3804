"""HTTP to providers: bounded time-outs and retries, and failures turned into typed errors."""

from __future__ import annotations

import logging
import re
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from idgate.domain import Reason
from idgate.errors import ProviderUnavailable
from idgate.tracing import provider_call

_QUERY = re.compile(r"\?[^\s'\")]*")


class _NoQueryStrings(logging.Filter):
    """urllib3 logs the URL of a request it retries, query string included, and a provider may take
    its credentials in the query (FACEKI's token call does): log lines keep the path only."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "?" in message:
            record.msg, record.args = _QUERY.sub("?<query hidden>", message), None
        return True


for _name in ("urllib3.connectionpool", "urllib3.util.retry"):
    logging.getLogger(_name).addFilter(_NoQueryStrings())

#: (connect, read) seconds: well inside API Gateway's 30 s and the poll function's time-out.
TIMEOUT = (3.05, 8.0)
#: For a webhook, which must be answered within a second: a slow provider is left to the poller.
WEBHOOK_TIMEOUT = (0.3, 0.4)


class ProviderHttp(requests.Session):
    """A requests session that knows its own time-out."""

    def __init__(self, timeout: tuple[float, float]) -> None:
        super().__init__()
        self.timeout = timeout


def new_http_session(*, timeout: tuple[float, float] = TIMEOUT, connect_retries: int = 2) -> ProviderHttp:
    """A session that retries connection failures (never a request the provider may have acted on)."""
    session = ProviderHttp(timeout)
    retry = Retry(
        total=connect_retries,
        connect=connect_retries,
        read=0,
        status=0,
        backoff_factor=0.3,
        allowed_methods=None,
    )
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def send(http: requests.Session, method: str, url: str, *, provider: str, **kwargs: Any) -> requests.Response:
    """One request to `provider` (traced under its name when tracing is on)."""
    with provider_call(provider, method, url) as answered:
        try:
            response = http.request(method, url, timeout=getattr(http, "timeout", TIMEOUT), **kwargs)
        except requests.RequestException as exc:
            # Raised inside the trace, so that it records this, never requests' own text (which holds the
            # query string, and FACEKI's credentials with it).
            raise ProviderUnavailable(
                Reason.PROVIDER_UNREACHABLE, f"{method} {url.split('?')[0]} failed: {type(exc).__name__}"
            ) from exc
        answered(response.status_code)
        return response


def json_object(response: requests.Response) -> dict[str, Any]:
    """The answer's JSON object; a 5xx or unreadable answer is transient."""
    if response.status_code >= 500:
        raise ProviderUnavailable(
            Reason.PROVIDER_UNREACHABLE, f"provider answered HTTP {response.status_code}"
        )
    try:
        body = response.json()
    except ValueError as exc:
        raise ProviderUnavailable(Reason.PROVIDER_BAD_RESPONSE, "provider answer is not JSON") from exc
    if not isinstance(body, dict):
        raise ProviderUnavailable(Reason.PROVIDER_BAD_RESPONSE, "provider answer is not a JSON object")
    return body
