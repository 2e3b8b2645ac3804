"""The stack's side of the provider sandboxes: starting each on its port, and wiring it to idgate as an
operator would wire the real provider (its credentials in the template's secret, its base URL and matching
settings in the functions' environment, its dashboard webhook at the URL the API gives).

Separate from devstack.stack, which starts the whole application: this is every place the stack meets a
sandbox, and like it, it names no provider (each of `devstack.sandboxes.SANDBOXES` is handled alike).
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import requests

from devstack.sandboxes import SANDBOXES
from devstack.sandboxes.base import Sandbox
from devstack.sandboxes.faults import ProviderFaults
from devstack.server import BackgroundServer
from devstack.template import Resolver, Template

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

log = logging.getLogger("devstack")

SECRET_PREFIX_VARIABLE = "PROVIDER_SECRET_PREFIX"  # noqa: S105 - a variable's name

#: Wraps a sandbox's WSGI app (tests count the calls a provider receives).
SandboxWrapper = Callable[[str, "WSGIApplication"], "WSGIApplication"]


def sandbox_defaults() -> dict[str, Any]:
    """The default value of every sandbox's own command-line option."""
    parser = argparse.ArgumentParser(add_help=False)
    for sandbox in SANDBOXES:
        sandbox.add_arguments(parser)
    return vars(parser.parse_args([]))


def start_sandbox(
    sandbox_type: type[Sandbox],
    server: BackgroundServer,
    shown_host: str,
    arguments: Mapping[str, Any],
    faults: ProviderFaults,
    wrap: SandboxWrapper | None,
) -> Sandbox:
    """The sandbox, serving on `server` (bound, not started yet) with its own options from `arguments`."""
    # Bound first, so the sandbox knows its own URL (it links to itself) even for port 0.
    sandbox = sandbox_type.from_arguments(f"http://{shown_host}:{server.port}", arguments)
    sandbox.faults = faults
    server.app = wrap(sandbox_type.name, sandbox) if wrap else sandbox
    server.start()
    return sandbox


def client_variables(sandboxes: Mapping[str, Sandbox]) -> dict[str, str]:
    """What the functions' environment needs of each sandbox: `<NAME>_BASE_URL` and its client settings."""
    variables = {}
    for name, sandbox in sandboxes.items():
        variables[f"{name.upper()}_BASE_URL"] = sandbox.api_url()
        variables.update({f"{name.upper()}_{key}": value for key, value in sandbox.client_settings().items()})
    return variables


def secret_values(template: Template, resolver: Resolver, sandboxes: Mapping[str, Sandbox]) -> dict[str, str]:
    """The sandboxes' credentials, by the logical id of the secret each provider's client reads."""
    prefixes = {
        function.environment.get(SECRET_PREFIX_VARIABLE) for function in template.functions(resolver).values()
    } - {None}
    secrets = {secret.name: lid for lid, secret in template.secrets(resolver).items()}
    values = {}
    for name, sandbox in sandboxes.items():
        found = [secrets[f"{prefix}{name}"] for prefix in prefixes if f"{prefix}{name}" in secrets]
        if not found:
            log.warning("no secret for %s in the template: its client has no credentials", name)
        values.update({lid: json.dumps(sandbox.credentials()) for lid in found})
    return values


def webhook_url(api_url: str, secret_key: str, provider: str) -> str | None:
    """The deployment's webhook URL for `provider`, as the API gives it; None when it takes none."""
    answer = requests.get(
        f"{api_url}/v1/providers/{provider}/webhook",
        headers={"Authorization": f"Bearer {secret_key}"},
        timeout=10,
    )
    if answer.status_code != 200:
        if answer.status_code != 404:
            log.warning("no webhook URL for %s (HTTP %d)", provider, answer.status_code)
        return None
    return str(answer.json()["url"])
