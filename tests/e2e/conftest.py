"""End-to-end tests: the real local stack (`python -m devstack`) in a subprocess, spoken to over HTTP.
Every answer from the API is checked against openapi.yaml."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.client import FAST, Api
from tests.e2e.stack import RunningStack, running_stack


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    log_path: Path = tmp_path_factory.mktemp("stack") / "devstack.log"
    with running_stack(*FAST, "--allow-unredacted-images", log_path=log_path) as running:
        yield running


@pytest.fixture(scope="session")
def api(stack: RunningStack) -> Api:
    return Api(stack)
