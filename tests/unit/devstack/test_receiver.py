"""The local stack's webhook receiver: it verifies each delivery with the secret it registered, tells a forged
one apart, answers 503 while told to fail, and passes every other request to the app behind it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from werkzeug.test import Client
from werkzeug.wrappers import Response

from devstack.receiver import HOOKS_PATH, PREFIX, WebhookReceiver
from idgate.hooks.signing import new_key, secret_of, signed_headers

KEY = new_key()


def behind(environ: Any, start_response: Any) -> Any:
    return Response("the API")(environ, start_response)


def receiver() -> Client:
    def register(url: str) -> dict[str, Any]:
        assert url == "http://127.0.0.1:3000" + HOOKS_PATH
        return {"id": "we_receiver00000000000000", "secret": secret_of(KEY)}

    return Client(WebhookReceiver(behind, "http://127.0.0.1:3000", register))


def deliver(client: Client, key: bytes, session_id: str = "ses_x") -> int:
    body = json.dumps(
        {"type": "session.finalized", "timestamp": "t", "data": {"id": session_id, "status": "approved"}}
    )
    headers = signed_headers([key], "evt_1", datetime.now(UTC), body)
    return client.post(HOOKS_PATH, data=body, headers=headers).status_code


def test_a_delivery_signed_with_the_registered_secret_is_verified_and_a_forged_one_is_not():
    client = receiver()
    state = client.post(PREFIX, json={"register": True}).get_json()
    assert state["registered"] is True
    assert "secret" not in json.dumps(state)
    assert deliver(client, KEY) == 204
    assert deliver(client, new_key(), "ses_forged") == 204
    forged, genuine = client.get(PREFIX).get_json()["deliveries"]
    assert (genuine["session_id"], genuine["verified"], genuine["try"]) == ("ses_x", True, 1)
    assert (forged["session_id"], forged["verified"], forged["try"]) == ("ses_forged", False, 2)


def test_told_to_fail_it_answers_503_and_other_paths_reach_the_app_behind():
    client = receiver()
    client.post(PREFIX, json={"failing": True})
    assert deliver(client, KEY) == 503
    assert client.get(PREFIX).get_json()["deliveries"][0]["answered"] == 503
    assert client.get("/v1/health").get_data(as_text=True) == "the API"
    assert client.post(PREFIX, json={"failing": 1}).status_code == 400
