"""openapi.yaml is valid, and it describes exactly the routes template.yaml deploys."""

import pytest
from openapi_spec_validator import validate

from devstack.template import load_template
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
