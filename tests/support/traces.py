"""An in-process stand-in for the X-Ray recorder (idgate.tracing's `_recorder` while tracing is on): what
each provider call's subsegment holds, without a daemon or a fresh interpreter (tests/unit/test_tracing.py
proves the same end to end, through the X-Ray SDK)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest


@dataclass
class Subsegment:
    name: str
    namespace: str
    annotations: dict[str, Any] = field(default_factory=dict)
    http: dict[str, Any] = field(default_factory=dict)
    #: What the call raised, which the X-Ray SDK records on the subsegment.
    error: BaseException | None = None

    def put_annotation(self, key: str, value: Any) -> None:
        self.annotations[key] = value

    def put_http_meta(self, key: str, value: Any) -> None:
        self.http[key] = value


@dataclass
class Recorder:
    subsegments: list[Subsegment] = field(default_factory=list)

    @contextmanager
    def in_subsegment(self, *, name: str, namespace: str) -> Iterator[Subsegment]:
        subsegment = Subsegment(name, namespace)
        self.subsegments.append(subsegment)
        try:
            yield subsegment
        except BaseException as exc:
            subsegment.error = exc
            raise


def record_traces(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    """Tracing on for the rest of the test, recorded by the recorder returned."""
    recorder = Recorder()
    monkeypatch.setattr("idgate.tracing._recorder", recorder)
    return recorder
