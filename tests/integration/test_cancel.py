"""Canceling a session through the local stack: the API ends it, its Express follow-up stops at its next
look, its event goes out once, and only the secret key of its client may do it."""

from __future__ import annotations

import requests

from tests.integration.conftest import Integration, act


def cancel(integration: Integration, session_id: str, key: str = "sk_local_dev") -> requests.Response:
    return requests.post(
        f"{integration.api}/v1/sessions/{session_id}/cancel",
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )


def test_a_canceled_session_ends_expired_its_follow_up_stops_and_its_event_goes_out_once(
    integration: Integration,
):
    created = integration.create({"provider": "jekimo"})
    answer = cancel(integration, created["id"])
    assert answer.status_code == 200, answer.text
    assert (answer.json()["status"], answer.json()["result"]["reasons"]) == ("expired", ["canceled"])
    # the follow-up ends at its next look, long before the token's deadline
    assert integration.wait_for_execution_end(created["id"], timeout=10)["status"] == "SUCCEEDED"
    # the user approving afterwards changes nothing
    act(created["verification_url"], {"outcome": "approved"})
    assert integration.session(created["id"])["status"] == "expired"
    assert len(integration.final_events(created["id"])) == 1
    again = cancel(integration, created["id"])
    assert (again.status_code, again.json()["error"]["code"]) == (409, "session_final")


def test_a_publishable_key_may_not_cancel(integration: Integration):
    created = integration.create({"provider": "jekimo"})
    answer = cancel(integration, created["id"], key="pk_local_dev")
    assert (answer.status_code, answer.json()["error"]["code"]) == (403, "secret_key_required")
    assert integration.session(created["id"])["status"] == "pending"
