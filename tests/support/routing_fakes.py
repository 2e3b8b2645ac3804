"""In-memory `Breakers` and `ClientPolicies` (idgate.breaker, idgate.routing_policy), held to the table ones
by tests/unit/test_routing_stores.py, and fake providers that declare checks."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from idgate.breaker import BreakerSettings, BreakerState
from idgate.providers.base import CheckOptions, NewVerification, StartRequest, passing
from idgate.routing_policy import Policy
from tests.support.world import EXPIRES_AT, FakeProvider


class MemoryBreakers:
    def __init__(self) -> None:
        self._states: dict[str, BreakerState] = {}
        self._lock = threading.Lock()

    def state(self, provider: str) -> BreakerState:
        with self._lock:
            return self._states.get(provider, BreakerState())

    def failed(self, provider: str, *, now: datetime, settings: BreakerSettings) -> bool:
        with self._lock:
            current = self._states.get(provider, BreakerState())
            failures = current.failures + 1
            opens = failures >= settings.failures and not current.is_open(now)
            until = now + settings.cooldown if opens else current.open_until
            self._states[provider] = BreakerState(failures=failures, open_until=until)
            return opens

    def succeeded(self, provider: str) -> None:
        with self._lock:
            if provider in self._states:
                self._states[provider] = BreakerState()


class MemoryClientPolicies:
    def __init__(self) -> None:
        self._policies: dict[str, Policy] = {}

    def get(self, client_id: str) -> Policy | None:
        policy = self._policies.get(client_id)
        return {check: list(names) for check, names in policy.items()} if policy else None

    def put(self, client_id: str, policy: Policy) -> None:
        if policy:
            self._policies[client_id] = {check: list(names) for check, names in policy.items()}
        else:
            self._policies.pop(client_id, None)


class CheckingOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_age: int | None = None
    return_url: str | None = None
    last_name: str | None = Field(default=None, exclude=True)  # personal data, passed on, never stored


@dataclass
class CheckingFake(FakeProvider):
    """A fake provider that declares checks; `failures` are raised by its next starts, one each."""

    failures: list[Exception] = field(default_factory=list)
    name: ClassVar[str] = "checking"
    options_model: ClassVar[type[BaseModel]] = CheckingOptions
    checks: ClassVar[Mapping[str, CheckOptions]] = {}

    def parse_options(self, options: Any, *, email: str | None) -> CheckingOptions:
        return CheckingOptions.model_validate(options)

    def start(self, request: StartRequest) -> NewVerification:
        self.starts.append(request)
        if self.failures:
            raise self.failures.pop(0)
        return NewVerification(
            f"https://{self.name}.example/v/{len(self.starts)}", EXPIRES_AT, f"{self.name}-{len(self.starts)}"
        )


@dataclass
class Alpha(CheckingFake):
    """Checks an age, as Jekimo does."""

    name: ClassVar[str] = "alpha"
    checks: ClassVar[Mapping[str, CheckOptions]] = {"age": passing("min_age")}


@dataclass
class Beta(CheckingFake):
    """Checks an age and an identity, as Datakeen does."""

    name: ClassVar[str] = "beta"
    checks: ClassVar[Mapping[str, CheckOptions]] = {
        "age": passing("min_age"),
        "identity": passing("return_url", "last_name"),
    }


@dataclass
class Gamma(CheckingFake):
    """Checks an identity, as FACEKI and okID do."""

    name: ClassVar[str] = "gamma"
    checks: ClassVar[Mapping[str, CheckOptions]] = {"identity": passing("return_url")}
