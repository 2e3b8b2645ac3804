"""Helpers for the okID end-to-end tests: sessions, the webhook URL, images, and the stack's log."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from tests.e2e.client import Api
from tests.e2e.stack import RunningStack
from tests.support.contract import assert_documented

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def start_okid(api: Api, **options: Any) -> dict[str, Any]:
    """A new okID session of the dev client (201 checked), with `options` as given."""
    body: dict[str, Any] = {"provider": "okid", "reference": "okid-e2e"}
    if options:
        body["options"] = options
    return api.create(body)


def verification_id(session: dict[str, Any]) -> str:
    """okID's verification id, read from the session's verification_url."""
    url: str = session["verification_url"]
    return parse_qs(urlsplit(url).query)["verification_id"][0]


def portal_page(verification_url: str) -> str:
    """The sandbox's portal page for a verification (what the user's browser would show)."""
    answer = requests.get(verification_url, timeout=10)
    assert answer.status_code == 200, answer.text[:300]
    return answer.text


def okid_expires_at(verification_url: str) -> str:
    """okID's own `expiresAt` of a verification, as its portal page shows it."""
    found = re.search(r'<dd id="expires-at">([^<]+)</dd>', portal_page(verification_url))
    assert found, "the portal page shows no expiry"
    return found.group(1)


def webhook_url(api: Api) -> str:
    """The webhook URL the API gives to paste into okID's dashboard."""
    answer = api.call("GET", "/v1/providers/okid/webhook", key=api.secret_key)
    assert answer.status_code == 200, answer.text
    url: str = answer.json()["url"]
    return url


def okid_payload(verification: str, status: str) -> dict[str, Any]:
    """A notification shaped like the ones okID's dashboard webhook (and the sandbox) sends."""
    return {
        "event": "verification.status_changed",
        "verification_id": verification,
        "status": status,
        "extra_data": {},
        "timestamp": "2026-01-01T00:00:00Z",
    }


def post_webhook(api: Api, url: str, body: Any = None, *, data: bytes | None = None) -> requests.Response:
    """POSTs to a webhook URL of this API (contract-checked), as okID would: JSON, no credentials."""
    assert url.startswith(api.base + "/"), url
    path = url.removeprefix(api.base)
    if data is not None:
        return api.call("POST", path, data=data)
    return api.call("POST", path, json=body)


def fetch_image(
    api: Api,
    session_id: str,
    side: str,
    *,
    key: str | None,
    redacted: str | None = None,
    client_secret: str | None = None,
) -> requests.Response:
    """GET /v1/sessions/{id}/images/{side}, checked against openapi.yaml.

    Not `Api.call`: it hands a binary body (bytes) to the JSON-schema check, which rejects bytes for
    `type: string, format: binary`. Here a binary body is checked as a string of its bytes instead.
    """
    path = f"/v1/sessions/{session_id}/images/{side}"
    if redacted is not None:
        path += f"?redacted={redacted}"
    headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
    if client_secret is not None:
        headers["X-Client-Secret"] = client_secret
    answer = requests.get(api.base + path, headers=headers, timeout=15)
    assert answer.status_code < 500, f"GET {path} answered {answer.status_code}: {answer.text[:300]}"
    content_type = answer.headers.get("Content-Type", "")
    if content_type.startswith("application/json"):
        body: Any = answer.json()
    else:
        body = answer.content.decode("latin-1")
    assert_documented("GET", path, answer.status_code, body, content_type)
    return answer


def finalizations(stack: RunningStack, session_id: str) -> list[dict[str, Any]]:
    """The "session finalized" log records of a session: one per write of its final status."""
    found = []
    for line in stack.output().splitlines():
        if '"session finalized"' not in line or session_id not in line:
            continue
        record = json.loads(line)
        if record.get("message") == "session finalized" and record.get("session_id") == session_id:
            found.append(record)
    return found


def error_code(answer: requests.Response) -> str:
    code: str = answer.json()["error"]["code"]
    return code
