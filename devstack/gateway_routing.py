"""Which function a request reaches, and whether it may: API Gateway's route choice, stage throttling and
Lambda authorizers with their cached decisions.

Separate from devstack.gateway, which serves requests (CORS, limits, static files, logging) with these, and
from devstack.gateway_events, which only translates requests and answers.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from devstack.gateway_events import Incoming, authorizer_event
from devstack.template_http_api import Authorizer, Route, Throttling

#: `invoke(logical_id, event)` runs a function (the real handlers, or fakes in tests) and returns its result.
Invoke = Callable[[str, Any], Any]


@dataclass(frozen=True)
class _CompiledRoute:
    route: Route
    pattern: re.Pattern[str]
    rank: tuple[int, int, int]  # lower is more specific


def _compile(route: Route) -> _CompiledRoute:
    parts, literals, greedy = [], 0, 0
    for segment in route.path.strip("/").split("/"):
        param = re.fullmatch(r"\{([A-Za-z0-9_]+)(\+?)\}", segment)
        if param is None:
            parts.append(re.escape(segment))
            literals += 1
        elif param[2]:
            parts.append(f"(?P<{param[1]}>.+)")
            greedy = 1
        else:
            parts.append(f"(?P<{param[1]}>[^/]+)")
    pattern = re.compile("/" + "/".join(parts))
    return _CompiledRoute(route, pattern, (-literals, greedy, int(route.method == "ANY")))


class RouteTable:
    """As API Gateway chooses: the most specific route (literal segments, then not greedy, then not ANY)."""

    def __init__(self, routes: Iterable[Route]) -> None:
        self._routes = [_compile(r) for r in routes if r.path != "$default"]
        self._default = next((r for r in routes if r.path == "$default"), None)
        # First segments of API paths (e.g. "v1"): unmatched paths below them are API 404s, not static files.
        self.prefixes = {r.path.strip("/").split("/")[0] for r in routes if r.path != "$default"}

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        found = [
            (c.rank, c.route, m.groupdict())
            for c in self._routes
            if c.route.method in (method, "ANY") and (m := c.pattern.fullmatch(path))
        ]
        if found:
            _, route, params = min(found, key=lambda f: f[0])
            return route, params
        return (self._default, {}) if self._default else None


class TokenBucket:
    def __init__(self, throttling: Throttling, clock: Callable[[], float]) -> None:
        self.rate, self.burst, self.clock = throttling.rate_limit, throttling.burst_limit, clock
        self.tokens, self.updated = float(self.burst), clock()
        self.lock = threading.Lock()

    def take(self) -> bool:
        with self.lock:
            now = self.clock()
            self.tokens = min(float(self.burst), self.tokens + (now - self.updated) * self.rate)
            self.updated = now
            if self.tokens < 1:
                return False
            self.tokens -= 1
            return True


@dataclass
class Decision:
    allowed: bool
    context: dict[str, Any]
    expires: float


class AuthorizerFailed(Exception):
    """The authorizer raised or answered something API Gateway cannot read: the client gets a 500."""


class Authorizers:
    """The API's Lambda authorizers, called as API Gateway calls them, each decision cached for its TTL."""

    def __init__(
        self, authorizers: Mapping[str, Authorizer], invoke: Invoke, api_id: str, clock: Callable[[], float]
    ) -> None:
        self._authorizers, self._invoke, self._api_id, self._clock = authorizers, invoke, api_id, clock
        self._cache: dict[tuple[str, tuple[str, ...]], Decision] = {}
        self._lock = threading.Lock()

    def decide(self, name: str, incoming: Incoming) -> Decision | None:
        """The decision, or None when an identity source is missing (401 without calling the authorizer)."""
        authorizer = self._authorizers[name]
        identity = [incoming.headers.get(h.lower(), "") for h in authorizer.identity_headers]
        identity += [incoming.query.get(q, "") for q in authorizer.identity_query_strings]
        if not all(identity):
            return None
        key = (authorizer.name, tuple(identity))
        cacheable = bool(identity) and authorizer.reauthorize_every > 0
        with self._lock:
            cached = self._cache.get(key) if cacheable else None
            if cached is not None and cached.expires > self._clock():
                return cached
        try:
            result = self._invoke(authorizer.function, authorizer_event(incoming, identity, self._api_id))
            allowed = _is_allowed(result, authorizer.simple_responses)
            context = result.get("context") or {}
        except Exception as exc:
            raise AuthorizerFailed(str(exc)) from exc
        decision = Decision(allowed, dict(context), self._clock() + authorizer.reauthorize_every)
        if cacheable:
            with self._lock:
                self._cache[key] = decision
        return decision


def _is_allowed(result: Any, simple: bool) -> bool:
    if not isinstance(result, dict):
        raise ValueError("authorizer answered no JSON object")
    if simple:
        if not isinstance(result.get("isAuthorized"), bool):
            raise ValueError("simple response without boolean isAuthorized")
        return bool(result["isAuthorized"])
    statements = (result.get("policyDocument") or {}).get("Statement") or []
    effects = {str(s.get("Effect", "")).lower() for s in statements}
    return "allow" in effects and "deny" not in effects
