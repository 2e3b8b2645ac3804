"""The routing policy (idgate.routing_policy): the deployment's default, a client's own over it check by check
(GET/PUT /v1/routing, secret key only), and every way a policy can be wrong."""

from __future__ import annotations

import pytest

from idgate.api import Caller
from idgate.errors import Forbidden, ValidationFailed
from idgate.routing_policy import declared_policy, default_policy, parsed_policy
from tests.support.messages import says
from tests.support.routing_fakes import Alpha, Beta, Gamma
from tests.support.world import CALLER, World, make_world, store_of

OTHER = Caller(kind="secret", client_id="another-shop")
AGE = {"provider": "auto", "check": "age", "options": {"min_age": 18}}


@pytest.fixture
def world() -> World:
    return make_world(others=(Alpha(), Beta(), Gamma()))


def test_the_declared_policy_lists_each_provider_for_the_checks_it_declares_in_registry_order(world):
    providers = world[0].deps.providers
    assert declared_policy(providers) == {"age": ["alpha", "beta"], "identity": ["beta", "gamma"]}


def test_the_deployments_policy_overrides_the_declared_one_check_by_check(world):
    providers = world[0].deps.providers
    assert default_policy("", providers) == declared_policy(providers)
    assert default_policy('{"identity": ["gamma"]}', providers) == {
        "age": ["alpha", "beta"],
        "identity": ["gamma"],
    }
    for wrong in ('{"age": ["nobody"]}', '{"identity": ["alpha"]}', "[", '{"age": []}'):
        with pytest.raises(ValueError, match="invalid ROUTING_POLICY"):
            default_policy(wrong, providers)


def test_a_client_reads_the_policy_in_force_its_own_and_the_default(world):
    service = world[0]
    assert service.routing_policy(CALLER) == {
        "policy": {"age": ["alpha", "beta"], "identity": ["beta", "gamma"]},
        "client": {},
        "default": {"age": ["alpha", "beta"], "identity": ["beta", "gamma"]},
    }


def test_a_clients_own_policy_routes_its_sessions_and_only_its_own(world):
    service = world[0]
    answer = service.replace_routing_policy(CALLER, {"age": ["beta", "alpha"]})
    assert answer["policy"] == {"age": ["beta", "alpha"], "identity": ["beta", "gamma"]}
    assert answer["client"] == {"age": ["beta", "alpha"]}
    mine, _, _ = service.create_session(CALLER, AGE)
    theirs, _, _ = service.create_session(OTHER, AGE)
    assert (store_of(service).get(mine.id).provider, store_of(service).get(theirs.id).provider) == (
        "beta",
        "alpha",
    )
    # {} goes back to the default
    assert service.replace_routing_policy(CALLER, {})["client"] == {}
    again, _, _ = service.create_session(CALLER, AGE)
    assert store_of(service).get(again.id).provider == "alpha"


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"age": ["nobody"]}, "unknown_provider", None),
        ({"identity": ["alpha"]}, "provider_cannot_check", None),
        ({"height": ["alpha"]}, "validation_error", "height"),
        ({"age": []}, "validation_error", "age"),
        ({"age": "alpha"}, "validation_error", "age"),
        ({"age": ["alpha", 7]}, "validation_error", "age"),
        ({"age": ["alpha", "alpha"]}, "validation_error", "age"),
        (["alpha"], "validation_error", "policy"),
    ],
)
def test_a_wrong_policy_is_refused_and_changes_nothing(world, body, code, field):
    service = world[0]
    service.replace_routing_policy(CALLER, {"age": ["beta"]})
    with pytest.raises(ValidationFailed) as refused:
        service.replace_routing_policy(CALLER, body)
    assert (refused.value.status, refused.value.code) == (422, code)
    if field is not None:
        assert [problem["field"] for problem in refused.value.details["fields"]] == [field]
    if code == "provider_cannot_check":
        assert (refused.value.details["check"], refused.value.details["provider"]) == ("identity", "alpha")
    assert service.routing_policy(CALLER)["client"] == {"age": ["beta"]}


@pytest.mark.parametrize(
    "caller", [Caller(kind="publishable", client_id="shop"), Caller(kind="client_secret")]
)
def test_only_a_secret_key_reads_or_changes_it(world, caller):
    service = world[0]
    for act in (lambda: service.routing_policy(caller), lambda: service.replace_routing_policy(caller, {})):
        with pytest.raises(Forbidden) as refused:
            act()
        assert refused.value.code == "secret_key_required"


def test_parsing_keeps_the_order_given(world):
    providers = world[0].deps.providers
    assert parsed_policy({"identity": ["gamma", "beta"]}, providers) == {"identity": ["gamma", "beta"]}


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"age": ["nobody"]}, ("unknown provider", "'nobody'", "known: alpha, beta")),
        ({"identity": ["alpha"]}, ("alpha cannot check identity",)),
        ({"height": ["alpha"]}, ("height", "not a check", "checks: age, identity")),
        ({"age": []}, ("age", "a non-empty list of provider names")),
        ({"age": ["alpha", "alpha"]}, ("age", "names a provider twice")),
        (["alpha"], ("policy", "an object of checks", '{"age": ["jekimo", "datakeen"]}')),
    ],
)
def test_a_wrong_policy_is_told_what_is_wrong_where(world, body, words):
    # The message names the check or provider at fault and what is wrong with it; a shape's problem is
    # also its field's (`details.fields`), which the integrator's code may read.
    with pytest.raises(ValidationFailed) as refused:
        world[0].replace_routing_policy(CALLER, body)
    says(refused.value.message, *words)
    for problem in refused.value.details.get("fields", []):
        says(problem["problem"], words[-1])


def test_a_403_names_what_was_refused():
    publishable = Caller(kind="publishable", client_id="shop")
    service = make_world()[0]
    with pytest.raises(Forbidden) as reading:
        service.routing_policy(publishable)
    says(reading.value.message, "reading the routing policy", "secret key")
    with pytest.raises(Forbidden) as changing:
        service.replace_routing_policy(publishable, {})
    says(changing.value.message, "changing the routing policy", "secret key")
