"""The key administration behind the keys function (create, import, list, revoke; see README, "API keys"):
a module of its own so that the authorizer, which only checks keys (idgate.apikeys), never imports its
validation."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Literal

from aws_lambda_powertools import Logger
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from idgate.apikeys import KeyKind, key_kind
from idgate.errors import NotFound, ValidationFailed
from idgate.keystore import KeyStore
from idgate.secrets_util import new_id, sha256_hex
from idgate.validation import validation_failed

logger = Logger(service="idgate", child=True)


class _Create(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: Literal["create"]
    kind: KeyKind
    client_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    name: str = Field(default="", max_length=100)


class _Import(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: Literal["import"]
    key: str = Field(pattern=r"^(sk|pk)_[A-Za-z0-9_-]{8,128}$")
    client_id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    name: str = Field(default="", max_length=100)


class _Revoke(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: Literal["revoke"]
    key_id: str = Field(pattern=r"^[0-9a-f]{64}$")


class _List(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: Literal["list"]


def administer(keys: KeyStore, command: Mapping[str, Any], *, now: Callable[[], datetime]) -> dict[str, Any]:
    """Runs one key-admin command (see README, "API keys")."""
    action = command.get("action")
    models: dict[str, type[BaseModel]] = {
        "create": _Create,
        "import": _Import,
        "revoke": _Revoke,
        "list": _List,
    }
    model = models.get(str(action))
    if model is None:
        raise ValidationFailed("action must be one of create, import, list, revoke", code="unknown_action")
    try:
        parsed = model.model_validate(command)
    except ValidationError as exc:
        raise validation_failed(exc) from exc
    if isinstance(parsed, _List):
        return {"keys": [_describe(item) for item in keys.all()]}
    if isinstance(parsed, _Revoke):
        if not keys.revoke(parsed.key_id, now=now()):
            raise NotFound("no such key", code="key_not_found")
        logger.info("API key revoked", key_id=parsed.key_id)
        return {"key_id": parsed.key_id, "revoked": True}
    if isinstance(parsed, _Create):
        prefix = "sk" if parsed.kind == "secret" else "pk"
        key, kind, client_id = new_id(prefix, 24), parsed.kind, parsed.client_id or new_id("cli", 9)
    else:
        assert isinstance(parsed, _Import)
        key, client_id = parsed.key, parsed.client_id
        kind = key_kind(key) or "secret"
    item = {
        "key_hash": sha256_hex(key),
        "kind": kind,
        "client_id": client_id,
        "name": parsed.name,
        "created_at": now().isoformat(),
    }
    if not keys.add(item):
        existing = keys.get(item["key_hash"]) or {}
        if existing.get("client_id") != client_id or existing.get("kind") != kind:
            raise ValidationFailed("that key is registered to another client", code="key_conflict")
    logger.info("API key registered", key_id=item["key_hash"], kind=kind, client_id=client_id)
    return {**_describe(item), "key": key}


def _describe(item: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "key_id": item["key_hash"],
        "kind": item.get("kind"),
        "client_id": item.get("client_id"),
        "name": item.get("name", ""),
        "created_at": item.get("created_at"),
        "revoked_at": item.get("revoked_at"),
    }
