"""A try goes to the address that was checked, whatever the host name would resolve to now (no DNS rebinding):
the connection is to the IP, the Host header is the URL's. No redirect is followed, and a slow answer is a
timeout."""

from __future__ import annotations

from werkzeug.wrappers import Request, Response

from idgate.hooks.transport import post
from idgate.hooks.urls import Target
from tests.support.http_server import scripted_server, slow_answer


def target(url: str, host: str = "hooks.shop.example") -> Target:
    port = int(url.rsplit(":", 1)[1])
    return Target("http", host, port, "127.0.0.1", "/in?x=1")


def test_the_try_connects_to_the_checked_address_with_the_urls_host_name():
    # Given a host name that resolves nowhere, and the address checked for it
    with scripted_server(lambda _r: Response("", status=204)) as server:
        outcome = post(target(server.url), {"webhook-id": "evt_1"}, b'{"a": 1}')
    # Then the server at that address got the body, with the URL's host name
    assert outcome.acknowledged
    assert (outcome.status_code, outcome.error) == (204, None)
    [request] = server.requests
    assert request.headers["host"] == f"hooks.shop.example:{server.url.rsplit(':', 1)[1]}"
    assert (request.method, request.path, request.body) == ("POST", "/in", b'{"a": 1}')
    assert request.headers["webhook-id"] == "evt_1"


def test_an_ipv6_literal_host_is_bracketed_in_the_host_header():
    with scripted_server(lambda _r: Response("", status=204)) as server:
        outcome = post(target(server.url, host="2001:db8::1"), {}, b"{}")
    assert outcome.acknowledged
    assert server.requests[0].headers["host"] == f"[2001:db8::1]:{server.url.rsplit(':', 1)[1]}"


def test_a_redirect_is_not_followed_and_is_no_acknowledgement():
    def redirect(_request: Request) -> Response:
        return Response("", status=302, headers={"Location": "http://169.254.169.254/"})

    with scripted_server(redirect) as server:
        outcome = post(target(server.url), {}, b"{}")
    assert (outcome.status_code, outcome.acknowledged) == (302, False)
    assert len(server.requests) == 1


def test_a_slow_answer_is_a_timeout_and_a_closed_port_a_failed_connection():
    with scripted_server(slow_answer(2)) as server:
        slow = post(target(server.url), {}, b"{}", timeout=0.3)
    assert (slow.status_code, slow.error, slow.acknowledged) == (None, "timeout", False)
    closed = post(target(server.url), {}, b"{}", timeout=1)  # the server is gone
    assert (closed.status_code, closed.error) == (None, "connection_failed")
