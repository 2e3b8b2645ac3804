"""Schemathesis against the running local stack: requests generated from openapi.yaml, valid and invalid,
each answered without a 5xx and as the description says (status, content type, body schema)."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.e2e.stack import RunningStack

pytestmark = pytest.mark.e2e

OPENAPI = Path(__file__).resolve().parents[2] / "openapi.yaml"


@pytest.fixture(scope="module")
def described(stack: RunningStack) -> schemathesis.BaseSchema:
    loaded = schemathesis.openapi.from_path(OPENAPI)
    # Valid requests, and requests the description forbids (each must be a clear 4xx, never a 5xx).
    loaded.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
    return loaded


schema = schemathesis.pytest.from_fixture("described")


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,  # the same requests on every run: a failure can be replayed
    database=None,  # nothing written into the repository
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_every_answer_is_as_described_and_never_a_server_error(case: schemathesis.Case, stack: RunningStack):
    headers = {"Authorization": f"Bearer {stack.keys['secret']}"}
    case.call_and_validate(
        base_url=stack.api,
        headers=headers,
        timeout=30,
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )
