"""A threaded werkzeug server in a background thread: bound at construction, so port 0 gives a known port."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


class QuietRequestHandler(WSGIRequestHandler):
    """No werkzeug access line per request: devstack logs what matters (routes, invocations) itself."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


def _not_ready(environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
    start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
    return [b"starting"]


class BackgroundServer:
    def __init__(
        self,
        app: WSGIApplication | None,
        host: str = "127.0.0.1",
        port: int = 0,
        request_handler: type[WSGIRequestHandler] = QuietRequestHandler,
    ) -> None:
        self._server: BaseWSGIServer = make_server(
            host, port, app or _not_ready, threaded=True, request_handler=request_handler
        )
        self._thread: threading.Thread | None = None
        self.host = host
        self.port: int = self._server.server_port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def app(self) -> Any:
        return self._server.app

    @app.setter
    def app(self, app: WSGIApplication) -> None:
        # For apps that need their own URL (a sandbox that links to itself) when the port was 0.
        self._server.app = app

    def start(self) -> BackgroundServer:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()
