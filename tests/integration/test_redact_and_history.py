"""Redacting a session and reading its history through the local stack: the real API and publisher functions,
the real table and its change stream, and the EventBridge rule of an integrator."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from unittest.mock import ANY

import requests

from tests.integration.conftest import Integration, act

SECRET_KEY = "sk_local_dev"


def call(integration: Integration, method: str, path: str, key: str = SECRET_KEY) -> requests.Response:
    return requests.request(
        method, f"{integration.api}{path}", headers={"Authorization": f"Bearer {key}"}, timeout=10
    )


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text)


def approved(integration: Integration) -> dict[str, Any]:
    created = integration.create({"provider": "jekimo", "reference": "order-redact"})
    act(created["verification_url"], {"outcome": "approved", "age": 30})
    integration.wait_for(created["id"], "approved")
    return created


def test_a_redacted_session_keeps_its_verdict_loses_its_data_and_says_so_once(integration: Integration):
    created = approved(integration)
    before = integration.session(created["id"])
    assert before["reference"] == "order-redact"

    answer = call(integration, "DELETE", f"/v1/sessions/{created['id']}")

    assert answer.status_code == 200, answer.text
    redacted = answer.json()
    assert (redacted["status"], redacted["reference"]) == ("approved", None)
    assert redacted["result"]["decision"] == "approved"
    assert redacted["result"]["reasons"] == before["result"]["reasons"]
    assert redacted["result"]["data"] == {}
    assert redacted["redacted_at"] is not None
    assert integration.session(created["id"]) == redacted
    events = integration.events(created["id"], "Session Redacted")
    assert [event["detail"] for event in events] == [
        {
            "id": created["id"],
            "provider": "jekimo",
            "status": "approved",
            "redacted_at": ANY,
        }
    ]
    assert moment(events[0]["detail"]["redacted_at"]) == moment(redacted["redacted_at"])
    assert len(integration.final_events(created["id"])) == 1

    again = call(integration, "DELETE", f"/v1/sessions/{created['id']}")
    assert (again.status_code, again.json()) == (200, redacted)
    assert integration.events(created["id"], "Session Redacted", settle=1.0) == events


def test_the_history_tells_each_change_with_its_cause(integration: Integration):
    created = approved(integration)
    assert call(integration, "DELETE", f"/v1/sessions/{created['id']}").status_code == 200

    answer = call(integration, "GET", f"/v1/sessions/{created['id']}/history")

    assert answer.status_code == 200, answer.text
    history = answer.json()
    assert history["id"] == created["id"]
    assert [(change["status"], change["cause"]) for change in history["history"]] == [
        ("pending", "create"),
        ("approved", "poll"),
        ("approved", "redact"),
    ]
    moments = [change["at"] for change in history["history"]]
    assert moments == sorted(moments)


def test_an_open_session_is_not_redacted_and_a_publishable_key_may_do_neither(integration: Integration):
    created = integration.create({"provider": "jekimo"})
    refused = call(integration, "DELETE", f"/v1/sessions/{created['id']}")
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "session_open")
    for method, path in (("DELETE", ""), ("GET", "/history")):
        answer = call(integration, method, f"/v1/sessions/{created['id']}{path}", key="pk_local_dev")
        assert (answer.status_code, answer.json()["error"]["code"]) == (403, "secret_key_required")
    assert integration.session(created["id"])["status"] == "pending"
    assert integration.session(created["id"])["redacted_at"] is None
