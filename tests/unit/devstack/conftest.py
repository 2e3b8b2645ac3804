"""One local AWS endpoint (moto in this process) for the devstack tests that need AWS."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devstack.aws import LocalAws


@pytest.fixture(scope="session")
def aws_server() -> Iterator[LocalAws]:
    aws = LocalAws(port=0).start()
    yield aws
    aws.stop()


@pytest.fixture
def local_aws(aws_server: LocalAws, monkeypatch: pytest.MonkeyPatch) -> LocalAws:
    """The endpoint, emptied; Step Functions calls back into it (a LocalStack test moves MOTO_PORT)."""
    monkeypatch.setenv("MOTO_PORT", str(aws_server.port))
    aws_server.reset()
    return aws_server
