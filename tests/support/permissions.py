"""The template's functions and the AWS permissions each handler declares (AWS_PERMISSIONS), read from their
source without importing them."""

from __future__ import annotations

import ast
from functools import cache

from devstack.template import Resolver, Template, load_template


@cache
def template() -> Template:
    return load_template()


@cache
def resolver() -> Resolver:
    return template().resolver()


def function_ids() -> list[str]:
    resources = template().document["Resources"]
    return sorted(lid for lid, r in resources.items() if r["Type"] == "AWS::Serverless::Function")


def declared(logical_id: str) -> dict[str, tuple[str, ...]]:
    """The handler's AWS_PERMISSIONS: resource (as template.yaml writes its ARN) → actions."""
    function = template().functions()[logical_id]
    module = function.handler.rsplit(".", 1)[0].replace(".", "/")
    tree = ast.parse((function.code_uri / f"{module}.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.AnnAssign | ast.Assign):
            targets = [node.target] if isinstance(node, ast.AnnAssign) else node.targets
            if any(isinstance(t, ast.Name) and t.id == "AWS_PERMISSIONS" for t in targets):
                assert node.value is not None
                value: dict[str, tuple[str, ...]] = ast.literal_eval(node.value)
                return value
    raise AssertionError(f"{logical_id}: its handler declares no AWS_PERMISSIONS")
