"""One try of a delivery over HTTP, to the address idgate.hooks.urls checked: the connection goes to that IP,
while the Host header and TLS (server name and certificate check) use the URL's host name. No redirect is
followed, nothing is read past a short answer, and the whole try has 10 seconds."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

from idgate.hooks.urls import Target

TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    latency_ms: int
    error: str | None = None  # a stable code when no answer came

    @property
    def acknowledged(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def post(
    target: Target, headers: Mapping[str, str], body: bytes, *, timeout: float = TIMEOUT_SECONDS
) -> Outcome:
    import certifi  # with requests in the layer
    import urllib3  # with requests in the layer; imported on the first delivery, not at cold start

    default_port = 443 if target.scheme == "https" else 80
    # An IPv6 literal is written in brackets in a Host header (RFC 9110, 7.2), as in the URL.
    host = f"[{target.host}]" if ":" in target.host else target.host
    host_header = host if target.port == default_port else f"{host}:{target.port}"
    pool: urllib3.HTTPConnectionPool
    if target.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            target.address,
            port=target.port,
            server_hostname=target.host,
            assert_hostname=target.host,
            cert_reqs="CERT_REQUIRED",
            ca_certs=certifi.where(),
            retries=False,
            maxsize=1,
        )
    else:
        pool = urllib3.HTTPConnectionPool(target.address, port=target.port, retries=False, maxsize=1)
    started = time.monotonic()
    try:
        with pool:
            answer = pool.urlopen(
                "POST",
                target.path,
                body=body,
                headers={**headers, "Host": host_header, "User-Agent": "idgate-webhooks/1"},
                redirect=False,
                timeout=urllib3.Timeout(total=timeout),
                preload_content=False,
            )
            answer.release_conn()
            status = answer.status
    except urllib3.exceptions.NewConnectionError:  # refused, unreachable (a ConnectTimeoutError by its class)
        return Outcome(None, _since(started), "connection_failed")
    except urllib3.exceptions.TimeoutError:
        return Outcome(None, _since(started), "timeout")
    except urllib3.exceptions.HTTPError:
        return Outcome(None, _since(started), "connection_failed")
    return Outcome(status, _since(started))


def _since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
