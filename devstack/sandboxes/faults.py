"""Chaos for the provider sandboxes: a seeded share of the provider API calls idgate makes go wrong.

Only the endpoints a sandbox lists in ``api_endpoints`` are ever faulted: never the user's page, the
reviewer's buttons or a sandbox's own control endpoints. Each call to such an endpoint draws from the
sandbox's own random generator (seeded from the run's seed and the sandbox's name, so one sandbox's
faults do not depend on how its calls interleave with another's); a faulted call is one of:

``error``      a 500, 502, 503 or 504 with a proxy's HTML page; the sandbox never sees the request
``reset``      the connection is dropped without an answer (a TCP reset); the sandbox never sees it
``garbage``    the sandbox acts, and its answer's body is replaced by random bytes (never JSON)
``truncated``  the sandbox acts, and its answer stops part-way through the body its length announces
``slow``       the sandbox answers after a delay drawn up to ``slow_seconds`` (1 s by default: under
               idgate's 8 s read time-out, often past a webhook's 0.4 s)
``hang``       the sandbox acts, and its answer is held ``hang_seconds`` (9 s by default, past idgate's
               8 s read time-out; set 0.5 to pass only the webhook's, so a test does not lose a session)

``kinds`` weighs them (all 1 by default). The provider that acted and then lost its answer is the
harder case for idgate (an orphan verification, a token it never saw), so the answer-spoiling kinds
run the handler first.
"""

from __future__ import annotations

import contextlib
import logging
import random
import socket
import struct
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from werkzeug.wrappers import Response

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

__all__ = ["DEFAULT_HANG_SECONDS", "DEFAULT_SLOW_SECONDS", "KINDS", "Fault", "ProviderFaults", "serve"]

KINDS = ("error", "reset", "garbage", "truncated", "slow", "hang")
DEFAULT_SLOW_SECONDS = 1.0
DEFAULT_HANG_SECONDS = 9.0
MAX_DELAY = 60.0
ERROR_STATUSES = (500, 502, 503, 504)
_PHRASES = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}

log = logging.getLogger("devstack.faults")


@dataclass(frozen=True)
class Fault:
    """One drawn fault, with every random choice it needs already made (so a seed repeats it)."""

    kind: str
    status: int = 0  # error
    delay: float = 0.0  # slow, hang
    cut: float = 0.0  # truncated: the share of the body sent
    junk: bytes = b""  # garbage


