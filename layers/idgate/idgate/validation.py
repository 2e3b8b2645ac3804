"""Pydantic validation errors turned into our stable 422 answer (pydantic-core's class, which pydantic's
models raise too: no import of pydantic for the keys function's commands, idgate.key_admin)."""

from __future__ import annotations

from typing import Any

from pydantic_core import ValidationError

from idgate.errors import ValidationFailed


def validation_failed(exc: ValidationError, *, prefix: tuple[str | int, ...] = ()) -> ValidationFailed:
    fields: list[dict[str, Any]] = []
    for error in exc.errors(include_url=False, include_input=False):
        location = [str(part) for part in (*prefix, *error["loc"])]
        fields.append({"field": ".".join(location), "problem": error["msg"]})
    first = fields[0] if fields else {"field": "", "problem": "invalid"}
    message = f"{first['field']}: {first['problem']}" if first["field"] else first["problem"]
    return ValidationFailed(message, fields=fields)
