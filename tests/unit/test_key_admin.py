"""The keys function's commands are validated by pydantic-core validators built from their schemas
(idgate.key_admin says why): they hold every command to what the pydantic models that declared them did,
with the same errors."""

from __future__ import annotations

from typing import Any, Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from idgate.key_admin import COMMANDS

KeyKind = Literal["secret", "publishable"]


# The models as idgate.apikeys declared them before.
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


MODELS: dict[str, type[BaseModel]] = {"create": _Create, "import": _Import, "revoke": _Revoke, "list": _List}
COMMAND_CASES: list[dict[str, Any]] = [
    {"action": "create", "kind": "secret"},
    {"action": "create", "kind": "publishable", "client_id": "shop.web-1", "name": "web"},
    {"action": "create", "kind": "secret", "client_id": None},
    {"action": "create", "kind": "admin"},
    {"action": "create"},
    {"action": "create", "kind": "secret", "client_id": "no spaces"},
    {"action": "create", "kind": "secret", "client_id": "x" * 65},
    {"action": "create", "kind": "secret", "client_id": 12},
    {"action": "create", "kind": "secret", "name": "n" * 100},
    {"action": "create", "kind": "secret", "name": "n" * 101},
    {"action": "create", "kind": "secret", "name": None},
    {"action": "create", "kind": "secret", "name": b"bytes"},
    {"action": "create", "kind": "secret", "extra": 1},
    {"action": "create", "kind": ["secret"]},
    {"action": "import", "key": "sk_local_dev", "client_id": "local-dev"},
    {"action": "import", "key": "pk_shop_web_0001", "client_id": "shop", "name": "mine"},
    {"action": "import", "key": "not-a-key", "client_id": "x"},
    {"action": "import", "key": "sk_short", "client_id": "x"},
    {"action": "import", "key": "sk_" + "a" * 129, "client_id": "x"},
    {"action": "import", "key": "sk_local_dev"},
    {"action": "import", "key": "sk_local_dev", "client_id": None},
    {"action": "import", "key": "sk_local_dev\n", "client_id": "x"},
    {"action": "revoke", "key_id": "0" * 64},
    {"action": "revoke", "key_id": "short"},
    {"action": "revoke", "key_id": "A" * 64},
    {"action": "revoke"},
    {"action": "revoke", "key_id": "0" * 64, "kind": "secret"},
    {"action": "list"},
    {"action": "list", "page": 2},
]


@pytest.mark.parametrize("command", COMMAND_CASES)
def test_a_command_is_validated_as_its_pydantic_model_validated_it(command: dict[str, Any]) -> None:
    # Given the model that declared the command's fields
    model = MODELS[command["action"]]
    try:
        expected: Any = model.model_validate(command).model_dump()
    except ValidationError as exc:
        expected = exc.errors(include_url=False)
    # When its validator checks it
    try:
        validated: Any = COMMANDS[command["action"]].validate_python(command)
    except ValidationError as exc:
        validated = exc.errors(include_url=False)
    # Then both accept it with the same values, or refuse it with the same errors
    assert validated == expected
