"""README's Deploy, held to what it describes: an integrator copies its commands as they are, so a parameter,
a secret's key or a webhook provider that drifts from the code would fail a deployment, not a test."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from devstack.cfn import CfnLoader
from idgate.providers.registry import PROVIDERS

ROOT = Path(__file__).resolve().parents[2]
PROVIDERS_DIR = ROOT / "layers" / "idgate" / "idgate" / "providers"


def deploy_section() -> str:
    readme = (ROOT / "README.md").read_text()
    start = readme.index("\n## Deploy\n")
    end = readme.index("\n## ", start + 1)
    return readme[start:end]


def template() -> dict[str, Any]:
    return yaml.load((ROOT / "template.yaml").read_text(), Loader=CfnLoader)  # noqa: S506 - a SafeLoader


def provider_secrets() -> dict[str, dict[str, Any]]:
    """Provider name → its secret's placeholder JSON, from template.yaml."""
    found = {}
    for resource in template()["Resources"].values():
        properties = resource.get("Properties") or {}
        name = properties.get("Name")
        if resource["Type"] == "AWS::SecretsManager::Secret" and isinstance(name, dict):
            match = re.fullmatch(r"\$\{AWS::StackName\}/providers/(\w+)", name["Fn::Sub"])
            if match:
                found[match.group(1)] = json.loads(properties["SecretString"])
    return found


def keys_read_by(provider: str) -> set[str]:
    """The keys a provider's client asks of its secret (`self._context.secret("...")`)."""
    sources = [path.read_text() for path in PROVIDERS_DIR.glob(f"{provider}*.py")]
    return {key for source in sources for key in re.findall(r"context\.secret\(\"(\w+)\"\)", source)}


def test_every_parameter_is_in_the_table_with_its_default() -> None:
    section = deploy_section()
    rows = {
        name: cells
        for line in section.splitlines()
        if line.startswith("| `")
        for cells in [[cell.strip() for cell in line.strip("|").split("|")]]
        for name in re.findall(r"`(\w+)`", cells[0])
    }
    for name, parameter in template()["Parameters"].items():
        assert name in rows, f"README's Deploy does not list the parameter {name}"
        default = parameter.get("Default")
        shown = rows[name][1]
        if default == "":
            assert shown == "empty", name
        else:
            assert f"`{default}`" in shown, f"{name}: README says {shown}, the template {default!r}"


def test_every_providers_secret_is_put_with_the_keys_its_client_reads() -> None:
    section = deploy_section()
    secrets = provider_secrets()
    assert set(secrets) == {provider.name for provider in PROVIDERS}
    for provider, placeholder in secrets.items():
        command = re.search(
            rf'--secret-id "\$STACK/providers/{provider}" \\\n\s+--secret-string \'(\{{.*?\}})\'', section
        )
        assert command, f"README's Deploy does not put {provider}'s secret"
        shown = json.loads(command.group(1))
        assert set(shown) == set(placeholder) == keys_read_by(provider), provider


def test_the_webhook_urls_asked_are_those_of_the_providers_with_a_webhook() -> None:
    loop = re.search(r"for provider in ([\w ]+); do", deploy_section())
    assert loop
    with_webhook = [provider.name for provider in PROVIDERS if hasattr(provider, "webhook_references")]
    assert loop.group(1).split() == with_webhook


def test_the_files_it_names_exist() -> None:
    for path in re.findall(r"(?:scripts|examples)/[\w./-]+", deploy_section()):
        assert (ROOT / path.rstrip("/.")).exists(), path
