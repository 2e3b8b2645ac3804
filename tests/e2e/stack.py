"""Runs `python -m devstack` as a subprocess for end-to-end tests: free ports, ready when /v1/health
answers, stopped at the end (terminate, then kill). Its output goes to a file, shown when startup fails.

    with running_stack("--poll-interval", "1", "--jekimo-token-ttl", "10") as stack:
        requests.post(f"{stack.api}/v1/sessions", headers={"Authorization": f"Bearer {stack.keys['secret']}"})
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devstack.sandboxes import SANDBOXES

REPO_ROOT = Path(__file__).resolve().parents[2]
READY_PREFIX = "devstack ready "  # printed by devstack/__main__.py once serving
FREE_PORTS = [
    "--port",
    "0",
    "--aws-port",
    "0",
    *(flag for sandbox in SANDBOXES for flag in (f"--{sandbox.name}-port", "0")),
]


@dataclass
class RunningStack:
    api: str  # http://127.0.0.1:<port>, the API is under /v1
    web: str
    aws: str
    keys: dict[str, str]  # {"secret": "sk_local_dev", "publishable": "pk_local_dev"}
    providers: dict[str, str]  # each provider sandbox's client base URL, by provider name
    process: subprocess.Popen[bytes]
    log_path: Path
    env_vars_file: Path | None = None  # for `sam local invoke --env-vars`, as the stack wrote it

    def output(self) -> str:
        """Everything the stack printed so far (its logs, and the emails the application sent)."""
        return self.log_path.read_text(errors="replace")


def _tail(path: Path, lines: int = 60) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _ready_line(path: Path) -> dict[str, Any] | None:
    for line in path.read_text(errors="replace").split("\n")[:-1]:  # complete lines only
        if line.startswith(READY_PREFIX):
            urls: dict[str, Any] = json.loads(line[len(READY_PREFIX) :])
            return urls
    return None


def _healthy(api: str) -> bool:
    try:
        with urllib.request.urlopen(f"{api}/v1/health", timeout=2) as response:  # noqa: S310 - loopback
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _stop(process: subprocess.Popen[bytes], grace: float = 10) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def running_stack(*options: str, log_path: Path | None = None, timeout: float = 30) -> Iterator[RunningStack]:
    """Starts the stack with `options` (CLI flags of `python -m devstack`) and yields its URLs."""
    if log_path is None:
        handle, name = tempfile.mkstemp(prefix="devstack-", suffix=".log")
        os.close(handle)
        log_path = Path(name)
    # Beside the log, never the repository's .devstack/env.json: that is `make run`'s (a later flag wins).
    env_vars_file = log_path.with_name(f"{log_path.stem}-env.json")
    command = [sys.executable, "-m", "devstack", *FREE_PORTS, "--env-vars-file", str(env_vars_file), *options]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    try:
        deadline = time.monotonic() + timeout
        urls = None
        while time.monotonic() < deadline and process.poll() is None:
            urls = urls or _ready_line(log_path)
            if urls is not None and _healthy(urls["api"]):
                break
            time.sleep(0.1)
        else:
            exited = process.poll() is not None
            state = f"exited with {process.returncode}" if exited else f"was not ready in {timeout} s"
            raise RuntimeError(f"the local stack {state}; last output ({log_path}):\n{_tail(log_path)}")
        written = urls.get("env_vars_file")
        yield RunningStack(
            urls["api"],
            urls["web"],
            urls["aws"],
            urls["keys"],
            urls["providers"],
            process,
            log_path,
            Path(written) if written else None,
        )
    finally:
        _stop(process)
