"""scripts/smoke-test, as README's Deploy tells an integrator to run it, against the local stack: it passes
with the stack's secret key, fails clearly with a wrong one, and prints neither key nor the session's
verification URL."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.client import Api
from tests.e2e.stack import RunningStack

pytestmark = pytest.mark.e2e

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "smoke-test"


def smoke(stack: RunningStack, key: str, *args: str) -> subprocess.CompletedProcess[str]:
    # The key reaches the script as it does for an integrator: in the environment, never as an argument.
    env = {**os.environ, "IDGATE_SECRET_KEY": key}
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--url", stack.api, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("provider", ["jekimo", "okid", "datakeen", "faceki"])
def test_the_smoke_test_passes_against_the_stack(stack: RunningStack, api: Api, provider: str) -> None:
    # Given the local stack and its secret key
    key = stack.keys["secret"]
    # When the smoke test runs against it
    run = smoke(stack, key, "--provider", provider)
    # Then every step passes and it exits 0
    printed = run.stdout + run.stderr
    assert run.returncode == 0, printed
    assert re.findall(r"^(PASS \w+)", run.stdout, flags=re.MULTILINE) == [
        "PASS health",
        "PASS create",
        "PASS read",
    ]
    # And the session it made is real, open, and the provider's
    session_id = re.search(r"PASS create: session (ses_\S+)", run.stdout)
    assert session_id is not None, run.stdout
    session = api.get(session_id.group(1)).json()
    assert (session["provider"], session["reference"][:11]) == (provider, "smoke-test-")
    assert session["status"] == "pending"
    # And nothing printed carries the key or the verification URL (Jekimo's holds its token)
    assert key not in printed
    assert session["verification_url"]
    assert session["verification_url"] not in printed


def test_a_wrong_key_fails_clearly_without_printing_it(stack: RunningStack) -> None:
    # Given a key that is no key of this deployment
    wrong = "sk_" + secrets.token_urlsafe(24)
    # When the smoke test runs with it
    run = smoke(stack, wrong)
    # Then it exits non-zero, says the API refused the key, and never shows the key
    printed = run.stdout + run.stderr
    assert run.returncode == 1, printed
    assert "PASS health" in run.stdout
    assert "FAIL create: answered 403 Forbidden - the API refused the key" in run.stdout
    assert "SKIP read" in run.stdout
    assert wrong not in printed
    assert wrong[3:] not in printed
