"""The sample events in events/ (what `sam local invoke` uses) drive the real handlers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests
from werkzeug.wrappers import Response

from devstack.template import load_template
from tests.integration.conftest import Integration, act, eventually
from tests.support.http_server import scripted_server

EVENTS = Path(__file__).resolve().parents[2] / "events"
#: The Datakeen session id the sample webhook events name.
SAMPLE_SESSION = "662f5f9c9c18e30012c2f021"
#: The FACEKI record the sample webhook event names.
SAMPLE_FACEKI_RECORD = "6650a1b2c3d4e5f6a7b8c9d0"
#: The session the sample stream event names.
SAMPLE_FINAL = "ses_replace0with0a0final0session"
#: A session id of the right shape that no test created.
SAMPLE_UNSEEN = "ses_sample0final0session0for0hooks"


def load(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


def test_there_is_a_sample_event_for_every_function():
    functions = set(load_template().functions())
    covered = {
        "ApiFunction",
        "AuthorizerFunction",
        "PollFunction",
        "KeysFunction",
        "WebhookFunction",
        "PublisherFunction",
        "WebhookFanoutFunction",
        "WebhookDeliveryFunction",
    }
    assert functions == covered
    assert {path.name for path in EVENTS.glob("*.json")} >= {
        "api-create-session.json",
        "authorizer-request.json",
        "poll-check.json",
        "keys-create.json",
        "webhook-okid.json",
        "webhook-datakeen-session.json",
        "webhook-datakeen-dashboard.json",
        "webhook-datakeen-back-office.json",
        "webhook-faceki.json",
        "publisher-stream.json",
        "fanout-stream.json",
        "delivery-sqs.json",
    }


def test_the_authorizer_event_is_authorized_with_the_dev_key(integration: Integration):
    answer = integration.stack.lambdas.invoke("AuthorizerFunction", load("authorizer-request.json"))
    assert answer == {"isAuthorized": True, "context": {"kind": "secret", "client_id": "local-dev"}}


def test_the_create_session_event_creates_a_session(integration: Integration):
    answer = integration.stack.lambdas.invoke("ApiFunction", load("api-create-session.json"))
    assert answer["statusCode"] == 201
    body = json.loads(answer["body"])
    assert body["status"] == "pending"
    assert body["reference"] == "order-1234"


def test_the_poll_event_drives_one_real_check(integration: Integration):
    created = integration.create({"provider": "jekimo"})
    token = created["verification_url"].rsplit("/", 1)[1]
    before = integration.jekimo.count("/auth/check", token)
    answer = integration.stack.lambdas.invoke(
        "PollFunction", {**load("poll-check.json"), "session_id": created["id"]}
    )
    assert answer["done"] is False
    assert answer["attempt"] == 1
    assert integration.jekimo.count("/auth/check", token) == before + 1


def test_the_poll_event_as_shipped_names_no_session_and_is_done(integration: Integration):
    answer = integration.stack.lambdas.invoke("PollFunction", load("poll-check.json"))
    assert answer["done"] is True


def test_the_keys_event_creates_a_key_shown_once(integration: Integration):
    answer = integration.stack.lambdas.invoke("KeysFunction", load("keys-create.json"))
    assert answer["key"].startswith("sk_")
    listed = integration.stack.lambdas.invoke("KeysFunction", {"action": "list"})["keys"]
    assert answer["key_id"] in {key["key_id"] for key in listed}
    assert all("key" not in key for key in listed)


def test_the_webhook_event_with_its_placeholder_token_is_not_found(integration: Integration):
    event = load("webhook-okid.json")
    answer = integration.stack.lambdas.invoke("WebhookFunction", event)
    assert answer["statusCode"] == 404
    assert json.loads(answer["body"])["error"]["code"] == "webhook_not_found"


@pytest.mark.parametrize(
    "name",
    ["webhook-datakeen-session.json", "webhook-datakeen-dashboard.json", "webhook-datakeen-back-office.json"],
)
def test_each_datakeen_webhook_event_drives_the_real_handler(integration: Integration, name: str):
    created = integration.create({"provider": "datakeen"})
    act(created["verification_url"], {"outcome": "approved", "webhook": False})
    session_id = created["verification_url"].rsplit("sessionId=", 1)[1]
    url = integration.stack.webhook_url("datakeen")
    assert url is not None
    token = url.rsplit("/", 1)[1]
    event = json.loads(
        (EVENTS / name)
        .read_text()
        .replace("replace-with-the-webhook-token", token)
        .replace(SAMPLE_SESSION, session_id)
    )
    answer = integration.stack.lambdas.invoke("WebhookFunction", event)
    assert answer["statusCode"] == 200, answer
    assert integration.session(created["id"])["status"] == "approved"


def test_the_faceki_webhook_event_drives_the_real_handler(integration: Integration):
    created = integration.create({"provider": "faceki"})
    made = act(created["verification_url"], {"outcome": "accepted", "webhook": False})
    url = integration.stack.webhook_url("faceki")
    assert url is not None
    text = (EVENTS / "webhook-faceki.json").read_text()
    event = json.loads(
        text.replace("replace-with-the-webhook-token", url.rsplit("/", 1)[1]).replace(
            SAMPLE_FACEKI_RECORD, made["requestId"]
        )
    )
    answer = integration.stack.lambdas.invoke("WebhookFunction", event)
    assert answer["statusCode"] == 200, answer
    assert integration.session(created["id"])["status"] == "approved"


def test_the_stream_event_publishes_a_final_sessions_event_once(integration: Integration):
    created = integration.create({"provider": "faceki"})
    act(created["verification_url"], {"outcome": "accepted"})
    integration.wait_for(created["id"], "approved")
    event = json.loads((EVENTS / "publisher-stream.json").read_text().replace(SAMPLE_FINAL, created["id"]))
    answer = integration.stack.lambdas.invoke("PublisherFunction", event)
    assert answer == {"batchItemFailures": []}
    assert len(integration.final_events(created["id"])) == 1  # the stream had published it already


def test_the_stream_event_as_shipped_names_no_session_and_publishes_nothing(integration: Integration):
    answer = integration.stack.lambdas.invoke("PublisherFunction", load("publisher-stream.json"))
    assert answer == {"batchItemFailures": []}


def test_the_fanout_event_queues_a_delivery_to_the_clients_endpoint_and_the_delivery_event_sends_it(
    integration: Integration,
):
    with scripted_server(lambda _request: Response("", status=200)) as receiver:
        # Given an endpoint of the dev client's
        made = requests.post(
            f"{integration.api}/v1/webhook-endpoints",
            json={"url": receiver.url},
            headers={"Authorization": "Bearer sk_local_dev"},
            timeout=10,
        ).json()
        try:
            # When the sample stream event names a final session of that client (not one the stack saw)
            text = (EVENTS / "fanout-stream.json").read_text()
            text = text.replace("replace-with-a-client-id", "local-dev").replace(SAMPLE_FINAL, SAMPLE_UNSEEN)
            answer = integration.stack.lambdas.invoke("WebhookFanoutFunction", json.loads(text))
            assert answer == {"batchItemFailures": []}
            # Then its delivery reaches the receiver (through the queue and the delivery function)
            eventually(lambda: bool(receiver.requests), timeout=10)
            body = json.loads(receiver.requests[0].body)
            assert (body["type"], body["data"]["id"]) == ("session.finalized", SAMPLE_UNSEEN)
            # and the sample delivery event, of an endpoint that does not exist, is dropped quietly
            delivery = load("delivery-sqs.json")
            assert integration.stack.lambdas.invoke("WebhookDeliveryFunction", delivery) == {
                "batchItemFailures": []
            }
        finally:
            requests.delete(
                f"{integration.api}/v1/webhook-endpoints/{made['id']}",
                headers={"Authorization": "Bearer sk_local_dev"},
                timeout=10,
            )
