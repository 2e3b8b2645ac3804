"""The metrics a unit test's code emitted: Powertools prints each as one EMF JSON line on stdout."""

from __future__ import annotations

import json
from typing import Any

import pytest


def emitted(capsys: pytest.CaptureFixture[str], name: str) -> list[dict[str, Any]]:
    """The EMF lines printed so far (consumed from `capsys`) that carry the metric `name`."""
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    return [
        line
        for line in lines
        if any(metric["Name"] == name for metric in line["_aws"]["CloudWatchMetrics"][0]["Metrics"])
    ]


def provider_call_failures(capsys: pytest.CaptureFixture[str]) -> list[tuple[str, str]]:
    """The ProviderCallFailures emitted: (provider, reason) each."""
    return [(line["provider"], line["reason"]) for line in emitted(capsys, "ProviderCallFailures")]
