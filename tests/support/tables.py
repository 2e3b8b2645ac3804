"""DynamoDB tables made from template.yaml itself, so tests cannot drift from the infrastructure."""

from __future__ import annotations

from typing import Any

from devstack.provision import table_request
from devstack.template import load_template


def create_template_tables(dynamodb_client: Any) -> dict[str, str]:
    """Creates every table of the template; returns logical id → table name."""
    names = {}
    for logical_id, table in load_template().tables().items():
        dynamodb_client.create_table(**table_request(table))
        names[logical_id] = table.name
    return names


def boto3_region_env(monkeypatch: Any) -> None:
    """What boto3 needs to talk to moto in process: a region, dummy credentials, and no endpoint of the
    local stack's left in the environment."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
