"""The AWS calls each function really makes stay within what its role allows (AWS_PERMISSIONS beside its
handler, which tests/unit/test_least_privilege.py holds template.yaml to): every boto3 call the real handlers
make through the local stack, while sessions of every provider go through their paths, is recorded with the
function that made it."""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import requests
from botocore.client import BaseClient
from werkzeug.wrappers import Response

from devstack.lambdas import Environments
from tests.integration.conftest import Integration, act
from tests.support.http_server import ScriptedServer, scripted_server
from tests.support.permissions import declared, function_ids

#: The function whose handler is running in this context.
_RUNNING: contextvars.ContextVar[str | None] = contextvars.ContextVar("running_function", default=None)
#: The IAM action prefix of each service, where it is not boto3's signing name.
_PREFIX = {"sesv2": "ses"}


class Recorder:
    def __init__(self) -> None:
        self.calls: set[tuple[str, str, str | None, str | None]] = set()  # function, action, table, index
        self._lock = threading.Lock()

    def record(self, client: BaseClient, operation: str, params: dict[str, Any]) -> None:
        function = _RUNNING.get()
        if function is None:
            return  # the local stack's own calls (provisioning, the stream poller)
        model = client.meta.service_model
        prefix = _PREFIX.get(model.service_name, model.signing_name)
        with self._lock:
            self.calls.add(
                (function, f"{prefix}:{operation}", params.get("TableName"), params.get("IndexName"))
            )


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    recorder = Recorder()
    make_api_call = BaseClient._make_api_call
    reserve = Environments.reserve

    def recorded_call(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        recorder.record(client, operation, params)
        return make_api_call(client, operation, params)

    @contextmanager
    def recorded_reserve(environments: Environments) -> Iterator[Callable[[Any, Any], Any]]:
        with reserve(environments) as handler:

            def running(event: Any, context: Any) -> Any:
                token = _RUNNING.set(context.function_name)
                try:
                    return handler(event, context)
                finally:
                    _RUNNING.reset(token)

            yield running

    monkeypatch.setattr(BaseClient, "_make_api_call", recorded_call)
    monkeypatch.setattr(Environments, "reserve", recorded_reserve)
    return recorder


@pytest.fixture
def receiver() -> Iterator[ScriptedServer]:
    """A webhook endpoint that fails once, then acknowledges: a retry, and the signing keys read."""
    with scripted_server(lambda _r: Response("", status=500), lambda _r: Response("", status=204)) as server:
        yield server


def test_every_call_a_function_makes_is_one_its_role_allows(
    integration: Integration, recorder: Recorder, receiver: ScriptedServer
):
    # Given keys administered by the keys function, checked by the authorizer
    keys = integration.stack.lambdas
    key = keys.invoke("KeysFunction", {"action": "create", "kind": "secret", "client_id": "calls"})["key"]
    other = keys.invoke("KeysFunction", {"action": "create", "kind": "secret", "client_id": "calls"})
    keys.invoke("KeysFunction", {"action": "revoke", "key_id": other["key_id"]})
    keys.invoke("KeysFunction", {"action": "import", "key": "sk_calls_imported_0001", "client_id": "calls"})
    keys.invoke("KeysFunction", {"action": "list"})
    api = integration.api
    auth = {"Authorization": f"Bearer {key}"}

    def post(path: str, body: dict[str, Any], **headers: str) -> requests.Response:
        return requests.post(f"{api}{path}", json=body, headers={**auth, **headers}, timeout=30)

    # And a webhook endpoint of that client, registered, listed, rotated (deliveries come below)
    endpoint = post("/v1/webhook-endpoints", {"url": receiver.url}).json()
    hooks = f"{api}/v1/webhook-endpoints"
    assert requests.get(hooks, headers=auth, timeout=30).status_code == 200
    assert post(f"/v1/webhook-endpoints/{endpoint['id']}/rotate-secret", {}).status_code == 200

    def wait_for(session_id: str, status: str) -> None:
        deadline = time.monotonic() + 20
        while (
            requests.get(f"{api}/v1/sessions/{session_id}", headers=auth, timeout=30).json()["status"]
            != status
        ):
            assert time.monotonic() < deadline, f"{session_id} is not {status}"
            time.sleep(0.2)

    # When a Jekimo session with a PIN is created (twice with one idempotency key), proven and approved
    pin_session = {"provider": "jekimo", "email": "user@example.com", "options": {"two_factor": True}}
    created = post("/v1/sessions", pin_session, **{"Idempotency-Key": "calls-1"}).json()
    assert post("/v1/sessions", pin_session, **{"Idempotency-Key": "calls-1"}).json()["id"] == created["id"]
    assert post("/v1/sessions", {"provider": "none"}, **{"Idempotency-Key": "calls-2"}).status_code == 422
    act(created["verification_url"], {"outcome": "approved", "risk": True, "pin": 123456})
    wait_for(created["id"], "awaiting_pin")
    assert post(f"/v1/sessions/{created['id']}/pin", {"pin": "000000"}).status_code == 422
    assert post(f"/v1/sessions/{created['id']}/pin", {"pin": "123456"}).json()["status"] == "approved"

    # And okID, Datakeen and FACEKI sessions end through their webhooks, the API serving the rest
    for path in ("/v1/providers", "/v1/providers/okid/webhook", "/v1/providers/datakeen/templates"):
        assert requests.get(f"{api}{path}", headers=auth, timeout=30).status_code == 200
    for provider, outcome in (("okid", "verified"), ("datakeen", "approved"), ("faceki", "accepted")):
        session = post("/v1/sessions", {"provider": provider}).json()
        act(session["verification_url"], {"outcome": outcome})
        wait_for(session["id"], "approved")
        integration.final_events(session["id"], settle=1.5)  # the publisher has run

    # And the deliveries are acknowledged (after a retry), listed, replayed, and the endpoint removed
    deadline = time.monotonic() + 20
    while not any(r.headers.get("webhook-id") for r in receiver.requests[1:]):
        assert time.monotonic() < deadline, "no delivery was retried"
        time.sleep(0.2)
    assert requests.get(f"{hooks}/{endpoint['id']}/deliveries", headers=auth, timeout=30).status_code == 200
    since = {"since": "2020-01-01T00:00:00Z"}
    assert post(f"/v1/webhook-endpoints/{endpoint['id']}/replay", since).status_code == 202
    assert requests.delete(f"{hooks}/{endpoint['id']}", headers=auth, timeout=30).status_code == 200

    # Then each function made only calls its role allows, on the tables and indexes it names
    tables = {name: logical_id for logical_id, name in integration.stack.provisioned.tables.items()}
    made: dict[str, set[tuple[str, str | None]]] = {}
    for function, action, table, index in recorder.calls:
        resource = None
        if table is not None:
            resource = f"${{{tables[table]}.Arn}}" + (f"/index/{index}" if index else "")
        made.setdefault(function, set()).add((action, resource))
    for function in function_ids():
        allowed = declared(function)
        for action, resource in made.get(function, set()):
            if resource is None:
                assert any(action in actions for actions in allowed.values()), (function, action)
            else:
                assert action in allowed.get(resource, ()), (function, action, resource)

    # And every function ran, through the paths that need its rarer permissions
    assert set(made) == set(function_ids())
    assert ("ses:SendEmail", None) in made["PollFunction"]
    assert ("dynamodb:DeleteItem", "${SessionsTable.Arn}") in made["ApiFunction"]
    assert ("kms:Decrypt", None) in made["ApiFunction"]
    assert ("dynamodb:Query", "${SessionsTable.Arn}/index/by_provider_ref") in made["WebhookFunction"]
    assert ("events:PutEvents", None) in made["PublisherFunction"]
    assert ("sqs:SendMessage", None) in made["WebhookFanoutFunction"]
    assert ("sqs:SendMessage", None) in made["WebhookDeliveryFunction"]  # the retry
    assert ("kms:Decrypt", None) in made["WebhookDeliveryFunction"]
    assert ("dynamodb:DeleteItem", "${WebhooksTable.Arn}") in made["ApiFunction"]
