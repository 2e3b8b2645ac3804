"""A container makes one AWS client per service, when first needed, and its dependencies share it
(idgate.aws_clients): each client made costs its cold start."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from idgate.aws_clients import AwsClients
from idgate.settings import Settings
from idgate.wiring import build_service
from tests.support.tables import create_template_tables


def test_each_service_gets_one_client_made_on_first_use():
    made: list[str] = []

    def make(service: str) -> object:
        made.append(service)
        return object()

    clients = AwsClients(make)
    assert made == []
    assert clients("dynamodb") is clients("dynamodb")
    assert clients("kms") is not clients("dynamodb")
    assert made == ["dynamodb", "kms"]


def test_concurrent_first_uses_share_one_client():
    made: list[str] = []
    barrier = threading.Barrier(8)

    def make(service: str) -> object:
        made.append(service)
        return object()

    clients = AwsClients(make)
    got: list[object] = []

    def first_use() -> None:
        barrier.wait()
        got.append(clients("dynamodb"))

    threads = [threading.Thread(target=first_use) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert made == ["dynamodb"]
    assert len({id(client) for client in got}) == 1


@pytest.fixture
def made_clients(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[dict[str, str], list[str]]]:
    """Tables from the template on moto, then every client boto3 makes from now on, by service."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        names = create_template_tables(boto3.client("dynamodb"))
        made: list[str] = []
        make = boto3.client

        def counted(service: str, *args: Any, **kwargs: Any) -> Any:
            made.append(service)
            return make(service, *args, **kwargs)

        monkeypatch.setattr(boto3, "client", counted)
        yield names, made


def test_the_services_dynamodb_users_share_one_client(made_clients: tuple[dict[str, str], list[str]]):
    # Given the service as a container builds it, with the deployment's KMS key (idempotency keys kept)
    names, made = made_clients
    settings = Settings.from_environ(
        {"SESSIONS_TABLE": names["SessionsTable"], "KEYS_TABLE": names["KeysTable"], "ENCRYPTION_KEY_ID": "k"}
    )
    service = build_service(settings)
    assert service.deps.idempotency is not None

    # When the session store and the idempotency keys both reach the sessions table
    assert service.deps.sessions.get("ses_none000000000000000") is None
    service.deps.idempotency.release("shop", "key-1")

    # Then the container made one DynamoDB client, and nothing else yet
    assert made == ["dynamodb"]
