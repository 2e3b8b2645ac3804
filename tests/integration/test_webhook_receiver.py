"""The local stack's webhook receiver (devstack/receiver.py), as the demo page drives it: it registers itself
with the dev secret key, verifies every delivery's signature with the standardwebhooks package, and, told to
fail, shows idgate's retries until it answers again."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.integration.conftest import Integration, act, eventually


class ReceiverControl:
    def __init__(self, integration: Integration) -> None:
        self.url = f"{integration.api}/_devstack/receiver"

    def state(self) -> dict[str, Any]:
        answer = requests.get(self.url, timeout=10)
        assert answer.status_code == 200, answer.text
        return answer.json()  # type: ignore[no-any-return]

    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        answer = requests.post(self.url, json=body, timeout=10)
        assert answer.status_code == 200, answer.text
        return answer.json()  # type: ignore[no-any-return]

    def of(self, session_id: str) -> list[dict[str, Any]]:
        return [d for d in self.state()["deliveries"] if d["session_id"] == session_id]


@pytest.fixture
def receiver(integration: Integration) -> Iterator[ReceiverControl]:
    control = ReceiverControl(integration)
    yield control
    control.post({"failing": False})
    endpoint_id = control.state()["endpoint_id"]
    if endpoint_id:  # later tests' sessions are not delivered to it
        requests.delete(
            f"{integration.api}/v1/webhook-endpoints/{endpoint_id}",
            headers={"Authorization": "Bearer sk_local_dev"},
            timeout=10,
        )


def test_the_receiver_registers_and_shows_verified_deliveries_and_retries_while_it_fails(
    integration: Integration, receiver: ReceiverControl
):
    # Given the receiver registered (as the demo page's button does), for both event types
    state = receiver.post({"register": True})
    assert state["registered"] is True
    assert state["endpoint_id"].startswith("we_")
    assert "secret" not in str(state)  # the receiver keeps it; the page never sees it

    # When a session goes through review to approved (okID)
    created = integration.create({"provider": "okid"})
    act(created["verification_url"], {"outcome": "needs_manual_review", "webhook": False})
    integration.wait_for(created["id"], "review", timeout=20)
    eventually(lambda: bool(receiver.of(created["id"])), timeout=15)

    # Then the receiver got session.updated, signed and verified
    [updated] = receiver.of(created["id"])
    assert (updated["type"], updated["status"], updated["verified"], updated["answered"]) == (
        "session.updated",
        "review",
        True,
        204,
    )

    # And when it fails while a session is finalized, idgate retries until it answers again
    receiver.post({"failing": True})
    finished = integration.create({"provider": "jekimo"})
    act(finished["verification_url"], {"outcome": "declined"})
    eventually(lambda: any(d["answered"] == 503 for d in receiver.of(finished["id"])), timeout=15)
    receiver.post({"failing": False})
    eventually(lambda: any(d["answered"] == 204 for d in receiver.of(finished["id"])), timeout=40)
    tries = receiver.of(finished["id"])
    assert {d["webhook_id"] for d in tries} == {tries[0]["webhook_id"]}  # one event, the same id every try
    assert all(d["verified"] is True for d in tries)
    assert [d["answered"] for d in tries].count(204) == 1
    assert max(d["try"] for d in tries) >= 2


def test_the_receiver_refuses_a_control_it_does_not_know(receiver: ReceiverControl):
    answer = requests.post(receiver.url, json={"failing": "yes"}, timeout=10)
    assert answer.status_code == 400
    assert requests.put(receiver.url, timeout=10).status_code == 405
