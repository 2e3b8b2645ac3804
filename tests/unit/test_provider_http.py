"""HTTP to providers (idgate.providers.http): time-outs, which failures are retried, what a provider's answer
must be, and no query string (a credential, for FACEKI) in urllib3's log lines."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
import requests

from idgate.domain import Reason
from idgate.errors import ProviderUnavailable
from idgate.providers.http import TIMEOUT, WEBHOOK_TIMEOUT, json_object, new_http_session, send


def answer(status: int, body: bytes) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = body
    return response


class Recording:
    """A session that records what it is asked and answers 200 {}."""

    def __init__(self, *, timeout: Any = None, fails: bool = False) -> None:
        if timeout is not None:
            self.timeout = timeout
        self.fails = fails
        self.asked: list[tuple[str, str, dict[str, Any]]] = []

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        self.asked.append((method, url, kwargs))
        if self.fails:
            raise requests.ConnectionError("refused: https://p.example/x?clientSecret=s")
        return answer(200, b"{}")


@pytest.mark.parametrize(("status", "body"), [(200, b'{"a": 1}'), (404, b'{"error": "no"}'), (499, b"{}")])
def test_an_answer_below_500_is_its_json_object(status: int, body: bytes):
    assert json_object(answer(status, body)) == json.loads(body)


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (500, b'{"a": 1}', Reason.PROVIDER_UNREACHABLE),
        (503, b"{}", Reason.PROVIDER_UNREACHABLE),
        (200, b"<html>", Reason.PROVIDER_BAD_RESPONSE),
        (200, b"[1, 2]", Reason.PROVIDER_BAD_RESPONSE),
    ],
)
def test_a_5xx_or_an_answer_that_is_no_json_object_is_transient(status: int, body: bytes, reason: Reason):
    with pytest.raises(ProviderUnavailable) as raised:
        json_object(answer(status, body))
    assert raised.value.reason == reason


@pytest.mark.parametrize(("timeout", "used"), [(WEBHOOK_TIMEOUT, WEBHOOK_TIMEOUT), (None, TIMEOUT)])
def test_a_call_uses_its_sessions_time_out_else_the_default(timeout: Any, used: Any):
    http = Recording(timeout=timeout)
    response = send(http, "POST", "https://p.example/x", provider="p", json={"a": 1})  # type: ignore[arg-type]
    assert response.status_code == 200
    assert http.asked == [("POST", "https://p.example/x", {"timeout": used, "json": {"a": 1}})]


def test_a_call_that_fails_is_an_unreachable_provider_without_its_query_string():
    with pytest.raises(ProviderUnavailable) as raised:
        send(Recording(fails=True), "GET", "https://p.example/x?clientSecret=s", provider="p")  # type: ignore[arg-type]
    assert raised.value.reason == Reason.PROVIDER_UNREACHABLE
    assert "clientSecret" not in str(raised.value)


@pytest.mark.parametrize(("timeout", "retries"), [(TIMEOUT, 2), (WEBHOOK_TIMEOUT, 0)])
def test_only_connection_failures_are_retried_never_a_request_the_provider_may_have_acted_on(
    timeout, retries
):
    http = new_http_session(timeout=timeout, connect_retries=retries)
    assert http.timeout == timeout
    for scheme in ("https://", "http://"):
        retry = http.get_adapter(scheme + "p.example").max_retries
        assert (retry.total, retry.connect, retry.read, retry.status) == (retries, retries, 0, 0)
        assert (retry.backoff_factor, retry.allowed_methods) == (0.3, None)  # POST too: it was never sent


def test_urllib3s_lines_keep_a_urls_path_only(caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG, logger="urllib3")
    logging.getLogger("urllib3.connectionpool").warning(
        "Retrying %s: %s", "(Retry(total=1))", "/auth/api/access-token?clientId=c&clientSecret=s"
    )
    logging.getLogger("urllib3.connectionpool").warning("no query here: %s", "/path")
    assert [record.getMessage() for record in caplog.records] == [
        "Retrying (Retry(total=1)): /auth/api/access-token?<query hidden>",
        "no query here: /path",
    ]
