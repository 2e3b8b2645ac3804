"""The API's public base URL, which the providers' webhook URLs are built on: the configured one
(`PublicApiUrl`), else the API's own domain, never a scheme or a host a caller chose.

Behind API Gateway the request context's `domainName` is the domain the API was called on (its
execute-api domain, or a custom domain mapped to it), always served over https: the scheme never comes
from the request (`X-Forwarded-Proto` is a header anyone can send). Where `domainName` is not a plain host
name (elsewhere than behind API Gateway, a Host header may flow into it), it is refused, not used.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
#: A DNS name (letters, digits, hyphens; dot-separated labels) or an IPv4 address, with an optional port.
_HOST = re.compile(rf"(?P<name>{_LABEL}(?:\.{_LABEL})*)(?::(?P<port>[0-9]{{1,5}}))?")
_LOOPBACK_NAMES = {"localhost"}


def is_host_name(text: str) -> bool:
    """`host` or `host:port`, and nothing else: no scheme, user, path, query, space or control character."""
    match = _HOST.fullmatch(text)
    if match is None:
        return False
    return len(match["name"]) <= 253 and int(match["port"] or 1) in range(1, 65536)


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def checked_public_api_url(url: str) -> str:
    """`PublicApiUrl` without its trailing slash ("" when unset), or ValueError unless it is an absolute
    https URL (http only on a loopback host: the local stack) of a plain host, without user, query or
    fragment."""
    if not url:
        return ""
    # urlsplit drops tabs and line breaks: refuse them (and spaces, and non-ASCII) before.
    if not re.fullmatch(r"[!-~]+", url):
        raise ValueError("must be printable ASCII, without spaces")
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError for a port that is no number, or out of range
    except ValueError as exc:
        raise ValueError(f"not a URL: {exc}") from None
    if not (parts.scheme == "https" or (parts.scheme == "http" and _is_loopback(host))):
        raise ValueError("must be an https URL (http only on a loopback host)")
    if "@" in parts.netloc or not (is_host_name(parts.netloc) or _is_loopback(host)):
        raise ValueError("must name a plain host, without user")
    if "?" in url or "#" in url:
        raise ValueError("must have no query and no fragment")
    return url.rstrip("/")


def api_base_url(public_api_url: str, domain_name: str) -> str:
    """The configured URL (checked once, in the settings), else https on the API's own domain."""
    if public_api_url:
        return public_api_url
    if not is_host_name(domain_name):
        raise ValueError("the request's domain name is not a host name: set the PublicApiUrl parameter")
    return f"https://{domain_name}"
