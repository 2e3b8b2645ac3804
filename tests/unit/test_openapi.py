"""openapi.yaml is valid, and it describes exactly the routes template.yaml deploys."""

import pytest
from openapi_spec_validator import validate

from devstack.template import load_template
from idgate.checks import OPTIONS as CHECK_OPTIONS
from idgate.checks import Check
from idgate.providers.registry import PROVIDERS, provider_names
from tests.support.contract import assert_documented, openapi


def test_the_document_is_valid_openapi():
    validate(openapi())


def test_every_deployed_route_is_documented_and_every_documented_route_deployed():
    template = load_template()
    deployed = {(route.method.upper(), route.path) for route in template.routes}
    documented = {
        (method.upper(), path)
        for path, item in openapi()["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    }
    assert deployed == documented


def test_the_checker_refuses_an_undocumented_body():
    with pytest.raises(AssertionError, match="does not match"):
        assert_documented("GET", "/v1/health", 200, {"status": "down"})


def test_the_checker_refuses_an_undocumented_status():
    with pytest.raises(AssertionError, match="does not list"):
        assert_documented("GET", "/v1/health", 500, {"status": "ok"})


def test_every_registered_provider_and_its_options_are_documented():
    schemas = openapi()["components"]["schemas"]
    request = schemas["CreateSessionRequest"]
    branches = {ref["$ref"].rsplit("/", 1)[1] for ref in request["oneOf"]}
    mapping = request["discriminator"]["mapping"]
    assert list(mapping) == ["auto", *provider_names()]
    assert {target.rsplit("/", 1)[1] for target in mapping.values()} == branches
    checks = schemas["AutoSessionRequest"]["discriminator"]["mapping"]
    assert list(checks) == [check.value for check in Check]
    for check, model in CHECK_OPTIONS.items():
        branch = schemas[checks[check.value].rsplit("/", 1)[1]]["properties"]
        assert (branch["provider"]["const"], branch["check"]["const"]) == ("auto", check.value)
        name = model.__name__
        assert branch["options"]["$ref"] == f"#/components/schemas/{name}", name
        assert set(schemas[name]["properties"]) == set(model.model_fields), name
    for provider in PROVIDERS:
        branch = schemas[mapping[provider.name].rsplit("/", 1)[1]]["properties"]
        assert branch["provider"]["const"] == provider.name
        name = provider.options_model.__name__
        assert branch["options"]["$ref"] == f"#/components/schemas/{name}", name
        assert set(schemas[name]["properties"]) == set(provider.options_model.model_fields), name
