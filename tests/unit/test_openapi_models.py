"""The request schemas of openapi.yaml accept what idgate's models accept: the same properties, types
(null included), bounds, patterns, enums, defaults, required fields and additionalProperties, for the
create-session request of every registered provider, its options, and the PIN. So they cannot drift apart."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from idgate.api import AutoSessionRequest, CreateSessionRequest, PinRequest
from idgate.checks import OPTIONS as CHECK_OPTIONS
from idgate.checks import Check
from idgate.hooks.contract import CreateEndpointRequest, ReplayRequest
from idgate.providers.base import Provider
from idgate.providers.registry import PROVIDERS, provider_names
from tests.support.contract import openapi

BOUNDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength")
EXACT = ("pattern", "enum", "const", "format", "default")
#: What a property's schema says about the values it accepts (descriptions, titles and examples aside).
FACTS = (*BOUNDS, *EXACT)


def schema_named(name: str) -> dict[str, Any]:
    return openapi()["components"]["schemas"][name]  # type: ignore[no-any-return]


def resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = schema_named(node["$ref"].removeprefix("#/components/schemas/"))
    return node


def _types(schema: dict[str, Any]) -> set[str]:
    declared = schema.get("type", [])
    return {declared} if isinstance(declared, str) else set(declared)


def facts(schema: dict[str, Any]) -> dict[str, Any]:
    """A property's schema reduced to what validation depends on, whether written as openapi.yaml does
    (`type: [string, "null"], maxLength: 9`) or as pydantic does (`anyOf: [{type: string, maxLength: 9},
    {type: null}]`)."""
    schema = resolve(schema)
    found = {key: value for key, value in schema.items() if key in FACTS}
    types = _types(schema)
    for branch in map(resolve, schema.get("anyOf", [])):
        types |= _types(branch)
        found.update({key: value for key, value in branch.items() if key in FACTS})
    if found.get("default", ...) is None:
        del found["default"]  # "absent" and "null" are the same to both
    return {**found, "type": sorted(types)}


def accepts(model: type[BaseModel], body: dict[str, Any]) -> bool:
    try:
        model.model_validate(body)
    except ValidationError:
        return False
    return True


def assert_model_enforces(
    model: type[BaseModel], base: dict[str, Any], name: str, key: str, bound: Any
) -> None:
    """A bound the document states and the model's schema does not (a validator enforces it): proven at
    its edge, on both sides."""
    inside, outside = {
        "minLength": ("a" * bound, "a" * (bound - 1)),
        "maxLength": ("a" * bound, "a" * (bound + 1)),
        "minimum": (bound, bound - 1),
        "maximum": (bound, bound + 1),
    }[key]
    where = f"{model.__name__}.{name} {key} {bound}"
    assert accepts(model, {**base, name: inside}), f"{where}: the model refuses {inside!r}"
    assert not accepts(model, {**base, name: outside}), f"{where}: the model accepts {outside!r}"


def assert_documented_as_modelled(
    documented: dict[str, Any], model: type[BaseModel], base: dict[str, Any], skip: tuple[str, ...] = ()
) -> None:
    documented = resolve(documented)
    modelled = model.model_json_schema()
    name = model.__name__
    assert documented.get("type") == "object", name
    assert documented.get("additionalProperties", True) == modelled.get("additionalProperties", True), name
    assert set(documented.get("required", [])) == set(modelled.get("required", [])), name
    assert set(documented["properties"]) == set(modelled["properties"]), name
    for prop in set(modelled["properties"]) - set(skip):
        said, enforced = facts(documented["properties"][prop]), facts(modelled["properties"][prop])
        for key in sorted(set(said) | set(enforced)):
            if key in BOUNDS and key not in enforced:
                assert_model_enforces(model, base, prop, key, said[key])
            else:
                assert said.get(key) == enforced.get(key), f"{name}.{prop}: {key} differs"


def branch_of(provider: str) -> dict[str, Any]:
    target = schema_named("CreateSessionRequest")["discriminator"]["mapping"][provider]
    return resolve({"$ref": target})


@pytest.mark.parametrize("provider", PROVIDERS, ids=provider_names())
def test_a_providers_options_are_documented_as_its_model_accepts_them(provider: type[Provider]) -> None:
    options = branch_of(provider.name)["properties"]["options"]
    assert_documented_as_modelled(options, provider.options_model, base={})


@pytest.mark.parametrize("provider", provider_names())
def test_a_create_session_request_is_documented_as_the_model_accepts_it(provider: str) -> None:
    branch = branch_of(provider)
    # `provider` is one name per branch in the document, any short string to the model (an unknown one
    # is a 422 unknown_provider): the document's name must be one the model takes.
    assert branch["properties"]["provider"] == {"type": "string", "const": provider}
    assert accepts(CreateSessionRequest, {"provider": provider})
    assert_documented_as_modelled(
        branch, CreateSessionRequest, base={"provider": provider}, skip=("provider",)
    )


@pytest.mark.parametrize("check", list(Check), ids=str)
def test_a_check_request_and_its_options_are_documented_as_the_models_accept_them(check: Check) -> None:
    auto = resolve({"$ref": schema_named("CreateSessionRequest")["discriminator"]["mapping"]["auto"]})
    branch = resolve({"$ref": auto["discriminator"]["mapping"][check.value]})
    assert (branch["properties"]["provider"], branch["properties"]["check"]) == (
        {"type": "string", "const": "auto"},
        {"type": "string", "const": check.value},
    )
    base = {"provider": "auto", "check": check.value}
    assert accepts(AutoSessionRequest, base)
    assert_documented_as_modelled(branch, AutoSessionRequest, base=base, skip=("provider", "check"))
    options_base = {"min_age": 18} if check is Check.AGE else {}
    assert_documented_as_modelled(branch["properties"]["options"], CHECK_OPTIONS[check], base=options_base)


def test_the_pin_request_is_documented_as_the_model_accepts_it() -> None:
    assert_documented_as_modelled(schema_named("PinRequest"), PinRequest, base={"pin": "123456"})


def test_the_webhook_endpoint_request_is_documented_as_the_model_accepts_it() -> None:
    assert_documented_as_modelled(
        schema_named("CreateWebhookEndpointRequest"),
        CreateEndpointRequest,
        base={"url": "https://a.example/"},
    )


def test_the_replay_request_is_documented_as_the_model_accepts_it() -> None:
    assert_documented_as_modelled(
        schema_named("ReplayWebhooksRequest"), ReplayRequest, base={"since": "2026-11-23T08:00:00Z"}
    )


class _Drifted(BaseModel):
    name: str | None = None


def test_the_comparison_sees_a_bound_the_model_does_not_enforce() -> None:
    documented = {"type": "object", "properties": {"name": {"type": ["string", "null"], "maxLength": 5}}}

    with pytest.raises(AssertionError, match="maxLength 5: the model accepts 'aaaaaa'"):
        assert_documented_as_modelled(documented, _Drifted, base={})


def test_the_comparison_sees_a_null_the_document_refuses() -> None:
    documented = {"type": "object", "properties": {"name": {"type": "string"}}}

    with pytest.raises(AssertionError, match=r"_Drifted\.name: type differs"):
        assert_documented_as_modelled(documented, _Drifted, base={})
