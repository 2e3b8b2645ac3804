"""HTTP to providers (idgate.providers.http): time-outs, which failures are retried, what a provider's answer
must be, no query string (a credential, for FACEKI) in urllib3's log lines, and what a call's trace holds."""

from __future__ import annotations

import json
import logging
import socket
import threading
from typing import Any

import pytest
import requests
import urllib3.util.connection

from idgate.domain import Reason
from idgate.errors import ProviderUnavailable
from idgate.providers.http import TIMEOUT, WEBHOOK_TIMEOUT, json_object, new_http_session, send
from tests.support.http_server import json_answer, scripted_server
from tests.support.traces import record_traces


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


def test_a_provider_call_is_tried_three_times_when_its_connection_fails(monkeypatch: pytest.MonkeyPatch):
    # Given a provider no connection reaches (from this thread: another test's server or poller thread
    # still winding down connects as usual, and is not counted)
    tries: list[tuple[str, int]] = []
    this_thread = threading.get_ident()
    connect = urllib3.util.connection.create_connection

    def refused(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        if threading.get_ident() != this_thread:
            return connect(address, *args, **kwargs)
        tries.append(address)
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(urllib3.util.connection, "create_connection", refused)
    # When the API or the poller calls it on its default session
    with pytest.raises(ProviderUnavailable) as raised:
        send(new_http_session(), "POST", "http://p.example:8080/x", provider="p")
    # Then the connection was tried once and retried twice before the provider is called unreachable
    assert tries == [("p.example", 8080)] * 3
    assert raised.value.reason == Reason.PROVIDER_UNREACHABLE


def test_a_call_is_traced_under_its_provider_with_its_method_path_and_status(monkeypatch: pytest.MonkeyPatch):
    traces = record_traces(monkeypatch)
    with scripted_server(json_answer({}, status=404)) as server:
        send(new_http_session(), "GET", f"{server.url}/x?clientSecret=s", provider="p")
    (subsegment,) = traces.subsegments
    assert (subsegment.name, subsegment.namespace, subsegment.annotations) == (
        "p",
        "remote",
        {"provider": "p"},
    )
    assert subsegment.http == {"method": "GET", "url": f"{server.url}/x", "status": 404}


def test_a_failed_call_names_its_method_path_and_exception_type_in_the_trace(monkeypatch: pytest.MonkeyPatch):
    """idgate.tracing: a failure shows in the trace as idgate's error, which names these and nothing else."""
    traces = record_traces(monkeypatch)
    with pytest.raises(ProviderUnavailable) as raised:
        send(Recording(fails=True), "GET", "https://p.example/x?clientSecret=s", provider="p")  # type: ignore[arg-type]
    (subsegment,) = traces.subsegments
    assert subsegment.error is raised.value
    assert str(raised.value) == "GET https://p.example/x failed: ConnectionError"
    assert subsegment.http == {"method": "GET", "url": "https://p.example/x"}  # no status: none came
