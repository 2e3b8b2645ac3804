"""Routing a check to a provider: `"provider": "auto"` sessions go to the first provider of the client's
policy (idgate.routing_policy) that starts the verification, trying the next when one is down.

A provider is passed over, and the next one tried, when it is unreachable after its client's bounded
retries, refuses our credentials or access, is out of credit or quota, or answers what cannot be read;
or when its circuit breaker is open (idgate.breaker) or the API's time budget is spent. Any other
refusal is about the request and is answered as it is. Every try is recorded in the session.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger
from pydantic import BaseModel

from idgate import metrics
from idgate.breaker import Breakers, BreakerSettings, BreakerState
from idgate.checks import Check, check_options
from idgate.domain import Reason, Routing, RoutingTry
from idgate.errors import ProviderFailed, ProviderUnavailable
from idgate.providers.base import NewVerification, Provider, StartRequest
from idgate.routing_policy import RoutingPolicies, checks_of

logger = Logger(service="idgate", child=True)

#: A provider's refusals that say it cannot serve us now, whatever the request: the next one is tried.
PASSED_OVER = frozenset(
    {
        Reason.PROVIDER_AUTH_FAILED.value,
        Reason.PROVIDER_ACCESS_DENIED.value,
        Reason.PROVIDER_BAD_RESPONSE.value,
        "provider_quota_exceeded",
        "provider_unavailable",
    }
)
CIRCUIT_OPEN = "circuit_open"
TIME_BUDGET_SPENT = "time_budget_spent"
#: The API function has 20 s (template.yaml) and API Gateway 30 s: no provider is tried after this many
#: seconds of routing, so that the user gets an answer (a 502 with the tries) rather than a time-out.
TIME_BUDGET_SECONDS = 12.0


@dataclass(frozen=True)
class Routed:
    provider: Provider
    options: BaseModel
    started: NewVerification
    routing: Routing


class Router:
    def __init__(
        self,
        providers: Mapping[str, Provider],
        policies: RoutingPolicies,
        breakers: Breakers,
        breaker_settings: BreakerSettings,
        clock: Callable[[], Any],
        budget_seconds: float = TIME_BUDGET_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._providers = providers
        self._policies = policies
        self._breakers = breakers
        self._breaker_settings = breaker_settings
        self._clock = clock
        self._budget = budget_seconds
        self._monotonic = monotonic

    def start(
        self,
        client_id: str,
        check: Check,
        options: Mapping[str, Any],
        *,
        email: str | None,
        request: Callable[[Provider, BaseModel], StartRequest],
    ) -> Routed:
        """Starts the verification with the first provider of the client's policy for `check` that can;
        502 `no_provider_available`, with the tries, when none can. The options are checked once, for the
        check (422 as any request), and then by each provider's own model as it is tried."""
        normalized = check_options(check, options)
        tried: list[RoutingTry] = []
        ends_at = self._monotonic() + self._budget
        for name in self._policies.effective(client_id).get(check.value, []):
            provider = self._providers[name]
            state = self._breakers.state(name)
            if state.is_open(self._clock()):
                tried.append(self._passed_over(check, name, CIRCUIT_OPEN))
                continue
            if self._monotonic() >= ends_at:
                tried.append(self._passed_over(check, name, TIME_BUDGET_SPENT))
                continue
            own = provider.parse_options(checks_of(provider)[check.value](normalized), email=email)
            reason = self._try(provider, request(provider, own), state)
            if isinstance(reason, NewVerification):
                metrics.count(metrics.ROUTING_TRIES, check=check.value, provider=name, outcome="chosen")
                routing = Routing(check=check.value, tried=tried, chosen=name)
                return Routed(provider, own, reason, routing)
            tried.append(self._passed_over(check, name, reason))
        logger.warning("no provider could start the check", check=check.value, tried=len(tried))
        raise ProviderFailed(
            f"no provider could start a {check.value} check",
            code="no_provider_available",
            tried=[attempt.model_dump() for attempt in tried],
        )

    def _try(self, provider: Provider, request: StartRequest, state: BreakerState) -> NewVerification | str:
        """The verification, or why the provider is passed over (other refusals are raised)."""
        try:
            started = provider.start(request)
        except ProviderUnavailable as exc:
            reason = exc.reason
        except ProviderFailed as exc:
            if exc.code not in PASSED_OVER:
                raise
            reason = exc.code
        else:
            if state.failures:
                self._breakers.succeeded(provider.name)
            return started
        metrics.count(metrics.PROVIDER_CALL_FAILURES, provider=provider.name, reason=reason)
        if self._breakers.failed(provider.name, now=self._clock(), settings=self._breaker_settings):
            logger.warning("circuit opened", provider=provider.name, reason=reason)
        return reason

    @staticmethod
    def _passed_over(check: Check, name: str, reason: str) -> RoutingTry:
        logger.info("provider passed over", check=check.value, provider=name, reason=reason)
        metrics.count(metrics.ROUTING_TRIES, check=check.value, provider=name, outcome=reason)
        return RoutingTry(provider=name, reason=reason)
