"""An endpoint's signing keys, encrypted with the stack's KMS key (EncryptionKey), bound to the endpoint by
the encryption context: a key copied to another endpoint's item does not decrypt there."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

CONTEXT_KEY = "idgate:webhook_endpoint"


def _new_client(service: str) -> Any:
    # boto3 is imported when the first client is made, not with this module (see idgate.wiring).
    import boto3

    return boto3.client(service)


class KmsSealer:
    def __init__(self, key_id: str, *, client: Callable[[str], Any] = _new_client) -> None:
        self._key_id = key_id
        self._clients = (
            client  # idgate.aws_clients.AwsClients: the container's KMS client, made when first used
        )

    def seal(self, endpoint_id: str, key: bytes) -> str:
        answer = self._clients("kms").encrypt(
            KeyId=self._key_id, Plaintext=key, EncryptionContext={CONTEXT_KEY: endpoint_id}
        )
        return base64.b64encode(answer["CiphertextBlob"]).decode("ascii")

    def unseal(self, endpoint_id: str, sealed: str) -> bytes:
        answer = self._clients("kms").decrypt(
            KeyId=self._key_id,
            CiphertextBlob=base64.b64decode(sealed),
            EncryptionContext={CONTEXT_KEY: endpoint_id},
        )
        return bytes(answer["Plaintext"])
