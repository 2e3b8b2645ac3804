"""FACEKI in the real local stack: the deployment's one token under a burst of cold containers, the
dashboard webhook's record look-up under provider faults, and the follow-up as its safety net."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import requests

from idgate.api import Caller
from idgate.service import Idgate
from idgate.settings import Settings
from idgate.shared_token import ITEM_PREFIX
from idgate.wiring import build_service
from tests.integration.conftest import Integration, act

CONTAINERS = 6


def forget_the_shared_token(integration: Integration) -> None:
    table = integration.stack.provisioned.tables["SessionsTable"] if integration.stack.provisioned else ""
    integration.client("dynamodb").delete_item(TableName=table, Key={"pk": {"S": ITEM_PREFIX + "faceki"}})


def test_cold_containers_starting_at_once_ask_faceki_for_one_token(integration: Integration):
    forget_the_shared_token(integration)
    sandbox = integration.faceki_sandbox
    before = sandbox.tokens_issued
    # Each is what a new Lambda container builds: its own clients, caches and memory, one table.
    services = [build_service(Settings.from_environ(os.environ)) for _ in range(CONTAINERS)]
    caller = Caller(kind="secret", client_id="local-dev")
    barrier = threading.Barrier(CONTAINERS)

    def first_request(service: Idgate) -> str:
        barrier.wait()
        session, _, _ = service.create_session(caller, {"provider": "faceki"})
        return str(session.id)

    with ThreadPoolExecutor(CONTAINERS) as pool:
        created = list(pool.map(first_request, services))
    assert len(set(created)) == CONTAINERS
    assert sandbox.tokens_issued == before + 1
    # The token in the table is FACEKI's, encrypted: not readable there.
    table = integration.stack.provisioned.tables["SessionsTable"] if integration.stack.provisioned else ""
    item = integration.client("dynamodb").get_item(
        TableName=table, Key={"pk": {"S": ITEM_PREFIX + "faceki"}}, ConsistentRead=True
    )["Item"]
    assert set(item) >= {"ciphertext", "version", "renew_at", "expires_at"}
    assert "lease_until" not in item
    # The stack's own functions use the same token.
    integration.create({"provider": "faceki"})
    assert sandbox.tokens_issued == before + 1


def test_a_webhook_whose_record_cannot_be_read_is_a_503_and_a_reader_catches_up(
    integration: Integration,
):
    created = integration.create({"provider": "faceki"})
    made = act(created["verification_url"], {"outcome": "accepted", "webhook": False})
    url = integration.stack.webhook_url("faceki")
    assert url is not None
    integration.faceki.fail("/kycverify/api/kycverify/records", None)
    try:
        answer = requests.post(url, json={"requestId": made["requestId"], "fullName": "x"}, timeout=10)
    finally:
        integration.faceki.heal()
    assert answer.status_code == 503
    assert answer.json()["error"]["code"] == "provider_unavailable"
    stored = integration.client("dynamodb").get_item(
        TableName="SessionsTable", Key={"pk": {"S": created["id"]}}
    )
    assert stored["Item"]["status"]["S"] == "pending"  # the webhook changed nothing
    # Once FACEKI answers again, the next read (the user's page polling) looks at it (idgate.freshness).
    session = integration.session(created["id"])
    assert session["status"] == "approved"
    assert session["result"]["provider_status"] == "ACCEPTED"


def test_a_webhook_is_applied_once_however_often_it_arrives(integration: Integration):
    created = integration.create({"provider": "faceki"})
    made = act(created["verification_url"], {"outcome": "declined", "code": 8006, "webhook": False})
    url = integration.stack.webhook_url("faceki")
    assert url is not None
    body = {"requestId": made["requestId"], "status": "ACCEPTED", "fullName": "x", "kycData": {}}
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: requests.post(url, json=body, timeout=10), range(16)))
    assert {answer.status_code for answer in answers} == {200}
    session = integration.session(created["id"])
    assert session["status"] == "declined"  # the record says so, whatever the body claims
    assert session["result"]["reasons"] == ["face_not_found"]
    assert len(integration.final_events(created["id"])) == 1
