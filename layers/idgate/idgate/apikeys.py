"""API keys: secret keys (`sk_...`) for servers, publishable keys (`pk_...`) safe in a browser.

Only the SHA-256 of a key is stored. The authorizer answers API Gateway from here; the admin use cases that
back the keys function (create, import, list, revoke) are idgate.key_admin's, so that the authorizer
imports no validation library (its cold start: README, "cold starts").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from aws_lambda_powertools import Logger

from idgate.keystore import KeyStore
from idgate.secrets_util import sha256_hex

logger = Logger(service="idgate", child=True)

KeyKind = Literal["secret", "publishable"]
_PREFIX: dict[str, KeyKind] = {"sk_": "secret", "pk_": "publishable"}


def key_kind(key: str) -> KeyKind | None:
    return _PREFIX.get(key[:3])


def bearer_key(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


def authorize(keys: KeyStore, headers: Mapping[str, str]) -> dict[str, Any]:
    """The simple-response answer of the Lambda authorizer.

    A valid key → authorized, with the client and the key's kind in the context (routes decide what a
    kind may do). No Authorization header but a client secret → authorized as "client_secret": the
    handler compares it with the session's. Anything else → denied.
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    authorization = lowered.get("authorization")
    if authorization:
        key = bearer_key(authorization)
        kind = key_kind(key) if key else None
        record = keys.get(sha256_hex(key)) if key and kind else None
        if record is None or record.get("revoked_at") or record.get("kind") != kind:
            logger.info("API key refused")
            return {"isAuthorized": False}
        return {"isAuthorized": True, "context": {"kind": kind, "client_id": record["client_id"]}}
    if lowered.get("x-client-secret", "").strip():
        return {"isAuthorized": True, "context": {"kind": "client_secret"}}
    return {"isAuthorized": False}
