"""The layer is built from its lock: layers/idgate/requirements.lock pins every package `sam build` installs
(the pins of requirements.txt and all they need), each with the hashes of its files, and the layer's Makefile
installs that and nothing else. boto3 and botocore are the Lambda runtime's, never the layer's."""

from __future__ import annotations

import importlib.metadata
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]
LAYER = REPO / "layers" / "idgate"
#: The Lambda Python runtime's own packages that no layer package needs but through botocore: left to it.
RUNTIME_ONLY = frozenset({"boto3", "botocore", "s3transfer", "python-dateutil", "six"})
_HASH = re.compile(r"^--hash=sha256:[0-9a-f]{64}$")


@dataclass(frozen=True)
class Locked:
    name: str
    version: str
    hashes: tuple[str, ...]


def requirement_lines(text: str) -> list[list[str]]:
    """Each requirement of a pip-compile output as its words (the pin, then its options)."""
    joined = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    return [shlex.split(entry) for entry in joined.replace("\\\n", " ").splitlines() if entry.strip()]


def pins(text: str) -> dict[str, str]:
    """name → version of a requirements file's `name==version` lines (every line must be one)."""
    found = {}
    for words in requirement_lines(text):
        requirement = Requirement(words[0])
        specifiers = list(requirement.specifier)
        assert len(specifiers) == 1, f"{words[0]}: not pinned"
        assert specifiers[0].operator == "==", f"{words[0]}: not pinned"
        found[canonicalize_name(requirement.name)] = specifiers[0].version
    return found


def locked() -> dict[str, Locked]:
    entries = {}
    for words in requirement_lines((LAYER / "requirements.lock").read_text()):
        requirement = Requirement(words[0])
        [specifier] = list(requirement.specifier)
        name = canonicalize_name(requirement.name)
        version = specifier.version if specifier.operator == "==" else ""
        entries[name] = Locked(name, version, tuple(words[1:]))
    return entries


def install_command() -> list[str]:
    """The words of the pip install in the layer's build recipe (continuations joined)."""
    recipe = (LAYER / "Makefile").read_text().replace("\\\n", " ")
    commands = [line for line in recipe.splitlines() if " -m pip install " in line]
    assert len(commands) == 1, "the layer's Makefile installs its packages with one pip command"
    return shlex.split(commands[0].split(" -m pip install ", 1)[1])


def test_every_pin_of_requirements_txt_is_locked_at_its_version() -> None:
    # Given the layer's top-level pins and its lock
    wanted = pins((LAYER / "requirements.txt").read_text())
    entries = locked()

    # Then each pin is locked, at the same version
    assert wanted, "requirements.txt pins the layer's packages"
    assert {name: entries[name].version for name in wanted if name in entries} == wanted, "run `make lock`"


def test_every_locked_package_is_pinned_and_hashed() -> None:
    entries = locked()
    assert entries
    for entry in entries.values():
        assert entry.version, f"{entry.name}: not pinned with =="
        assert entry.hashes, f"{entry.name}: no hash"
        assert all(_HASH.match(option) for option in entry.hashes), f"{entry.name}: {entry.hashes}"


def test_the_lock_names_no_index_nor_local_folder() -> None:
    # Options such as --index-url or --find-links would tie the build to one machine's settings.
    lines = [line for line in (LAYER / "requirements.lock").read_text().splitlines() if line.startswith("-")]
    assert lines == []


def test_the_lock_is_the_whole_set_its_packages_need() -> None:
    # The layer installs with --no-deps: a dependency missing from the lock would be missing on Lambda. What
    # each locked package needs is read from its installed metadata (the dev environment installs the pins).
    entries = locked()
    environment = {**default_environment(), "sys_platform": "linux", "platform_system": "Linux", "extra": ""}
    missing = set()
    for name in entries:
        try:
            requires = importlib.metadata.requires(name) or []
        except importlib.metadata.PackageNotFoundError:
            pytest.fail(f"{name} is locked but not installed here: `make lock`, then reinstall the dev pins")
        for text in requires:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate(environment):
                needed = canonicalize_name(requirement.name)
                if needed not in entries and needed not in RUNTIME_ONLY:
                    missing.add(f"{needed} (for {name})")
    assert not missing, f"not locked: {sorted(missing)}; run `make lock`"


def test_boto3_and_botocore_are_the_runtimes_not_the_layers() -> None:
    assert not RUNTIME_ONLY & set(pins((LAYER / "requirements.txt").read_text()))
    assert not RUNTIME_ONLY & set(locked())


def test_the_layer_installs_the_lock_with_its_hashes_and_nothing_else() -> None:
    words = install_command()
    assert "--require-hashes" in words
    assert "--no-deps" in words
    files = [words[i + 1] for i, word in enumerate(words) if word in ("-r", "--requirement")]
    assert files == ["requirements.lock"]
    assert not [word for word in words if word.startswith(("-c", "--constraint", "-e", "--editable"))]


def test_make_lock_writes_the_lock() -> None:
    # The lock says how it was made, and the Makefile has that target, writing that file with hashes.
    assert "#    make lock\n" in (LAYER / "requirements.lock").read_text()
    makefile = (REPO / "Makefile").read_text().replace("\\\n", " ")
    [recipe] = [line for line in makefile.splitlines() if line.startswith("\t") and "pip-compile" in line]
    assert "--generate-hashes" in recipe
    assert "--output-file requirements.lock" in recipe
    assert re.search(r"^lock:", makefile, re.MULTILINE)
