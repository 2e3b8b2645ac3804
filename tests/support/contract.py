"""Checks answers against openapi.yaml: every answer the tests see must be one the document describes."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator, FormatChecker

OPENAPI = Path(__file__).resolve().parents[2] / "openapi.yaml"


@lru_cache(maxsize=1)
def openapi() -> dict[str, Any]:
    return yaml.safe_load(OPENAPI.read_text())


def _follow(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = openapi()
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def operation_for(method: str, path: str) -> tuple[str, dict[str, Any]]:
    """The documented path template and operation that serve `method path`."""
    for template, item in openapi()["paths"].items():
        pattern = "^" + re.sub(r"\{[^/}]+\}", "[^/]+", template) + "$"
        if re.match(pattern, path) and method.lower() in item:
            return template, item[method.lower()]
    raise AssertionError(f"{method} {path} is not in openapi.yaml")


def assert_documented(
    method: str, path: str, status: int, body: Any, content_type: str = "application/json"
) -> None:
    """Fails unless `status` is documented for the operation and `body` matches its schema."""
    template, operation = operation_for(method, path.split("?")[0])
    responses = operation["responses"]
    assert str(status) in responses, (
        f"{method} {template} answered {status}, which openapi.yaml does not list"
    )
    response = _follow(responses[str(status)])
    media = response.get("content", {}).get(content_type.split(";")[0].strip())
    assert media is not None, f"{method} {template} {status}: {content_type} is not documented"
    schema = {**openapi(), "allOf": [media["schema"]]}
    errors = sorted(Draft202012Validator(schema, format_checker=FormatChecker()).iter_errors(body), key=str)
    assert not errors, f"{method} {template} {status} does not match openapi.yaml: {errors[0].message}"
