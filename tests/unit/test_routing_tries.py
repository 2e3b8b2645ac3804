"""What the router (idgate.routing) hands each provider it tries, what it counts of a failed try, and where
its time budget ends; tests/unit/test_routing.py has the routing itself."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from idgate.checks import Check
from idgate.errors import ProviderFailed, ProviderUnavailable
from idgate.providers.base import Provider, StartRequest
from idgate.routing import TIME_BUDGET_SECONDS, Router
from tests.support.emf import provider_call_failures
from tests.support.messages import says
from tests.support.routing_fakes import Alpha, Beta, CheckingOptions, Gamma
from tests.support.world import World, make_world

DOWN = ProviderUnavailable("provider_unreachable", "down")


@dataclass
class EmailAlpha(Alpha):
    """Alpha, keeping the email each parse of its options was given (a second factor needs it)."""

    emails: list[str | None] = field(default_factory=list)

    def parse_options(self, options: Any, *, email: str | None) -> CheckingOptions:
        self.emails.append(email)
        return super().parse_options(options, email=email)


@pytest.fixture
def world() -> World:
    return make_world(others=(EmailAlpha(), Beta(), Gamma()))


def router(world: World, moments: Iterator[float] | None = None) -> Router:
    deps = world[0].deps
    more = {} if moments is None else {"monotonic": lambda: next(moments)}
    return Router(deps.providers, deps.routing, deps.breakers, deps.breaker_settings, deps.clock, **more)


def provider(world: World, name: str) -> Any:
    return world[0].deps.providers[name]


def test_each_provider_gets_the_sessions_email_and_a_request_made_for_it(world):
    provider(world, "alpha").failures = [DOWN]
    asked: list[str] = []

    def request(chosen: Provider, options: Any) -> StartRequest:
        asked.append(chosen.name)  # the webhook URL of a request is the provider's own
        return StartRequest("ses_AAAAAAAAAAAAAAAAAAAA", None, options)

    routed = router(world).start("shop", Check.AGE, {"min_age": 18}, email="a@b.example", request=request)
    assert routed.routing.chosen == "beta"
    assert asked == ["alpha", "beta"]
    assert provider(world, "alpha").emails == ["a@b.example"]


def test_a_failed_try_is_counted_under_its_provider_and_reason(world, capsys):
    provider(world, "alpha").failures = [DOWN]
    beta_refuses = ProviderFailed("refused our key", code="provider_auth_failed")
    provider(world, "beta").failures = [beta_refuses]
    with pytest.raises(ProviderFailed) as none:
        router(world).start("shop", Check.AGE, {"min_age": 18}, email=None, request=_request)
    assert provider_call_failures(capsys) == [
        ("alpha", "provider_unreachable"),
        ("beta", "provider_auth_failed"),
    ]
    # the 502 tells the integrator that no provider could, for which check
    says(none.value.message, "no provider", "age check")


def test_at_the_end_of_its_time_budget_no_provider_is_tried_and_each_is_told(world):
    # The clock reads the budget's end exactly at the first provider's turn.
    moments = iter([0.0, TIME_BUDGET_SECONDS, TIME_BUDGET_SECONDS])
    with pytest.raises(ProviderFailed) as none:
        router(world, moments).start("shop", Check.AGE, {"min_age": 18}, email=None, request=_request)
    assert none.value.details["tried"] == [
        {"provider": "alpha", "reason": "time_budget_spent"},
        {"provider": "beta", "reason": "time_budget_spent"},
    ]
    assert provider(world, "alpha").starts == provider(world, "beta").starts == []


def _request(chosen: Provider, options: Any) -> StartRequest:
    return StartRequest("ses_AAAAAAAAAAAAAAAAAAAA", None, options)
