"""Where idgate may deliver: the URL rules checked at registration, and the address check at delivery time.

A URL is `https`, without user info, at most 2,048 characters. At delivery the host is resolved and every
address it resolves to must be a public one (not private, loopback, link-local, multicast, reserved or a cloud
metadata address); the connection then goes to the address that was checked (idgate.hooks.transport), never to
a second resolution, so a DNS answer that changes between the check and the call (rebinding) cannot reach
anything else. The local stack's `AllowInsecureWebhookUrls` allows `http` to a loopback host, and nothing
else.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

MAX_URL_LENGTH = 2048
#: How long a delivery waits for the host's addresses: getaddrinfo has no time-out of its own, and a hung
#: resolver would otherwise hold the try until the function's own time-out.
RESOLVE_TIMEOUT_SECONDS = 3.0
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]", "::1"})
#: Cloud metadata services that are not already link-local (AWS's 169.254.169.254 is).
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("fd00:ec2::254", "100.100.100.200", "169.254.169.254", "169.254.170.2")
)

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolve = Callable[[str, int], Sequence[str]]


class UrlRefused(ValueError):
    """A URL idgate will not register or call; `code` is stable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Target:
    """A checked destination: connect to `address`, present `host` (Host header, TLS name)."""

    scheme: str
    host: str
    port: int
    address: str
    path: str


def _parts(url: str) -> SplitResult:
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises on a malformed port
    except ValueError as exc:
        raise UrlRefused("webhook_url_invalid", "the URL cannot be read") from exc
    return parts


def check_url(url: str, *, allow_insecure: bool = False) -> str:
    """The URL, if it may be registered; else UrlRefused."""
    if len(url) > MAX_URL_LENGTH:
        raise UrlRefused("webhook_url_too_long", f"the URL exceeds {MAX_URL_LENGTH} characters")
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise UrlRefused("webhook_url_invalid", "the URL holds whitespace or control characters")
    parts = _parts(url)
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise UrlRefused("webhook_url_userinfo", "the URL may not hold user info")
    if not parts.hostname:
        raise UrlRefused("webhook_url_invalid", "the URL has no host")
    loopback_host = parts.hostname.lower() in LOOPBACK_HOSTS
    if parts.scheme == "http" and allow_insecure and loopback_host:
        return url
    if parts.scheme != "https":
        raise UrlRefused("webhook_url_not_https", "the URL must be https")
    literal = _literal(parts.hostname)
    if literal is not None and not allowed_address(literal, allow_loopback=False):
        raise UrlRefused("webhook_url_not_allowed", "the URL's address is not a public one")
    return url


def _literal(host: str) -> IpAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def allowed_address(address: IpAddress, *, allow_loopback: bool) -> bool:
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:
        address = mapped
    if address in METADATA_ADDRESSES:
        return False
    if address.is_loopback:
        return allow_loopback
    return address.is_global and not address.is_multicast


def system_resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def resolve_within(resolve: Resolve, host: str, port: int, *, timeout: float) -> Sequence[str]:
    """`resolve(host, port)`, or OSError after `timeout` seconds. The resolution goes on in a daemon thread,
    which a hung resolver may keep, but the try is answered in time (a thread, not a pool: one resolution a
    try, and nothing to shut down)."""
    answer: list[Sequence[str]] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            answer.append(resolve(host, port))
        except BaseException as exc:  # handed to the caller below
            failure.append(exc)

    worker = threading.Thread(target=run, name="webhook-resolve", daemon=True)
    worker.start()
    worker.join(timeout)
    if failure:
        raise failure[0]
    if not answer:
        raise OSError(f"no answer from the resolver within {timeout} s")
    return answer[0]


def resolve_target(
    url: str,
    *,
    allow_insecure: bool = False,
    resolve: Resolve = system_resolve,
    resolve_timeout: float = RESOLVE_TIMEOUT_SECONDS,
) -> Target:
    """Where to connect for `url` now: checked again (the rules may have changed since it was registered),
    then resolved; every address must be allowed (an attacker may mix a public address with a private one)."""
    check_url(url, allow_insecure=allow_insecure)
    parts = _parts(url)
    host = str(parts.hostname)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        resolved = resolve_within(resolve, host.strip("[]"), port, timeout=resolve_timeout)
        found = [ipaddress.ip_address(a.split("%")[0]) for a in resolved]
    except (OSError, ValueError) as exc:
        raise UrlRefused("webhook_host_unresolved", "the URL's host does not resolve") from exc
    if not found:
        raise UrlRefused("webhook_host_unresolved", "the URL's host does not resolve")
    allow_loopback = allow_insecure and parts.scheme == "http"
    if not all(allowed_address(a, allow_loopback=allow_loopback) for a in found):
        raise UrlRefused(
            "webhook_address_not_allowed", "the URL's host resolves to an address idgate does not call"
        )
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(parts.scheme, host, port, str(found[0]), path)
