"""Standard Webhooks signatures: `whsec_` secrets, and the headers of a delivery.

The secret is `whsec_` + base64 of 32 random bytes; its key is those bytes. A delivery is signed as `v1,` +
base64(HMAC-SHA256(key, "{webhook-id}.{webhook-timestamp}.{body}")), one signature per key in force,
space-separated (after a rotation, the old and the new key for 24 hours).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from datetime import datetime

SECRET_PREFIX = "whsec_"  # noqa: S105 - the prefix, not a secret
KEY_BYTES = 32


def new_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


def secret_of(key: bytes) -> str:
    """What the integrator is shown, once."""
    return SECRET_PREFIX + base64.b64encode(key).decode("ascii")


def key_of(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def signature(key: bytes, message_id: str, timestamp: int, body: str) -> str:
    digest = hmac.new(key, f"{message_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signed_headers(keys: Sequence[bytes], message_id: str, sent_at: datetime, body: str) -> dict[str, str]:
    if not keys:
        raise ValueError("no key to sign with")
    timestamp = int(sent_at.timestamp())
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signature(key, message_id, timestamp, body) for key in keys),
        "content-type": "application/json",
    }
