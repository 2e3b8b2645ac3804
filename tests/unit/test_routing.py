"""Routing a check (idgate.routing): `"provider": "auto"` sessions go to the first provider of the policy
that starts them, passing over one that is down, out of credit or refusing our credentials; every try told."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from idgate.domain import Status
from idgate.errors import ProviderFailed, ProviderUnavailable, ValidationFailed
from idgate.providers.base import Observation
from tests.support.emf import emitted
from tests.support.routing_fakes import Alpha, Beta, Gamma
from tests.support.world import CALLER, World, make_world, state, store_of

AGE = {"provider": "auto", "check": "age", "options": {"min_age": 18}}
IDENTITY = {"provider": "auto", "check": "identity", "options": {"last_name": "Dupont"}}


@pytest.fixture
def world() -> World:
    return make_world(others=(Alpha(), Beta(), Gamma()))


def fake(world: World, name: str) -> Any:
    return world[0].deps.providers[name]


def create(world: World, body: dict[str, Any]) -> dict[str, Any]:
    session, _, _ = world[0].create_session(CALLER, body)
    stored = store_of(world[0]).get(session.id)
    assert stored is not None
    assert stored.routing is not None
    return {"provider": stored.provider, **stored.routing.model_dump(), "options": stored.options}


def test_a_check_goes_to_the_first_provider_of_the_policy_with_its_own_options(world):
    routed = create(world, AGE)
    assert routed == {
        "provider": "alpha",
        "check": "age",
        "tried": [],
        "chosen": "alpha",
        "options": {"min_age": 18},
    }
    asked = fake(world, "alpha").starts[0].options
    assert (asked.min_age, asked.return_url, asked.last_name) == (18, None, None)
    routed = create(world, IDENTITY)
    assert (routed["chosen"], routed["tried"], routed["options"]) == ("beta", [], {})
    assert fake(world, "beta").starts[0].options.last_name == "Dupont"  # passed on, never stored
    assert fake(world, "gamma").starts == []


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        (ProviderUnavailable("provider_unreachable", "down"), "provider_unreachable"),
        (ProviderFailed("refused our key", code="provider_auth_failed"), "provider_auth_failed"),
        (ProviderFailed("out of credit", code="provider_quota_exceeded"), "provider_quota_exceeded"),
        (ProviderFailed("forbidden", code="provider_access_denied"), "provider_access_denied"),
        (ProviderFailed("no link", code="provider_bad_response"), "provider_bad_response"),
    ],
)
def test_a_provider_that_cannot_serve_us_is_passed_over_and_told(world, failure, reason):
    fake(world, "alpha").failures = [failure]
    routed = create(world, AGE)
    assert (routed["chosen"], routed["tried"]) == ("beta", [{"provider": "alpha", "reason": reason}])
    assert len(fake(world, "beta").starts) == 1


def test_a_refusal_of_the_request_itself_is_answered_as_it_is(world):
    fake(world, "alpha").failures = [ProviderFailed("refused the request", code="provider_error")]
    with pytest.raises(ProviderFailed) as refused:
        world[0].create_session(CALLER, AGE)
    assert refused.value.code == "provider_error"
    assert fake(world, "beta").starts == []


def test_when_none_can_start_it_is_a_502_with_every_try_and_no_session(world):
    fake(world, "alpha").failures = [ProviderUnavailable("provider_unreachable", "down")]
    fake(world, "beta").failures = [ProviderFailed("refused our key", code="provider_auth_failed")]
    with pytest.raises(ProviderFailed) as none:
        world[0].create_session(CALLER, AGE)
    assert (none.value.status, none.value.code) == (502, "no_provider_available")
    assert none.value.details["tried"] == [
        {"provider": "alpha", "reason": "provider_unreachable"},
        {"provider": "beta", "reason": "provider_auth_failed"},
    ]
    assert store_of(world[0]).count_open("shop", limit=10) == 0


def test_a_provider_failing_three_starts_in_a_row_is_skipped_for_its_cool_down(world):
    service, _, _, clock = world
    alpha = fake(world, "alpha")
    alpha.failures = [ProviderUnavailable("provider_unreachable", "down")] * 3
    for _ in range(3):
        assert create(world, AGE)["chosen"] == "beta"
    assert len(alpha.starts) == 3
    # Open: passed over without being asked, so nobody waits for its time-outs.
    skipped = create(world, AGE)
    assert skipped["tried"] == [{"provider": "alpha", "reason": "circuit_open"}]
    assert len(alpha.starts) == 3
    clock.now += timedelta(seconds=59)
    assert create(world, AGE)["tried"] == [{"provider": "alpha", "reason": "circuit_open"}]
    # After the cool-down it is tried again, and one success closes it.
    clock.now += timedelta(seconds=1)
    assert create(world, AGE) | {"options": None} == {
        "provider": "alpha",
        "check": "age",
        "tried": [],
        "chosen": "alpha",
        "options": None,
    }
    assert service.deps.breakers.state("alpha").failures == 0
    assert create(world, AGE)["chosen"] == "alpha"


def test_a_provider_that_fails_again_after_its_cool_down_is_skipped_again_at_once(world):
    _, _, _, clock = world
    alpha = fake(world, "alpha")
    alpha.failures = [ProviderUnavailable("provider_unreachable", "down")] * 4
    for _ in range(3):
        create(world, AGE)
    clock.now += timedelta(seconds=60)
    assert create(world, AGE)["tried"] == [{"provider": "alpha", "reason": "provider_unreachable"}]
    assert create(world, AGE)["tried"] == [{"provider": "alpha", "reason": "circuit_open"}]
    assert len(alpha.starts) == 4


def test_the_time_budget_passes_over_what_is_left(world):
    moments = iter([0.0, 0.0, 13.0, 13.0, 13.0])
    from idgate.routing import Router

    router = Router(
        world[0].deps.providers,
        world[0].deps.routing,
        world[0].deps.breakers,
        world[0].deps.breaker_settings,
        world[0].deps.clock,
        monotonic=lambda: next(moments),
    )
    fake(world, "alpha").failures = [ProviderUnavailable("provider_unreachable", "slow and then down")]
    from idgate.checks import Check

    with pytest.raises(ProviderFailed) as none:
        router.start("shop", Check.AGE, {"min_age": 18}, email=None, request=lambda p, o: _request(o))
    assert none.value.details["tried"] == [
        {"provider": "alpha", "reason": "provider_unreachable"},
        {"provider": "beta", "reason": "time_budget_spent"},
    ]
    assert fake(world, "beta").starts == []


def _request(options: Any) -> Any:
    from idgate.providers.base import StartRequest

    return StartRequest("ses_AAAAAAAAAAAAAAAAAAAA", None, options)


def test_an_identity_approval_says_document_verified_and_keeps_what_the_provider_said(world):
    service, _, _, _ = world
    session, _, _ = service.create_session(CALLER, IDENTITY)
    beta = fake(world, "beta")
    beta.answers = [Observation(Status.APPROVED, "verified", data={"document_type": "passport"})]
    service.poll(state(session))
    result = store_of(service).get(session.id).result
    assert result.data == {"document_type": "passport", "document_verified": True}
    declined, _, _ = service.create_session(CALLER, IDENTITY)
    beta.answers = [Observation(Status.DECLINED, "refused")]
    service.poll(state(declined))
    assert store_of(service).get(declined.id).result.data == {}


def test_an_age_approval_keeps_the_providers_min_age_verified(world):
    service, _, _, _ = world
    session, _, _ = service.create_session(CALLER, AGE)
    fake(world, "alpha").answers = [Observation(Status.APPROVED, "OK", data={"min_age_verified": 18})]
    service.poll(state(session))
    assert store_of(service).get(session.id).result.data == {"min_age_verified": 18}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"provider": "auto", "check": "age"}, "options.min_age"),
        ({"provider": "auto", "check": "age", "options": {"min_age": 0}}, "options.min_age"),
        ({"provider": "auto", "check": "identity", "options": {"mode": "direct"}}, "options.mode"),
        ({"provider": "auto", "check": "height", "options": {}}, "check"),
        ({"provider": "auto", "options": {"min_age": 18}}, "check"),
        ({"provider": "alpha", "check": "age", "options": {"min_age": 18}}, "check"),
    ],
)
def test_a_wrong_check_request_is_a_validation_error_before_any_provider_is_asked(world, body, field):
    with pytest.raises(ValidationFailed) as refused:
        world[0].create_session(CALLER, body)
    assert refused.value.code == "validation_error"
    assert field in [problem["field"] for problem in refused.value.details["fields"]]
    assert fake(world, "alpha").starts == []


def test_each_try_is_counted_by_check_provider_and_outcome(world, capsys):
    fake(world, "alpha").failures = [ProviderUnavailable("provider_unreachable", "down")]
    create(world, AGE)
    tries = [(line["check"], line["provider"], line["outcome"]) for line in emitted(capsys, "RoutingTries")]
    assert tries == [("age", "alpha", "provider_unreachable"), ("age", "beta", "chosen")]
