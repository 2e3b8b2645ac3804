"""Each provider client's calls are traced under the provider's name (idgate.tracing: the service map shows
each provider as a node of its own), whatever the call: a login, a start, a look."""

from __future__ import annotations

import pytest

from idgate.providers.base import StartRequest
from idgate.providers.datakeen import DatakeenOptions
from idgate.providers.jekimo import JekimoOptions, JekimoProvider
from tests.support.datakeen import LOGIN
from tests.support.datakeen import provider_for as datakeen_for
from tests.support.http_server import json_answer, scripted_server
from tests.support.providers import provider_context
from tests.support.sessions import open_session
from tests.support.traces import record_traces


def test_jekimos_token_and_check_calls_are_traced_as_jekimo(monkeypatch: pytest.MonkeyPatch):
    traces = record_traces(monkeypatch)
    token = {"token": "tok-1", "timestamp": 1_764_499_200, "url": "https://jekimo.example/login/tok-1"}
    with scripted_server(json_answer(token), json_answer({"status": "created"})) as server:
        provider = JekimoProvider.from_context(
            provider_context("jekimo", {"api_key": "k"}, variables={"BASE_URL": server.url})
        )
        started = provider.start(StartRequest("ses_1", None, JekimoOptions()))
        provider.observe(open_session("jekimo", started))
    assert [(s.name, s.annotations, s.http["url"]) for s in traces.subsegments] == [
        ("jekimo", {"provider": "jekimo"}, f"{server.url}/auth/gettoken"),
        ("jekimo", {"provider": "jekimo"}, f"{server.url}/auth/check"),
    ]


def test_datakeens_login_and_session_calls_are_traced_as_datakeen(monkeypatch: pytest.MonkeyPatch):
    traces = record_traces(monkeypatch)
    created = json_answer({"status": 200, "data": {"link": "https://l/x", "sessionId": "a" * 24}})
    with scripted_server(LOGIN, created) as server:
        datakeen_for(server.url).start(StartRequest("ses_1", None, DatakeenOptions(), None))
    assert [(s.name, s.annotations, s.http["url"]) for s in traces.subsegments] == [
        ("datakeen", {"provider": "datakeen"}, f"{server.url}/backend/auth"),
        ("datakeen", {"provider": "datakeen"}, f"{server.url}/backend/api/v1/session"),
    ]
