"""Signed webhooks through the local stack: the sessions table's stream fans each event out, the delivery
queue runs the tries (at a hundredth of the schedule here), and a receiver sees Standard Webhooks deliveries
that the `standardwebhooks` package verifies; a receiver that was down gets every event once it is back, each
event is acknowledged once, a replay re-sends with the same ids, and an address idgate must not call is never
called."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from standardwebhooks import Webhook
from werkzeug.wrappers import Request, Response

from tests.integration.conftest import Integration, act, eventually
from tests.support.http_server import ScriptedServer, scripted_server

SECRET_KEY = {"Authorization": "Bearer sk_local_dev"}


class Endpoints:
    def __init__(self, integration: Integration) -> None:
        self.api = f"{integration.api}/v1/webhook-endpoints"
        self.made: list[str] = []

    def create(self, url: str, **more: Any) -> dict[str, Any]:
        answer = requests.post(self.api, json={"url": url, **more}, headers=SECRET_KEY, timeout=10)
        assert answer.status_code == 201, answer.text
        self.made.append(answer.json()["id"])
        return answer.json()

    def deliveries(self, endpoint_id: str) -> list[dict[str, Any]]:
        answer = requests.get(f"{self.api}/{endpoint_id}/deliveries", headers=SECRET_KEY, timeout=10)
        assert answer.status_code == 200, answer.text
        return answer.json()["deliveries"]  # type: ignore[no-any-return]

    def delete_all(self) -> None:
        for endpoint_id in self.made:
            requests.delete(f"{self.api}/{endpoint_id}", headers=SECRET_KEY, timeout=10)


@pytest.fixture
def endpoints(integration: Integration) -> Iterator[Endpoints]:
    made = Endpoints(integration)
    yield made
    made.delete_all()  # later tests' sessions are not delivered to these


def acknowledged(request: Request) -> Response:
    return Response("", status=204)


def down(request: Request) -> Response:
    return Response("down", status=503)


def finalize(integration: Integration, outcome: str = "approved") -> str:
    created = integration.create({"provider": "jekimo"})
    act(created["verification_url"], {"outcome": outcome})
    integration.wait_for(created["id"], "approved", "declined")
    return str(created["id"])


def bodies_of(server: ScriptedServer, secret: str) -> list[dict[str, Any]]:
    """Every delivery the server received, verified (raises on a bad signature)."""
    return [Webhook(secret).verify(r.body, r.headers) for r in list(server.requests)]


def received_sessions(server: ScriptedServer) -> list[str]:
    return [json.loads(r.body)["data"]["id"] for r in list(server.requests)]


def test_a_finalized_session_reaches_the_endpoint_signed_and_is_listed_as_delivered(
    integration: Integration, endpoints: Endpoints
):
    with scripted_server(acknowledged) as receiver:
        # Given an endpoint of the client's, whose secret is shown once
        endpoint = endpoints.create(receiver.url + "/hooks", description="backend")
        assert endpoint["secret"].startswith("whsec_")
        assert endpoint["events"] == ["session.finalized"]

        # When a session of the client's is approved
        session_id = finalize(integration)

        # Then one delivery arrives, which standardwebhooks verifies, with the session as GET shows it
        eventually(lambda: session_id in received_sessions(receiver), timeout=15)
        [request] = [r for r in receiver.requests if json.loads(r.body)["data"]["id"] == session_id]
        body = Webhook(endpoint["secret"]).verify(request.body, request.headers)
        assert body["type"] == "session.finalized"
        assert body["data"] == integration.session(session_id)
        assert request.path == "/hooks"
        # and the delivery log shows it, under the webhook-id it was sent with
        [delivery] = [d for d in endpoints.deliveries(endpoint["id"]) if d["session_id"] == session_id]
        assert delivery["event_id"] == request.headers["webhook-id"]
        assert (delivery["status"], delivery["attempts"], delivery["last_status_code"]) == (
            "succeeded",
            1,
            204,
        )
        # and the list of endpoints never shows the secret
        listed = requests.get(endpoints.api, headers=SECRET_KEY, timeout=10).json()["endpoints"]
        assert next(e for e in listed if e["id"] == endpoint["id"]).get("secret") is None


def test_a_receiver_that_was_down_gets_every_finalized_session_once_it_is_back(
    integration: Integration, endpoints: Endpoints
):
    up = {"now": False}
    acknowledgements: Counter[str] = Counter()

    def flaky(request: Request) -> Response:
        if not up["now"]:
            return down(request)
        acknowledgements[request.headers["webhook-id"]] += 1
        return acknowledged(request)

    with scripted_server(flaky) as receiver:
        endpoint = endpoints.create(receiver.url)
        # Given a receiver that answers 503 while three sessions are finalized
        sessions = [finalize(integration, outcome) for outcome in ("approved", "declined", "approved")]
        eventually(lambda: set(sessions) <= set(received_sessions(receiver)), timeout=15)
        time.sleep(1)
        # When it comes back
        up["now"] = True

        # Then each session's event is acknowledged, exactly once, on a later try (3 s, then 18 s, here)
        def each_acknowledged() -> bool:
            deliveries = {d["session_id"]: d for d in endpoints.deliveries(endpoint["id"])}
            return all(deliveries.get(s, {}).get("status") == "succeeded" for s in sessions)

        eventually(each_acknowledged, timeout=40)
        bodies = bodies_of(receiver, endpoint["secret"])  # every try verifies
        assert {b["data"]["id"] for b in bodies} >= set(sessions)
        time.sleep(2)  # nothing more comes for them
        ids_by_session = {
            s: {r.headers["webhook-id"] for r in receiver.requests if json.loads(r.body)["data"]["id"] == s}
            for s in sessions
        }
        assert all(len(ids) == 1 for ids in ids_by_session.values())  # the same webhook-id on every try
        deliveries = {d["session_id"]: d for d in endpoints.deliveries(endpoint["id"])}
        tries = Counter(json.loads(r.body)["data"]["id"] for r in receiver.requests)
        assert {deliveries[s]["event_id"] for s in sessions} <= set(acknowledgements)
        assert all(count == 1 for count in acknowledgements.values())  # one acknowledged delivery per event
        for session_id in sessions:
            assert deliveries[session_id]["attempts"] == tries[session_id] >= 2
            assert deliveries[session_id]["last_status_code"] == 204


def test_a_replay_sends_the_events_since_a_time_again_with_the_same_webhook_ids(
    integration: Integration, endpoints: Endpoints
):
    with scripted_server(acknowledged) as receiver:
        endpoint = endpoints.create(receiver.url)
        before = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 1))
        session_id = finalize(integration)
        eventually(lambda: session_id in received_sessions(receiver), timeout=15)
        first = next(r for r in receiver.requests if json.loads(r.body)["data"]["id"] == session_id)

        # When the endpoint's events since before the session are replayed
        answer = requests.post(
            f"{endpoints.api}/{endpoint['id']}/replay", json={"since": before}, headers=SECRET_KEY, timeout=10
        )

        # Then the event comes again, signed, with the same webhook-id
        assert answer.status_code == 202, answer.text
        assert answer.json()["replayed"] >= 1
        eventually(lambda: received_sessions(receiver).count(session_id) == 2, timeout=15)
        again = [r for r in receiver.requests if json.loads(r.body)["data"]["id"] == session_id][1]
        assert again.headers["webhook-id"] == first.headers["webhook-id"]
        Webhook(endpoint["secret"]).verify(again.body, again.headers)


def test_nothing_is_delivered_to_an_address_idgate_must_not_call(
    integration: Integration, endpoints: Endpoints
):
    with scripted_server(acknowledged) as receiver:
        port = receiver.url.rsplit(":", 1)[1]
        # Given an https URL whose host name resolves to a loopback address (only http to loopback is allowed,
        # and only on the local stack)
        endpoint = endpoints.create(f"https://localhost:{port}/")
        # and URLs refused at once
        for url, code in [
            (f"http://10.0.0.7:{port}/", "webhook_url_not_https"),
            ("https://169.254.169.254/latest/meta-data", "webhook_url_not_allowed"),
            ("https://user:pw@example.com/", "webhook_url_userinfo"),
            ("https://example.com/" + "a" * 2048, "validation_error"),
        ]:
            refused = requests.post(endpoints.api, json={"url": url}, headers=SECRET_KEY, timeout=10)
            assert (refused.status_code, refused.json()["error"]["code"]) == (422, code), url

        # When a session is finalized
        session_id = finalize(integration)

        # Then its delivery fails without a call: the receiver never sees a request
        def refused_try() -> bool:
            found = [d for d in endpoints.deliveries(endpoint["id"]) if d["session_id"] == session_id]
            return bool(found) and found[0]["attempts"] >= 2

        eventually(refused_try, timeout=15)
        [delivery] = [d for d in endpoints.deliveries(endpoint["id"]) if d["session_id"] == session_id]
        assert delivery["last_error"] == "webhook_address_not_allowed"
        assert delivery["last_status_code"] is None
        assert receiver.requests == []


def test_a_redacted_sessions_delivery_payloads_are_removed_and_a_replay_sends_nothing_of_it(
    integration: Integration, endpoints: Endpoints
):
    with scripted_server(acknowledged) as receiver:
        endpoint = endpoints.create(receiver.url)
        session_id = finalize(integration)
        eventually(lambda: session_id in received_sessions(receiver), timeout=15)

        # When the session is redacted (DELETE /v1/sessions/{id})
        answer = requests.delete(
            f"{integration.api}/v1/sessions/{session_id}", headers=SECRET_KEY, timeout=10
        )
        assert answer.status_code == 200, answer.text

        # Then the webhooks table keeps its delivery without the payload
        table = integration.client("dynamodb")

        def payload_gone() -> bool:
            assert integration.stack.provisioned is not None
            items = table.scan(TableName=integration.stack.provisioned.tables["WebhooksTable"])["Items"]
            mine = [i for i in items if i.get("session_id", {}).get("S") == session_id]
            return bool(mine) and all("payload" not in i for i in mine)

        eventually(payload_gone, timeout=15)
        # and a replay sends nothing of it
        before = len(receiver.requests)
        replayed = requests.post(
            f"{endpoints.api}/{endpoint['id']}/replay",
            json={"since": "2020-01-01T00:00:00Z"},
            headers=SECRET_KEY,
            timeout=10,
        )
        assert replayed.status_code == 202
        eventually(
            lambda: any(d["last_error"] == "session_redacted" for d in endpoints.deliveries(endpoint["id"])),
            timeout=15,
        )
        assert len(receiver.requests) == before


def test_the_delivery_log_is_read_a_page_at_a_time_and_bad_paging_is_a_422(
    integration: Integration, endpoints: Endpoints
):
    with scripted_server(acknowledged) as receiver:
        # Given an endpoint with two deliveries
        endpoint = endpoints.create(receiver.url)
        sessions = [finalize(integration) for _ in range(2)]
        eventually(lambda: {d["session_id"] for d in endpoints.deliveries(endpoint["id"])} == set(sessions))

        # When its log is read one delivery a page, following next_cursor
        url = f"{endpoints.api}/{endpoint['id']}/deliveries"
        seen: list[str] = []
        cursor: str | None = None
        for _ in range(4):
            params = {"limit": "1", **({"cursor": cursor} if cursor else {})}
            page = requests.get(url, params=params, headers=SECRET_KEY, timeout=10)
            assert page.status_code == 200, page.text
            seen += [d["session_id"] for d in page.json()["deliveries"]]
            cursor = page.json()["next_cursor"]
            if cursor is None:
                break

        # Then each delivery came once, the latest first, and the pages ended
        assert seen == sessions[::-1]
        assert cursor is None
        # and a limit or a cursor the API did not give is a 422 with its code
        for params, code in (({"limit": "0"}, "validation_error"), ({"cursor": "nope"}, "invalid_cursor")):
            refused = requests.get(url, params=params, headers=SECRET_KEY, timeout=10)
            assert (refused.status_code, refused.json()["error"]["code"]) == (422, code)
