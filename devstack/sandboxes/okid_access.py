"""Who may see what at the okID sandbox: its SDK keys, the verifications each key created, and the error
codes its refusals carry.

Separate from ``okid`` (the routes) because the order of okID's checks lives here and nowhere else:
the key (401), then the id (404), then the owner (403). Verifications are forgotten ``RETENTION_SECONDS``
after they expire. Nothing here locks: the sandbox calls it with its lock held (keys are only read
without it, as a list that is only appended to).
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable

from werkzeug.wrappers import Request

from devstack.sandboxes.base import SandboxError, key_digest, matching_digest
from devstack.sandboxes.okid_state import Verification

__all__ = ["ERROR_CODES", "FORBIDDEN", "INVALID_API_KEY", "NOT_FOUND", "RETENTION_SECONDS", "Verifications"]

RETENTION_SECONDS = 7 * 24 * 3600
#: The ``error`` code of each HTTP status okID answers, unless the error names its own.
ERROR_CODES = {
    400: "INVALID_REQUEST",
    401: "INVALID_API_KEY",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
}
INVALID_API_KEY = "Invalid API key provided"
FORBIDDEN = "API key does not have access to this verification"
NOT_FOUND = "Verification not found"


class Verifications:
    """The verifications by id, each answering only to the SDK key that created it (its ``owner``)."""

    def __init__(self, main_key: str, other_keys: Iterable[str] = ()) -> None:
        self._main_key = key_digest(main_key)
        self._key_digests = [self._main_key, *(key_digest(key) for key in other_keys)]
        self._by_id: dict[str, Verification] = {}

    def add_key(self, sdk_key: str) -> None:
        self._key_digests.append(key_digest(sdk_key))

    def authenticate(self, request: Request) -> str:
        """The digest of the request's ``X-SDK-Key`` if it is a known key (else a 401)."""
        owner = matching_digest(request.headers.get("X-SDK-Key", ""), self._key_digests)
        if owner is None:
            raise SandboxError(401, INVALID_API_KEY)
        return owner

    def is_main(self, owner: str) -> bool:
        """Whether ``owner`` is the main key's digest (the only key whose verifications notify)."""
        return hmac.compare_digest(owner, self._main_key)

    def add(self, verification: Verification, now: float) -> None:
        stale = [v for v, s in self._by_id.items() if now >= s.expires_at + RETENTION_SECONDS]
        for verification_id in stale:
            del self._by_id[verification_id]
        self._by_id[verification.verification_id] = verification

    def get(self, verification_id: str) -> Verification | None:
        return self._by_id.get(verification_id)

    def __getitem__(self, verification_id: str) -> Verification:
        return self._by_id[verification_id]

    def visible_to(self, verification_id: str, owner: str | None) -> Verification:
        """The verification if ``owner`` created it (else a 404 or 403); any one when ``owner`` is None
        (a request without a key for the image okID may serve without one)."""
        verification = self._by_id.get(verification_id)
        if verification is None:
            raise SandboxError(404, NOT_FOUND)
        if owner is not None and not hmac.compare_digest(verification.owner, owner):
            raise SandboxError(403, FORBIDDEN)
        return verification
