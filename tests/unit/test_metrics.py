"""The metrics idgate writes as EMF lines: their names, namespace and dimensions are what the template's
alarms and dashboard read (tests/unit/test_template_checks.py), and nothing personal is a dimension."""

from __future__ import annotations

import json
from typing import Any

import pytest

from idgate import metrics


def emitted(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith('{"_aws"')]


def test_a_count_is_one_emf_line_with_its_dimensions_and_the_service(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "idgate")
    metrics.count(metrics.SESSIONS_FINALIZED, provider="okid", status="error")
    [line] = emitted(capsys.readouterr().out)
    [directive] = line["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "idgate"
    assert set(directive["Dimensions"][0]) == {"provider", "status", "service"}
    assert directive["Metrics"] == [{"Name": "SessionsFinalized", "Unit": "Count"}]
    assert (line["provider"], line["status"], line["SessionsFinalized"]) == ("okid", "error", [1.0])


def test_a_duration_is_in_seconds(capsys: pytest.CaptureFixture[str]):
    metrics.seconds(metrics.TIME_TO_VERDICT, 42.5, provider="jekimo", status="approved")
    [line] = emitted(capsys.readouterr().out)
    assert line["_aws"]["CloudWatchMetrics"][0]["Metrics"] == [{"Name": "TimeToVerdict", "Unit": "Seconds"}]
    assert line["TimeToVerdict"] == [42.5]