class ProviderFaults:
    """The fault settings every sandbox of a stack shares, and one seeded generator per sandbox."""

    def __init__(self, *, sleep: Callable[[float], None] | None = None) -> None:
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.sleep: Callable[[float], None] = sleep or self._interruptible_sleep
        self._share = 0.0
        self._names: frozenset[str] | None = None
        self._kinds: dict[str, float] = dict.fromkeys(KINDS, 1.0)
        self._slow = DEFAULT_SLOW_SECONDS
        self._hang = DEFAULT_HANG_SECONDS
        self._down: frozenset[str] = frozenset()
        self._seed = 0
        self._generators: dict[str, random.Random] = {}
        self._counts: dict[str, Counter[str]] = {}

    def configure(
        self,
        share: float,
        *,
        seed: int | None = None,
        names: Iterable[str] | None = None,
        kinds: Mapping[str, float] | None = None,
        slow_seconds: float = DEFAULT_SLOW_SECONDS,
        hang_seconds: float = DEFAULT_HANG_SECONDS,
        down: Iterable[str] = (),
    ) -> None:
        """Fault ``share`` (0 to 1) of the API calls of the sandboxes ``names`` (None: all), and every API
        call of the sandboxes ``down`` (a 503: the provider is down, whatever the share).

        A ``seed`` restarts every generator from it, and the counts; without one each goes on.
        """
        self.check(share, names=names, kinds=kinds, slow_seconds=slow_seconds, hang_seconds=hang_seconds)
        weights = dict.fromkeys(KINDS, 1.0) if kinds is None else dict(kinds)
        with self._lock:
            self._share = share
            self._names = None if names is None else frozenset(names)
            self._kinds = {kind: weight for kind, weight in weights.items() if weight > 0}
            self._slow, self._hang = slow_seconds, hang_seconds
            self._down = frozenset(down)
            if seed is not None:
                self._seed = seed
                self._generators.clear()
                self._counts.clear()

    @staticmethod
    def check(
        share: float,
        *,
        names: Iterable[str] | None = None,
        kinds: Mapping[str, float] | None = None,
        slow_seconds: float = DEFAULT_SLOW_SECONDS,
        hang_seconds: float = DEFAULT_HANG_SECONDS,
    ) -> None:
        """Raises ValueError unless ``configure`` would take these settings."""
        weights = dict.fromkeys(KINDS, 1.0) if kinds is None else dict(kinds)
        if isinstance(names, str):  # would fault the sandboxes named by its letters
            raise ValueError("providers is a list of sandbox names")
        if not 0.0 <= share <= 1.0:
            raise ValueError("provider_faults must be between 0 and 1")
        if set(weights) - set(KINDS) or any(w < 0 for w in weights.values()) or not any(weights.values()):
            raise ValueError(f"provider_kinds weighs some of {', '.join(KINDS)}, at least one above 0")
        if not (0.0 <= slow_seconds <= MAX_DELAY and 0.0 <= hang_seconds <= MAX_DELAY):
            raise ValueError(f"slow_seconds and hang_seconds must be between 0 and {MAX_DELAY:g}")

    def draw(self, name: str, endpoint: str) -> Fault | None:
        """The fault the sandbox ``name`` answers this call of its API ``endpoint`` with, or None."""
        with self._lock:
            if name in self._down:
                self._counts.setdefault(name, Counter())["down"] += 1
                log.info("%s sandbox: down, %s refused", name, endpoint)
                return Fault("error", status=503)
            if self._share <= 0.0 or (self._names is not None and name not in self._names):
                return None
            counts = self._counts.setdefault(name, Counter())
            counts["calls"] += 1
            generator = self._generators.get(name)
            if generator is None:
                # A string seed is hashed the same way in every process (not PYTHONHASHSEED's hash).
                generator = self._generators[name] = random.Random(f"provider:{name}:{self._seed}")
            if generator.random() >= self._share:
                return None
            kind = generator.choices(list(self._kinds), weights=list(self._kinds.values()))[0]
            fault = self._parameters(kind, generator)
            counts[kind] += 1
        log.info("%s sandbox: fault %s on %s", name, kind, endpoint)
        return fault

    def _parameters(self, kind: str, generator: random.Random) -> Fault:
        if kind == "error":
            return Fault(kind, status=generator.choice(ERROR_STATUSES))
        if kind == "slow":
            return Fault(kind, delay=generator.uniform(0.0, self._slow))
        if kind == "hang":
            return Fault(kind, delay=self._hang)
        if kind == "truncated":
            return Fault(kind, cut=generator.random())
        if kind == "garbage":
            # Led by a UTF-8 continuation byte, so that no draw is by chance a JSON document.
            lead = bytes([generator.randint(0x80, 0xBF)])
            return Fault(kind, junk=lead + generator.randbytes(generator.randint(0, 63)))
        return Fault(kind)

    def counts(self) -> dict[str, dict[str, int]]:
        """By sandbox, since the last seed: the API calls drawn for (``calls``) and each kind's faults."""
        with self._lock:
            return {name: dict(counts) for name, counts in self._counts.items()}

    def close(self) -> None:
        """Ends the delays under way, so a stopping stack does not wait for a hang."""
        self._stopping.set()

    def _interruptible_sleep(self, seconds: float) -> None:
        self._stopping.wait(seconds)


def serve(
    fault: Fault,
    respond: Callable[[], Response],
    environ: WSGIEnvironment,
    start_response: StartResponse,
    sleep: Callable[[float], None],
) -> Iterable[bytes]:
    """The WSGI answer to a faulted call; ``respond`` runs the sandbox's handler."""
    if fault.kind == "reset":
        _abort(environ)
        # werkzeug's server treats this as a dropped connection: it writes nothing and closes.
        raise ConnectionResetError("devstack fault: connection reset")
    if fault.kind == "error":
        phrase = _PHRASES[fault.status]
        page = (
            f"<html><head><title>{fault.status} {phrase}</title></head><body><h1>{phrase}</h1></body></html>"
        )
        return Response(page, fault.status, content_type="text/html")(environ, start_response)
    if fault.kind == "slow":
        sleep(fault.delay)
    response = respond()
    if fault.kind == "hang":
        sleep(fault.delay)
    elif fault.kind == "garbage":
        response.set_data(fault.junk)
    elif fault.kind == "truncated":
        body = response.get_data()
        response.set_data(body[: min(int(len(body) * fault.cut), max(len(body) - 1, 0))])
        response.headers["Content-Length"] = str(len(body))  # announces more than is sent
    return response(environ, start_response)


def _abort(environ: WSGIEnvironment) -> None:
    """Drops the connection with a reset: no answer, no orderly end.

    With SO_LINGER 0 the last close sends a reset. Closing our reference defers that close to the
    server's own (its reader still holds the socket), and shutting reads makes that reader see the end at
    once instead of waiting for a next request on the connection; the server's own orderly shutdown then
    finds the socket closed, so no FIN goes before the reset.
    """
    connection = environ.get("werkzeug.socket")
    if not isinstance(connection, socket.socket):
        return
    # Already gone? The client sees a dropped connection either way.
    with contextlib.suppress(OSError):
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        connection.shutdown(socket.SHUT_RD)
    connection.close()
