"""The key administration behind the keys function (create, import, list, revoke; see README, "API keys"):
a module of its own so that the authorizer, which only checks keys (idgate.apikeys), never imports its
validation.

The commands are validated by pydantic's own validators (pydantic-core), built from their schemas here, not
by pydantic models: the models' machinery (pydantic's import and the building of a first model) cost about
0.2 of the floor of this function's cold start, for four flat commands, and the validators are what checked
them then too. Same checks, same error messages (tests/unit/test_key_admin.py holds them to the models).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from aws_lambda_powertools import Logger
from pydantic_core import SchemaValidator, ValidationError, core_schema

from idgate.apikeys import KeyKind, key_kind
from idgate.errors import NotFound, ValidationFailed
from idgate.keystore import KeyStore
from idgate.secrets_util import new_id, sha256_hex
from idgate.validation import validation_failed

logger = Logger(service="idgate", child=True)


def _command(action: str, **fields: core_schema.TypedDictField) -> SchemaValidator:
    """A command's validator: its `action`, its fields, nothing else."""
    action_field = core_schema.typed_dict_field(core_schema.literal_schema([action]))
    schema = core_schema.typed_dict_schema({"action": action_field, **fields}, extra_behavior="forbid")
    return SchemaValidator(schema)


def _required(schema: core_schema.CoreSchema) -> core_schema.TypedDictField:
    return core_schema.typed_dict_field(schema)


def _optional(schema: core_schema.CoreSchema, default: Any) -> core_schema.TypedDictField:
    return core_schema.typed_dict_field(core_schema.with_default_schema(schema, default=default))


_CLIENT_ID = core_schema.str_schema(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
_NAME = _optional(core_schema.str_schema(max_length=100), "")
#: Each command's fields, as pydantic models declared them (`BaseModel` with `extra="forbid"`, `Literal`,
#: `Field(pattern=..., max_length=...)`) and validated them; tests/unit/test_key_admin.py holds them to those.
COMMANDS: dict[str, SchemaValidator] = {
    "create": _command(
        "create",
        kind=_required(core_schema.literal_schema(["secret", "publishable"])),
        client_id=_optional(core_schema.nullable_schema(_CLIENT_ID), None),
        name=_NAME,
    ),
    "import": _command(
        "import",
        key=_required(core_schema.str_schema(pattern=r"^(sk|pk)_[A-Za-z0-9_-]{8,128}$")),
        client_id=_required(_CLIENT_ID),
        name=_NAME,
    ),
    "revoke": _command("revoke", key_id=_required(core_schema.str_schema(pattern=r"^[0-9a-f]{64}$"))),
    "list": _command("list"),
}


def administer(keys: KeyStore, command: Mapping[str, Any], *, now: Callable[[], datetime]) -> dict[str, Any]:
    """Runs one key-admin command (see README, "API keys")."""
    validator = COMMANDS.get(str(command.get("action")))
    if validator is None:
        raise ValidationFailed("action must be one of create, import, list, revoke", code="unknown_action")
    try:
        parsed: dict[str, Any] = validator.validate_python(command)
    except ValidationError as exc:
        raise validation_failed(exc) from exc
    action = parsed["action"]
    if action == "list":
        return {"keys": [_describe(item) for item in keys.all()]}
    if action == "revoke":
        key_id = parsed["key_id"]
        if not keys.revoke(key_id, now=now()):
            raise NotFound("no such key", code="key_not_found")
        logger.info("API key revoked", key_id=key_id)
        return {"key_id": key_id, "revoked": True}
    kind: KeyKind
    if action == "create":
        kind = parsed["kind"]
        key = new_id("sk" if kind == "secret" else "pk", 24)
        client_id = parsed["client_id"] or new_id("cli", 9)
    else:
        key, client_id = parsed["key"], parsed["client_id"]
        kind = key_kind(key) or "secret"
    item = {
        "key_hash": sha256_hex(key),
        "kind": kind,
        "client_id": client_id,
        "name": parsed["name"],
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
