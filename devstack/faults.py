"""Chaos runs of the local stack: the faults of the provider sandboxes and of the local AWS, set at start
(``--provider-faults``, ``--aws-faults``, ``--fault-seed``...) and changed while it runs, from Python
(``LocalStack.faults.update(...)``) or over HTTP (``POST /_devstack/faults`` on the API port).

    stack.faults.update(aws_faults=1.0, services=["events"])   # EventBridge down
    stack.faults.update(aws_faults=0.0)                        # and back

The settings are one ``FaultSettings``; an update names only what changes, and a ``seed`` restarts every
generator (sandboxes' and services') from it, so a run with the same seed and the same calls fails the
same calls. Without a seed one is chosen at random and logged, to repeat a run.
``devstack.sandboxes.faults`` and ``devstack.aws_faults`` say what each fault looks like.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import secrets
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from devstack.aws_faults import SERVICES, AwsFaults
from devstack.sandboxes.faults import (
    DEFAULT_HANG_SECONDS,
    DEFAULT_SLOW_SECONDS,
    KINDS,
    MAX_DELAY,
    ProviderFaults,
)

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = ["CONTROL_PATH", "FaultControl", "FaultSettings", "StackFaults", "add_arguments"]

CONTROL_PATH = "/_devstack/faults"
MAX_CONTROL_BODY = 16 * 1024

log = logging.getLogger("devstack.faults")


@dataclass(frozen=True)
class FaultSettings:
    """Every fault knob; the JSON of ``/_devstack/faults`` has the same names."""

    provider_faults: float = 0.0  # the share of provider API calls faulted
    providers: tuple[str, ...] | None = None  # the sandboxes faulted; None: all
    provider_kinds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(KINDS, 1.0))
    slow_seconds: float = DEFAULT_SLOW_SECONDS
    hang_seconds: float = DEFAULT_HANG_SECONDS
    aws_faults: float = 0.0  # the share of calls to `services` faulted
    services: tuple[str, ...] = SERVICES
    aws_errors: tuple[str, ...] | None = None  # the error codes given; None: all of each service's
    seed: int | None = None  # None: one chosen at random
    providers_down: tuple[str, ...] = ()  # sandboxes that refuse every API call (503), whatever the share

    @classmethod
    def from_arguments(cls, values: dict[str, Any]) -> FaultSettings:
        """The settings the flags of ``add_arguments`` give; takes them out of ``values``."""
        return cls(
            provider_faults=values.pop("provider_faults"),
            provider_kinds=dict.fromkeys(values.pop("provider_fault_kinds"), 1.0),
            slow_seconds=values.pop("provider_slow_seconds"),
            hang_seconds=values.pop("provider_hang_seconds"),
            aws_faults=values.pop("aws_faults"),
            services=tuple(values.pop("aws_fault_services")),
            seed=values.pop("fault_seed"),
            providers_down=tuple(values.pop("provider_down")),
        )

    def changed(self, changes: Mapping[str, Any]) -> FaultSettings:
        """These settings with ``changes`` (JSON values: lists for tuples), checked; ValueError if wrong."""
        names = {f.name for f in dataclasses.fields(self)}
        if unknown := set(changes) - names:
            raise ValueError(
                f"unknown settings: {', '.join(sorted(unknown))}; known: {', '.join(sorted(names))}"
            )
        values: dict[str, Any] = {}
        for name, value in changes.items():
            if name in ("provider_faults", "aws_faults", "slow_seconds", "hang_seconds"):
                values[name] = _number(name, value)
            elif name == "seed":
                if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                    raise ValueError("seed must be an integer or null")
                values[name] = value
            elif name == "provider_kinds":
                values[name] = _weights(value)
            elif name == "providers_down":
                values[name] = _names(name, value, nullable=True) or ()
            else:
                values[name] = _names(name, value, nullable=name != "services")
        return dataclasses.replace(self, **values)

    def as_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number")
    return float(value)


def _names(name: str, value: object, *, nullable: bool) -> tuple[str, ...] | None:
    if value is None and nullable:
        return None
    if not isinstance(value, list | tuple) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"{name} must be a list of names" + (" or null" if nullable else ""))
    return tuple(value)


def _weights(value: object) -> dict[str, float]:
    """Kinds as a list (each weighs 1) or as an object of weights."""
    if isinstance(value, list | tuple):
        value = dict.fromkeys(_names("provider_kinds", value, nullable=False) or (), 1.0)
    if not isinstance(value, dict):
        raise ValueError("provider_kinds must be a list of kinds or an object of weights")
    return {str(kind): _number(f"provider_kinds.{kind}", weight) for kind, weight in value.items()}


class StackFaults:
    """The stack's faults: one ``ProviderFaults`` its sandboxes share and the local AWS's ``AwsFaults``."""

    def __init__(self, provider_names: Iterable[str] = ()) -> None:
        self.provider = ProviderFaults()
        self.aws = AwsFaults()
        self._provider_names = frozenset(provider_names)
        self.settings = FaultSettings()
        self._lock = threading.RLock()  # one update at a time: each is all or nothing

    def apply(self, settings: FaultSettings, *, reseed: bool = True) -> FaultSettings:
        """Puts ``settings`` in force, all or nothing (ValueError if wrong); ``reseed`` restarts the
        generators from its seed (a new one chosen, and logged, if it has none)."""
        with self._lock:
            return self._apply(settings, reseed)

    def _apply(self, settings: FaultSettings, reseed: bool) -> FaultSettings:
        unknown = set(settings.providers or ()) | set(settings.providers_down)
        unknown -= self._provider_names
        if unknown:
            raise ValueError(f"providers are some of {', '.join(sorted(self._provider_names))}")
        if settings.seed is None:
            settings, reseed = dataclasses.replace(settings, seed=secrets.randbelow(2**31)), True
        provider: dict[str, Any] = {
            "names": settings.providers,
            "kinds": settings.provider_kinds,
            "slow_seconds": settings.slow_seconds,
            "hang_seconds": settings.hang_seconds,
        }
        aws: dict[str, Any] = {"services": settings.services, "codes": settings.aws_errors}
        ProviderFaults.check(settings.provider_faults, **provider)
        AwsFaults.check(settings.aws_faults, **aws)
        seed = settings.seed if reseed else None
        self.provider.configure(settings.provider_faults, seed=seed, down=settings.providers_down, **provider)
        self.aws.configure(settings.aws_faults, seed=seed, **aws)
        self.settings = settings
        log.log(
            logging.INFO if settings.provider_faults or settings.aws_faults else logging.DEBUG,
            "faults: %.0f%% of provider API calls, %.0f%% of %s calls (seed %d)",
            settings.provider_faults * 100,
            settings.aws_faults * 100,
            "/".join(settings.services) or "no AWS",
            settings.seed,
        )
        if settings.providers_down:
            log.info("down: the %s sandbox(es) refuse every API call", ", ".join(settings.providers_down))
        return settings

    def update(self, changes: Mapping[str, Any] | None = None, /, **named: Any) -> FaultSettings:
        """Changes the settings named (see ``FaultSettings``), as a mapping (JSON) or by keyword;
        ``seed=7`` restarts the generators from 7, ``seed=None`` from a new random seed."""
        changes = {**(changes or {}), **named}
        with self._lock:
            return self.apply(self.settings.changed(changes), reseed="seed" in changes)

    def state(self) -> dict[str, Any]:
        """The settings in force and what was faulted so far (by sandbox and by AWS service)."""
        counts = {"providers": self.provider.counts(), "aws": self.aws.counts()}
        return {"settings": self.settings.as_json(), "counts": counts}

    def close(self) -> None:
        self.provider.close()


class FaultControl:
    """``GET``/``POST /_devstack/faults`` in front of ``app``: the state, or an update of the settings."""

    def __init__(self, app: WSGIApplication, faults: StackFaults) -> None:
        self.app = app
        self.faults = faults

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != CONTROL_PATH:
            return self.app(environ, start_response)
        method = environ.get("REQUEST_METHOD")
        if method == "POST":
            try:
                self.faults.update(_json_body(environ))
            except ValueError as exc:
                return _respond(start_response, "400 Bad Request", {"message": str(exc)})
        elif method != "GET":
            return _respond(start_response, "405 Method Not Allowed", {"message": "GET or POST"})
        return _respond(start_response, "200 OK", self.faults.state())


def _json_body(environ: WSGIEnvironment) -> dict[str, Any]:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if not 0 < length <= MAX_CONTROL_BODY:
        raise ValueError(f"send a JSON object of at most {MAX_CONTROL_BODY} bytes")
    try:
        body = json.loads(environ["wsgi.input"].read(length))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValueError("the body is not valid JSON") from exc
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    return body


def _respond(start_response: StartResponse, status: str, body: object) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The fault flags of ``python -m devstack``; ``FaultSettings.from_arguments`` reads them."""
    group = parser.add_argument_group("chaos", f"faults, also changed at run time: POST {CONTROL_PATH}")
    add = group.add_argument
    add("--provider-faults", type=_share, default=0.0, metavar="SHARE",
        help="share (0-1) of the provider API calls the sandboxes fail")  # fmt: skip
    add("--provider-fault-kinds", type=_names_of(KINDS), default=list(KINDS), metavar="LIST",
        help=f"the faults drawn from, equally: some of {','.join(KINDS)} (default: all)")  # fmt: skip
    add("--provider-slow-seconds", type=_seconds, default=DEFAULT_SLOW_SECONDS, metavar="S",
        help="a slow provider answer is late by up to this")  # fmt: skip
    add("--provider-hang-seconds", type=_seconds, default=DEFAULT_HANG_SECONDS, metavar="S",
        help="a hanging provider answer is this late (9 s: past idgate's 8 s read time-out)")  # fmt: skip
    add("--aws-faults", type=_share, default=0.0, metavar="SHARE",
        help="share (0-1) of the DynamoDB, EventBridge and SES v2 calls that fail")  # fmt: skip
    add("--aws-fault-services", type=_names_of(SERVICES), default=list(SERVICES), metavar="LIST",
        help=f"the AWS services faulted: some of {','.join(SERVICES)} (default: all)")  # fmt: skip
    add("--provider-down", type=_list, default=[], metavar="LIST",
        help="sandboxes that refuse every API call (503), comma-separated, e.g. jekimo")  # fmt: skip
    add(
        "--fault-seed",
        type=int,
        default=None,
        metavar="N",
        help="repeats a run's faults (default: a random seed, logged)",
    )


def _list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def _share(text: str) -> float:
    share = float(text)
    if not 0.0 <= share <= 1.0:
        raise argparse.ArgumentTypeError("a share is between 0 and 1")
    return share


def _seconds(text: str) -> float:
    seconds = float(text)
    if not 0.0 <= seconds <= MAX_DELAY:
        raise argparse.ArgumentTypeError(f"between 0 and {MAX_DELAY:g} seconds")
    return seconds


def _names_of(known: tuple[str, ...]) -> Callable[[str], list[str]]:
    def names(text: str) -> list[str]:
        chosen = [item for item in text.split(",") if item]
        if not chosen or set(chosen) - set(known):
            raise argparse.ArgumentTypeError(f"some of {','.join(known)}, comma-separated")
        return chosen

    return names
