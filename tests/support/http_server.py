"""A real HTTP server on loopback whose answers a test programs: for provider failure modes
(5xx, non-JSON, slow answers) that the sandboxes do not produce."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

#: How often a server's loop looks for shutdown: a server is stopped at the end of each test, and the
#: default half second made that most of a test's time.
_POLL = 0.02


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class ScriptedServer:
    """Answers each request with the next scripted response (the last one repeats)."""

    url: str
    script: list[Callable[[Request], Response]] = field(default_factory=list)
    requests: list[Recorded] = field(default_factory=list)

    def answer(self, request: Request) -> Response:
        self.requests.append(
            Recorded(
                request.method,
                request.path,
                {k.lower(): v for k, v in request.headers.items()},
                request.get_data(),
            )
        )
        handler = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        return handler(request)


def json_answer(body: Any, status: int = 200) -> Callable[[Request], Response]:
    import json

    return lambda _request: Response(json.dumps(body), status=status, content_type="application/json")


def text_answer(text: str, status: int = 200) -> Callable[[Request], Response]:
    return lambda _request: Response(text, status=status, content_type="text/html")


def slow_answer(seconds: float) -> Callable[[Request], Response]:
    def answer(_request: Request) -> Response:
        time.sleep(seconds)
        return Response("{}", content_type="application/json")

    return answer


@contextmanager
def scripted_server(*script: Callable[[Request], Response]) -> Iterator[ScriptedServer]:
    holder: dict[str, ScriptedServer] = {}

    @Request.application  # type: ignore[arg-type]
    def app(request: Request) -> Response:
        return holder["server"].answer(request)

    server = make_server("127.0.0.1", 0, app, threaded=True)
    holder["server"] = ScriptedServer(url=f"http://127.0.0.1:{server.server_port}", script=list(script))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": _POLL}, daemon=True)
    thread.start()
    try:
        yield holder["server"]
    finally:
        server.shutdown()
        thread.join(timeout=5)


@contextmanager
def serve_wsgi(app: Any) -> Iterator[str]:
    """Serves a WSGI app (a provider sandbox) on a free loopback port; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": _POLL}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


@contextmanager
def serve_sandbox[S](build: Callable[[str], S]) -> Iterator[tuple[S, str]]:
    """Serves the provider sandbox `build(url)` makes once its URL is known (sandboxes link to
    themselves, so they are built after the port is bound); yields it and its base URL."""
    holder: dict[str, Any] = {}

    def app(environ: Any, start_response: Any) -> Any:
        return holder["sandbox"](environ, start_response)

    with serve_wsgi(app) as url:
        holder["sandbox"] = build(url)
        yield holder["sandbox"], url
