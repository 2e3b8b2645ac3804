"""The AWS clients of one container: one per service, made when first asked for.

Making a client costs a cold start about 60 ms for the first (botocore's endpoints and the service's model
are loaded), 5 to 7 ms for another service's, and 2 ms again for each more of the same service. So the
dependencies idgate.wiring builds share them rather than each making its own: the session store, the
idempotency keys and every provider's shared token all use the one DynamoDB client, and the last two the one
KMS client. boto3's clients are thread-safe, so concurrent requests of a container may share them too.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


def _new_client(service: str) -> Any:
    # boto3 is imported when the first client is made, not with this module (see idgate.wiring).
    import boto3

    return boto3.client(service)


class AwsClients:
    """`clients("dynamodb")`: this container's client of that service, made on the first call."""

    def __init__(self, make: Callable[[str], Any] = _new_client) -> None:
        self._make = make
        self._made: dict[str, Any] = {}
        self._lock = threading.Lock()

    def __call__(self, service: str) -> Any:
        with self._lock:
            if service not in self._made:
                self._made[service] = self._make(service)
            return self._made[service]
