"""Benchmarks of the paths every request or poll step takes (`make bench`). Targets are asserted on
the measured mean, here, never in the test suite."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from idgate.api import CreateSessionRequest
from idgate.qr import qr_data_uri
from idgate.secrets_util import hash_pin, pin_matches, sha256_hex

EVENTS = Path(__file__).resolve().parents[1] / "events"

#: Budget per operation, in seconds (a 256 MB arm64 Lambda is slower than this machine: keep headroom).
TARGETS = {
    "qr": 0.050,
    "key_hash": 0.0001,
    "pin_check": 0.200,
    "parse_body": 0.001,
}


def within(benchmark: pytest.FixtureRequest, name: str) -> None:
    mean = benchmark.stats.stats.mean  # type: ignore[attr-defined]
    assert mean <= TARGETS[name], f"{name}: {mean * 1000:.2f} ms > {TARGETS[name] * 1000:.2f} ms"


def test_qr_code_generation(benchmark):
    benchmark(
        qr_data_uri, "https://verify.prod.okid.io/?verification_id=ver_abc123def456abc123def456&mode=select"
    )
    within(benchmark, "qr")


def test_api_key_hashing_for_the_authorizer(benchmark):
    benchmark(sha256_hex, "sk_" + "x" * 32)
    within(benchmark, "key_hash")


def test_pin_verification_is_deliberately_slow_but_bounded(benchmark):
    stored = hash_pin("293812")
    assert benchmark(pin_matches, "293812", stored)
    within(benchmark, "pin_check")


def test_create_session_body_parsing(benchmark):
    body = json.loads(json.loads((EVENTS / "api-create-session.json").read_text())["body"])
    benchmark(CreateSessionRequest.model_validate, body)
    within(benchmark, "parse_body")
