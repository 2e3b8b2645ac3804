"""A webhook receiver on the local stack, as an integrator's backend would run one: the demo page registers it
(it holds the endpoint's secret itself, with the dev secret key, never the page), lists what it received with
each signature checked by the `standardwebhooks` package, and can be told to fail, to watch the retries.

Mounted in front of the API's server, under `/_devstack/receiver` (like `/_devstack/faults`):
- `POST /_devstack/receiver/hooks`: where idgate delivers (answers 204, or 503 while failing);
- `GET /_devstack/receiver`: `{"registered", "endpoint_id", "url", "failing", "deliveries": [...]}`, the
  latest delivery first, each with `webhook_id`, `type`, `session_id`, `status`, `verified`, `answered`,
  `try`;
- `POST /_devstack/receiver` `{"register": true}` (an endpoint for both event types) or `{"failing": bool}`.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import requests
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

PREFIX = "/_devstack/receiver"
HOOKS_PATH = f"{PREFIX}/hooks"
MAX_BODY = 256 * 1024
KEPT = 100

#: Registers `url` as a webhook endpoint; answers the API's 201 body (with the secret).
Register = Callable[[str], dict[str, Any]]


def registrar(api_url: str, secret_key: str) -> Register:
    """Registers a URL as a webhook endpoint of the key's client, for both event types, as a backend would."""

    def register(url: str) -> dict[str, Any]:
        answer = requests.post(
            f"{api_url}/v1/webhook-endpoints",
            json={
                "url": url,
                "events": ["session.finalized", "session.updated"],
                "description": "demo receiver",
            },
            headers={"Authorization": f"Bearer {secret_key}"},
            timeout=10,
        )
        if answer.status_code != 201:
            raise ValueError(f"the API refused the endpoint: {answer.text}")
        created: dict[str, Any] = answer.json()
        return created

    return register


class WebhookReceiver:
    def __init__(self, app: WSGIApplication, base_url: str, register: Register) -> None:
        self.app = app
        self.url = base_url + HOOKS_PATH
        self._register = register
        self._lock = threading.Lock()
        self._secret: str | None = None
        self.endpoint_id: str | None = None
        self.failing = False
        self.deliveries: list[dict[str, Any]] = []
        self._tries: Counter[str] = Counter()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD")
        if path == HOOKS_PATH and method == "POST":
            return self._receive(environ, start_response)
        if path != PREFIX:
            return self.app(environ, start_response)
        if method == "POST":
            try:
                self._control(_body(environ))
            except ValueError as exc:
                return _json(start_response, "400 Bad Request", {"message": str(exc)})
        elif method != "GET":
            return _json(start_response, "405 Method Not Allowed", {"message": "GET or POST"})
        return _json(start_response, "200 OK", self.state())

    def state(self) -> dict[str, Any]:
        with self._lock:
            return {
                "registered": self.endpoint_id is not None,
                "endpoint_id": self.endpoint_id,
                "url": self.url,
                "failing": self.failing,
                "deliveries": list(reversed(self.deliveries)),
            }

    def _control(self, body: dict[str, Any]) -> None:
        if "failing" in body:
            if not isinstance(body["failing"], bool):
                raise ValueError("failing is true or false")
            self.failing = body["failing"]
        if body.get("register") is True:
            created = self._register(self.url)  # outside the lock: the API may deliver meanwhile
            with self._lock:
                self._secret, self.endpoint_id = str(created["secret"]), str(created["id"])

    def _receive(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(min(length, MAX_BODY))
        headers = {
            key[5:].replace("_", "-").lower(): str(value)
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        with self._lock:
            secret, failing = self._secret, self.failing
        verified: bool | None = None
        body: dict[str, Any] = {}
        if secret is not None:
            try:
                body = Webhook(secret).verify(raw, headers)
                verified = True
            except (WebhookVerificationError, ValueError):
                verified = False
        if not body:
            try:
                body = json.loads(raw)
            except ValueError:
                body = {}
        webhook_id = headers.get("webhook-id", "")
        answered = 503 if failing else 204
        found = body.get("data") if isinstance(body, dict) else None
        data: dict[str, Any] = found if isinstance(found, dict) else {}
        with self._lock:
            self._tries[webhook_id] += 1
            self.deliveries.append(
                {
                    "webhook_id": webhook_id,
                    "type": body.get("type") if isinstance(body, dict) else None,
                    "session_id": data.get("id"),
                    "status": data.get("status"),
                    "verified": verified,
                    "signatures": len(headers.get("webhook-signature", "").split()),
                    "answered": answered,
                    "try": self._tries[webhook_id],
                    "received_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                }
            )
            del self.deliveries[:-KEPT]
        start_response("503 Service Unavailable" if failing else "204 No Content", [("Content-Length", "0")])
        return [b""]


def _body(environ: WSGIEnvironment) -> dict[str, Any]:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if not 0 < length <= 4096:
        raise ValueError("send a JSON object")
    try:
        body = json.loads(environ["wsgi.input"].read(length))
    except ValueError as exc:
        raise ValueError("the body is not valid JSON") from exc
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    return body


def _json(start_response: StartResponse, status: str, body: object) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(
        status,
        [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(data))),
            ("Cache-Control", "no-store"),
        ],
    )
    return [data]
