"""The metrics a local run prints: embedded-metric-format lines in the functions' output, as CloudWatch
would read them from the logs on AWS, with the names and dimensions the template's alarms read."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.e2e.client import Api, act_as_user

pytestmark = pytest.mark.e2e


def emf_lines(output: str) -> list[dict[str, Any]]:
    """Every EMF document in the output. The local stack runs invocations concurrently in one process,
    so two functions' lines can share a console line: each document is read where it starts."""
    decoder = json.JSONDecoder()
    found = []
    for line in output.splitlines():
        start = line.find('{"_aws"')
        while start >= 0:
            try:
                document, end = decoder.raw_decode(line, start)
            except json.JSONDecodeError:  # cut by another line: not one of the ones we wait for
                end = start + 1
            else:
                found.append(document)
            start = line.find('{"_aws"', end)
    return found


def test_a_verdict_by_webhook_is_counted_where_the_alarms_look(api: Api):
    created = api.create({"provider": "faceki", "options": {}})
    act_as_user(created["verification_url"], {"outcome": "declined", "code": 8006})
    api.wait_for_status(created["id"], "declined", timeout=10)
    deadline = time.monotonic() + 10
    while True:
        lines = emf_lines(api.stack.output())
        named = {
            (metric["Name"], line.get("provider"), line.get("status") or line.get("outcome"))
            for line in lines
            for metric in line["_aws"]["CloudWatchMetrics"][0]["Metrics"]
        }
        wanted = {
            ("SessionsCreated", "faceki", None),
            ("SessionsFinalized", "faceki", "declined"),
            ("WebhooksReceived", "faceki", "applied"),
        }
        if wanted <= named or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert wanted <= named
    for line in lines:
        [directive] = line["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "idgate"
        assert set(directive["Dimensions"][0]) <= {
            "service",
            "provider",
            "status",
            "reason",
            "outcome",
            "check",
        }
        assert created["id"] not in json.dumps(line)
