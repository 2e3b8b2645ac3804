"""The routing policy: for each check, the providers to try in order. A deployment's default comes from the
`RoutingPolicy` template parameter; a client may override it, check by check (GET/PUT /v1/routing)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Protocol

from idgate.api import Caller
from idgate.checks import Check
from idgate.dynamo import AttributeValues
from idgate.errors import ValidationFailed
from idgate.providers.base import CheckingProvider, Provider
from idgate.session_access import require_secret_key

#: A policy: check name → provider names, in the order they are tried.
Policy = dict[str, list[str]]

#: The sessions table's key of a client's policy (session ids start with "ses_": no collision).
KEY_PREFIX = "routing#"


def checks_of(provider: Provider) -> Mapping[str, Any]:
    return provider.checks if isinstance(provider, CheckingProvider) else {}


def declared_policy(providers: Mapping[str, Provider]) -> Policy:
    """Every provider that declares a check, for that check, in the registry's order: the policy when
    the deployment sets none."""
    return {
        check.value: [name for name, p in providers.items() if check.value in checks_of(p)] for check in Check
    }


def parsed_policy(raw: Any, providers: Mapping[str, Provider]) -> Policy:
    """A policy as a client or the deployment wrote it, checked: an object of checks, each a non-empty
    list of distinct providers that declare it. ValidationFailed: `validation_error` (its shape),
    `unknown_provider`, `provider_cannot_check`."""
    if not isinstance(raw, dict):
        raise _shape("policy", 'an object of checks, e.g. {"age": ["jekimo", "datakeen"]}')
    policy: Policy = {}
    for check, names in raw.items():
        if check not in {c.value for c in Check}:
            raise _shape(str(check), f"not a check; checks: {', '.join(c.value for c in Check)}")
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            raise _shape(check, "a non-empty list of provider names")
        if len(set(names)) != len(names):
            raise _shape(check, "names a provider twice")
        for name in names:
            provider = providers.get(name)
            if provider is None:
                known = ", ".join(sorted(providers))
                raise ValidationFailed(f"unknown provider {name!r}; known: {known}", code="unknown_provider")
            if check not in checks_of(provider):
                raise ValidationFailed(
                    f"{name} cannot check {check}", code="provider_cannot_check", check=check, provider=name
                )
        policy[check] = list(names)
    return policy


def _shape(field: str, problem: str) -> ValidationFailed:
    return ValidationFailed(f"{field}: {problem}", fields=[{"field": field, "problem": problem}])


def default_policy(text: str, providers: Mapping[str, Provider]) -> Policy:
    """The deployment's policy from the `RoutingPolicy` parameter (JSON; empty: `declared_policy`), over
    the declared one for the checks it leaves out. A wrong one stops the function at once (ValueError)."""
    policy = declared_policy(providers)
    if text.strip():
        try:
            policy |= parsed_policy(json.loads(text), providers)
        except (ValueError, ValidationFailed) as exc:
            raise ValueError(f"invalid ROUTING_POLICY: {exc}") from exc
    return policy


class ClientPolicies(Protocol):
    def get(self, client_id: str) -> Policy | None: ...

    def put(self, client_id: str, policy: Policy) -> None:
        """Stores the client's policy; an empty one removes it."""
        ...


class TableClientPolicies:
    """`ClientPolicies` as items of the sessions table."""

    def __init__(self, table_name: str, client: Any) -> None:
        self._table = table_name
        self._client = client
        self._values = AttributeValues()

    def get(self, client_id: str) -> Policy | None:
        answer = self._client.get_item(TableName=self._table, Key=self._key(client_id), ConsistentRead=True)
        item = answer.get("Item")
        return dict(self._values.plain(item)["policy"]) if item else None

    def put(self, client_id: str, policy: Policy) -> None:
        if not policy:
            self._client.delete_item(TableName=self._table, Key=self._key(client_id))
            return
        item = {"pk": KEY_PREFIX + client_id, "policy": policy}
        self._client.put_item(TableName=self._table, Item=self._values.typed(item))

    def _key(self, client_id: str) -> dict[str, Any]:
        return self._values.typed({"pk": KEY_PREFIX + client_id})


class RoutingPolicies:
    """GET and PUT /v1/routing, and the policy a client's sessions are routed by."""

    def __init__(self, default: Policy, clients: ClientPolicies, providers: Mapping[str, Provider]) -> None:
        self._default = default
        self._clients = clients
        self._providers = providers

    def effective(self, client_id: str) -> Policy:
        return self._default | (self._clients.get(client_id) or {})

    def view(self, caller: Caller) -> dict[str, Any]:
        require_secret_key(caller, "reading the routing policy")
        assert caller.client_id is not None
        own = self._clients.get(caller.client_id) or {}
        return {"policy": self._default | own, "client": own, "default": self._default}

    def replace(self, caller: Caller, body: Any) -> dict[str, Any]:
        """The client's own policy, replaced as a whole; `{}` goes back to the deployment's default."""
        require_secret_key(caller, "changing the routing policy")
        assert caller.client_id is not None
        self._clients.put(caller.client_id, parsed_policy(body, self._providers))
        return self.view(caller)
