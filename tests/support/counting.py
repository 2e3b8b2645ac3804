"""A provider sandbox behind a counter: how many calls each endpoint got, and failures on demand."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterable
from typing import Any


class CountingProvider:
    """Wraps a sandbox's WSGI app. `calls[(path, token_header)]` counts requests; `fail(path_part, n)`
    answers the next `n` requests whose path contains `path_part` with a 503 (n=None: all of them)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.calls: Counter[tuple[str, str]] = Counter()
        self._failures: dict[str, int | None] = {}
        self._lock = threading.Lock()

    def fail(self, path_part: str, times: int | None) -> None:
        with self._lock:
            self._failures[path_part] = times

    def heal(self) -> None:
        with self._lock:
            self._failures.clear()

    def count(self, path_part: str, token: str = "") -> int:
        with self._lock:
            return sum(n for (path, header), n in self.calls.items() if path_part in path and token in header)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        with self._lock:
            self.calls[(path, environ.get("HTTP_TOKEN", ""))] += 1
            failing = next((part for part in self._failures if part in path), None)
            if failing is not None:
                remaining = self._failures[failing]
                if remaining is not None:
                    if remaining <= 1:
                        del self._failures[failing]
                    else:
                        self._failures[failing] = remaining - 1
        if failing is not None:
            start_response("503 Service Unavailable", [("Content-Type", "application/json")])
            return [json.dumps({"error": "unavailable"}).encode()]
        return self.app(environ, start_response)
