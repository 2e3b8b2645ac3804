"""An endpoint's signing key sealed with the stack's KMS key (idgate.hooks.sealing): opened only with that key
and for that endpoint, by the container's own client when none is given."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from idgate.hooks.sealing import KmsSealer
from tests.support.hooks import boto3_region_env
from tests.support.recording import Recording


@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    boto3_region_env(monkeypatch)
    with mock_aws():
        yield boto3.client("kms").create_key()["KeyMetadata"]["Arn"]


def test_a_key_is_opened_with_the_stacks_key_for_its_endpoint_only(key: str):
    # moto decrypts a symmetric ciphertext without a KeyId: the request itself must name the stack's key
    requests: list[tuple[str, dict[str, Any]]] = []
    sealer = KmsSealer(key, client=lambda service: Recording(boto3.client(service), requests))
    sealed = sealer.seal("we_first", b"k" * 32)
    assert sealer.unseal("we_first", sealed) == b"k" * 32
    [decrypt] = [request for operation, request in requests if operation == "decrypt"]
    assert decrypt["KeyId"] == key
    with pytest.raises(ClientError, match="InvalidCiphertext"):
        sealer.unseal("we_second", sealed)


def test_without_a_client_it_makes_its_own(key: str):
    sealer = KmsSealer(key)
    assert sealer.unseal("we_first", sealer.seal("we_first", b"k" * 32)) == b"k" * 32
