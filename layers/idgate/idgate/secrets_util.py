"""Random secrets and their hashes: session ids, client secrets, API keys, PINs."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

#: What new_id("ses") makes; anything else is no session (and is never sent to the table).
SESSION_ID = re.compile(r"ses_[A-Za-z0-9_-]{16,64}")


def new_id(prefix: str, nbytes: int = 15) -> str:
    return f"{prefix}_{secrets.token_urlsafe(nbytes)}"


def sha256_hex(value: str) -> str:
    """For high-entropy values (keys, client secrets): a plain hash is enough and allows lookup by hash."""
    return hashlib.sha256(value.encode()).hexdigest()


def same_secret(value: str, expected_hash: str) -> bool:
    return hmac.compare_digest(sha256_hex(value), expected_hash)


_PIN_ITERATIONS = 100_000


def hash_pin(pin: str) -> str:
    """A salted, slow hash: a 6-digit PIN has little entropy, so a fast hash would give it away."""
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", pin.encode(), salt, _PIN_ITERATIONS)
    return f"pbkdf2_sha256${_PIN_ITERATIONS}${salt.hex()}${digest.hex()}"


def pin_matches(pin: str, stored: str) -> bool:
    try:
        _, iterations, salt, digest = stored.split("$")
        candidate = hashlib.pbkdf2_hmac("sha256", pin.encode(), bytes.fromhex(salt), int(iterations))
    except ValueError:
        return False
    return hmac.compare_digest(candidate.hex(), digest)
