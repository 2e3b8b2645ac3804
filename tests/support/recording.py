"""A boto3 client that records each request before passing it on: what moto answers the same either way
(a consistent read, a key id) is then checked on the request itself."""

from __future__ import annotations

from typing import Any


class Recording:
    """A boto3 client that records each request before passing it on."""

    def __init__(self, client: Any, requests: list[tuple[str, dict[str, Any]]]) -> None:
        self._client, self._requests = client, requests

    def __getattr__(self, operation: str) -> Any:
        def call(**request: Any) -> Any:
            self._requests.append((operation, request))
            return getattr(self._client, operation)(**request)

        return call
