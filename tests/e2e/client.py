"""The end-to-end tests' client: it speaks to the local stack over HTTP and holds every answer of the API
to openapi.yaml, to no 5xx, and (idgate's own JSON answers) to `Cache-Control: no-store`."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import requests

from tests.e2e.stack import RunningStack
from tests.support.contract import assert_documented

#: The stack most e2e tests share: short intervals so that flows finish in seconds.
FAST = (
    "--poll-interval", "1", "--jekimo-token-ttl", "8", "--okid-verification-ttl", "12", "--pin-ttl", "30",
    "--datakeen-session-ttl", "20", "--faceki-minute-seconds", "2", "--faceki-token-ttl", "30",
    "--delivery-backoff-scale", "0.01",
    "--provider-cooldown", "4",
)  # fmt: skip


class Api:
    """A small client for the idgate API that checks every answer against openapi.yaml."""

    def __init__(self, stack: RunningStack) -> None:
        self.stack = stack
        self.base = stack.api
        self.secret_key = stack.keys["secret"]
        self.publishable_key = stack.keys["publishable"]
        self.seen: list[tuple[str, str, requests.Response]] = []

    def call(
        self,
        method: str,
        path: str,
        *,
        key: str | None = None,
        client_secret: str | None = None,
        json: Any = None,
        data: bytes | str | None = None,
        headers: dict[str, str] | None = None,
        provider_refusal: bool = False,
    ) -> requests.Response:
        """`provider_refusal`: the provider is made to refuse, so a documented 502 is the right answer."""
        sent = dict(headers or {})
        if key is not None:
            sent["Authorization"] = f"Bearer {key}"
        if client_secret is not None:
            sent["X-Client-Secret"] = client_secret
        if data is not None:
            sent.setdefault("Content-Type", "application/json")
        answer = requests.request(method, self.base + path, json=json, data=data, headers=sent, timeout=15)
        expected_5xx = answer.status_code == 502 and provider_refusal
        assert answer.status_code < 500 or expected_5xx, (
            f"{method} {path} answered {answer.status_code}: {answer.text[:300]}"
        )
        content_type = answer.headers.get("Content-Type", "")
        # A binary body (an image) is checked as the string the contract describes (format: binary).
        body = (
            answer.json() if content_type.startswith("application/json") else answer.content.decode("latin-1")
        )
        assert_documented(method, path, answer.status_code, body, content_type or "application/json")
        if content_type.startswith("application/json") and not is_gateway_answer(body):
            # Sessions and client secrets must not land in a browser's or a proxy's cache.
            assert answer.headers.get("Cache-Control") == "no-store", (
                f"{method} {path}: no Cache-Control: no-store"
            )
        self.seen.append((method, path, answer))
        return answer

    def create(self, body: dict[str, Any], *, key: str | None = None) -> dict[str, Any]:
        answer = self.call("POST", "/v1/sessions", key=key or self.secret_key, json=body)
        assert answer.status_code == 201, answer.text
        return answer.json()

    def get(self, session_id: str, **auth: Any) -> requests.Response:
        if not auth:
            auth = {"key": self.secret_key}
        return self.call("GET", f"/v1/sessions/{session_id}", **auth)

    def wait_for(
        self, session_id: str, until: Callable[[dict[str, Any]], bool], timeout: float = 20.0
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            session = self.get(session_id).json()
            if until(session):
                return session
            assert time.monotonic() < deadline, f"gave up waiting; last seen: {session}"
            time.sleep(0.25)

    def wait_for_status(self, session_id: str, *statuses: str, timeout: float = 20.0) -> dict[str, Any]:
        return self.wait_for(session_id, lambda session: session["status"] in statuses, timeout)


def act_as_user(verification_url: str, outcome: dict[str, Any]) -> dict[str, Any]:
    """Does at the provider's sandbox what the user would do on its page."""
    answer = requests.post(verification_url, json=outcome, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()


def is_gateway_answer(body: Any) -> bool:
    """API Gateway's own answers ({"message": ...}), given before idgate runs; HTTP APIs cannot add
    headers to them."""
    return isinstance(body, dict) and set(body) == {"message"}
