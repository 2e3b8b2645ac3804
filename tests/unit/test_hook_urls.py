"""Where idgate may deliver: https only, no user info, at most 2,048 characters; at delivery, every address
the host resolves to must be public (no private, loopback, link-local, multicast or metadata address), and the
connection goes to the address checked. The local stack may allow http to loopback, and nothing else."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Sequence

import pytest

from idgate.hooks.urls import UrlRefused, check_url, resolve_target, system_resolve
from tests.support.messages import says


def resolver(answers: dict[str, Sequence[str]]):  # type: ignore[no-untyped-def]
    def resolve(host: str, port: int) -> Sequence[str]:
        if host not in answers:
            raise OSError("no such host")
        return answers[host]

    return resolve


@pytest.mark.parametrize(
    ("url", "code", "problem"),
    [
        ("http://example.com/hooks", "webhook_url_not_https", "must be https"),
        ("ftp://example.com/", "webhook_url_not_https", "must be https"),
        ("https://user:secret@example.com/", "webhook_url_userinfo", "may not hold user info"),
        ("https://user@example.com/", "webhook_url_userinfo", "may not hold user info"),
        ("https:///no-host", "webhook_url_invalid", "has no host"),
        ("https://example.com:99999/", "webhook_url_invalid", "cannot be read"),
        ("https://exa mple.com/", "webhook_url_invalid", "whitespace or control characters"),
        ("https://example.com/" + "a" * 2030, "webhook_url_too_long", "exceeds 2048 characters"),
        ("https://10.1.2.3/", "webhook_url_not_allowed", "not a public one"),
        ("https://127.0.0.1/", "webhook_url_not_allowed", "not a public one"),
        ("https://169.254.169.254/latest/meta-data/", "webhook_url_not_allowed", "not a public one"),
        ("https://[::1]/", "webhook_url_not_allowed", "not a public one"),
        ("https://[fd00:ec2::254]/", "webhook_url_not_allowed", "not a public one"),
        ("https://[::ffff:10.0.0.1]/", "webhook_url_not_allowed", "not a public one"),
        ("https://224.0.0.1/", "webhook_url_not_allowed", "not a public one"),
    ],
)
def test_a_url_idgate_must_not_call_is_refused_at_registration(url: str, code: str, problem: str):
    with pytest.raises(UrlRefused) as refused:
        check_url(url)
    assert refused.value.code == code
    says(str(refused.value), "the URL", problem)  # the integrator's 422 message: what is wrong with it


def test_an_https_url_of_2048_characters_on_a_public_host_is_accepted():
    url = "https://hooks.example.com/" + "a" * (2048 - len("https://hooks.example.com/"))
    assert check_url(url) == url


@pytest.mark.parametrize(
    ("addresses", "allowed"),
    [
        (["93.184.216.34"], True),
        (["2606:2800:220:1:248:1893:25c8:1946"], True),
        (["10.0.0.5"], False),  # private
        (["172.16.3.4"], False),
        (["192.168.1.1"], False),
        (["127.0.0.1"], False),  # loopback
        (["169.254.169.254"], False),  # link-local, the metadata service
        (["100.100.100.200"], False),  # a cloud's metadata address in shared space
        (["100.64.0.1"], False),  # carrier-grade NAT
        (["0.0.0.0"], False),  # noqa: S104 - an address resolved, not one bound
        (["239.1.1.1"], False),  # multicast
        (["fe80::1"], False),
        (["::ffff:192.168.0.1"], False),  # IPv4-mapped private
        (["93.184.216.34", "10.0.0.5"], False),  # one private address among public ones
    ],
)
def test_at_delivery_every_address_the_host_resolves_to_must_be_public(addresses: list[str], allowed: bool):
    resolve = resolver({"hooks.example.com": addresses})
    if allowed:
        target = resolve_target("https://hooks.example.com/in?x=1", resolve=resolve)
        # the connection goes to the checked address, the host name stays for TLS and Host
        assert (target.address, target.host, target.port, target.path) == (
            addresses[0],
            "hooks.example.com",
            443,
            "/in?x=1",
        )
    else:
        with pytest.raises(UrlRefused) as refused:
            resolve_target("https://hooks.example.com/in", resolve=resolve)
        assert refused.value.code == "webhook_address_not_allowed"
        says(str(refused.value), "the URL's host", "an address idgate does not call")


def test_a_hostname_that_resolves_to_a_private_address_is_refused_at_delivery():
    # Given a registered URL with a public-looking name (accepted: registration cannot know)
    url = "https://internal.example.net/hooks"
    assert check_url(url) == url
    # When its name resolves to a private address at delivery time
    with pytest.raises(UrlRefused) as refused:
        resolve_target(url, resolve=resolver({"internal.example.net": ["10.20.30.40"]}))
    # Then it is not called
    assert refused.value.code == "webhook_address_not_allowed"


def test_an_unresolvable_host_is_refused():
    with pytest.raises(UrlRefused) as refused:
        resolve_target("https://nowhere.example/", resolve=resolver({}))
    assert refused.value.code == "webhook_host_unresolved"
    says(str(refused.value), "the URL's host", "does not resolve")
    with pytest.raises(UrlRefused) as nothing:
        resolve_target("https://nowhere.example/", resolve=resolver({"nowhere.example": []}))
    assert nothing.value.code == "webhook_host_unresolved"
    says(str(nothing.value), "the URL's host", "does not resolve")


def test_the_local_stack_allows_http_to_loopback_and_nothing_else():
    # http to a loopback host, resolving to loopback: allowed only with allow_insecure
    loopback = resolver({"localhost": ["127.0.0.1"], "127.0.0.1": ["127.0.0.1"]})
    with pytest.raises(UrlRefused):
        check_url("http://127.0.0.1:4000/")
    target = resolve_target("http://127.0.0.1:4000/in", allow_insecure=True, resolve=loopback)
    assert (target.scheme, target.address, target.port) == ("http", "127.0.0.1", 4000)
    # still refused: http elsewhere, https to loopback, a loopback name that resolves elsewhere
    with pytest.raises(UrlRefused):
        check_url("http://example.com/", allow_insecure=True)
    with pytest.raises(UrlRefused):
        check_url("http://10.0.0.1/", allow_insecure=True)
    with pytest.raises(UrlRefused):
        resolve_target("https://localhost:4000/", allow_insecure=True, resolve=loopback)
    with pytest.raises(UrlRefused):
        resolve_target(
            "http://localhost/", allow_insecure=True, resolve=resolver({"localhost": ["10.0.0.1"]})
        )


def test_a_resolver_that_does_not_answer_in_time_is_an_unresolved_host():
    # Given a resolver that hangs (getaddrinfo has no time-out of its own)
    released = threading.Event()

    def hanging(host: str, port: int) -> Sequence[str]:
        released.wait(10)
        return ["93.184.216.34"]

    # When a delivery resolves the URL's host, it is refused in time, not held until the function's time-out
    started = time.monotonic()
    with pytest.raises(UrlRefused) as refused:
        resolve_target("https://hooks.example.com/in", resolve=hanging, resolve_timeout=0.2)
    released.set()
    assert refused.value.code == "webhook_host_unresolved"
    assert time.monotonic() - started < 5


def test_a_resolver_answering_in_time_is_used_and_its_failure_is_an_unresolved_host():
    answered = resolve_target(
        "https://hooks.example.com/in",
        resolve=resolver({"hooks.example.com": ["93.184.216.34"]}),
        resolve_timeout=5,
    )
    assert answered.address == "93.184.216.34"

    def failing(host: str, port: int) -> Sequence[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    with pytest.raises(UrlRefused) as refused:
        resolve_target("https://hooks.example.com/in", resolve=failing)
    assert refused.value.code == "webhook_host_unresolved"


def test_the_host_is_resolved_for_the_urls_port_443_for_https_and_80_for_http():
    asked: list[tuple[str, int]] = []

    def loopback(host: str, port: int) -> Sequence[str]:
        asked.append((host, port))
        return ["127.0.0.1"] if host == "localhost" else ["93.184.216.34"]

    assert resolve_target("https://hooks.example.com/in", resolve=loopback).port == 443
    assert resolve_target("http://localhost/in", allow_insecure=True, resolve=loopback).port == 80
    assert asked == [("hooks.example.com", 443), ("localhost", 80)]
    with pytest.raises(UrlRefused):  # the local stack's exception is asked for, never the default
        resolve_target("http://localhost/in", resolve=loopback)


def test_an_ipv4_mapped_address_is_judged_as_the_ipv4_address_it_maps():
    public = resolve_target(
        "https://hooks.example.com/", resolve=resolver({"hooks.example.com": ["::ffff:93.184.216.34"]})
    )
    assert public.address == "::ffff:5db8:d822"
    with pytest.raises(UrlRefused):
        resolve_target(
            "https://hooks.example.com/", resolve=resolver({"hooks.example.com": ["::ffff:10.0.0.1"]})
        )


def test_an_address_zone_is_not_part_of_the_address_called():
    target = resolve_target(
        "https://hooks.example.com/",
        resolve=resolver({"hooks.example.com": ["2606:2800:220:1:248:1893:25c8:1946%3"]}),
    )
    assert target.address == "2606:2800:220:1:248:1893:25c8:1946"


def test_the_system_resolver_answers_each_address_once():
    assert system_resolve("127.0.0.1", 443) == ["127.0.0.1"]
