"""Chaos in the sandboxes: a seeded share of the provider API calls fail in each way a provider can fail,
and nothing else (the user's page, a sandbox's own controls) ever does."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from werkzeug.routing import Rule
from werkzeug.test import Client
from werkzeug.wrappers import Request, Response

from devstack.sandboxes import SANDBOXES, Sandbox
from devstack.sandboxes.base import SandboxApp
from devstack.sandboxes.faults import KINDS, ProviderFaults
from devstack.sandboxes.jekimo import JekimoSandbox
from devstack.sandboxes.pages import json_response
from devstack.server import BackgroundServer

PUBLIC = "http://127.0.0.1:4099"
ANSWER = {"id": "abc", "status": "OK", "padding": "x" * 200}


class ShopApp(SandboxApp):
    """A sandbox with an API (GET /api/items/<id>, POST /api/items) and a user's page (/page)."""

    name = "shop"
    api_endpoints = frozenset({"item", "create"})

    def __init__(self) -> None:
        rules = [
            Rule("/api/items/<item_id>", endpoint="item", methods=["GET"]),
            Rule("/api/items", endpoint="create", methods=["POST"]),
            Rule("/page", endpoint="page", methods=["GET", "POST"]),
        ]
        super().__init__(PUBLIC, rules)
        self.created = 0

    def on_item(self, request: Request, item_id: str) -> Response:
        return json_response({**ANSWER, "id": item_id})

    def on_create(self, request: Request) -> Response:
        self.created += 1
        return json_response(ANSWER, 201)

    def on_page(self, request: Request) -> Response:
        return Response("<html>the user's page</html>", content_type="text/html")


def only(kind: str, **settings: Any) -> ProviderFaults:
    faults = ProviderFaults(sleep=lambda seconds: None)
    faults.configure(1.0, kinds={kind: 1.0}, seed=1, **settings)
    return faults


def shop(faults: ProviderFaults) -> tuple[ShopApp, Client]:
    app = ShopApp()
    app.faults = faults
    return app, Client(app)


# -- each kind of fault -------------------------------------------------------------------------------------


def test_an_error_is_a_proxys_5xx_page_and_the_sandbox_never_sees_the_call() -> None:
    app, client = shop(only("error"))

    answers = [client.post("/api/items") for _ in range(40)]

    assert {answer.status_code for answer in answers} == {500, 502, 503, 504}
    assert all(answer.mimetype == "text/html" for answer in answers)
    assert app.created == 0


def test_a_reset_drops_the_call_without_an_answer() -> None:
    app, client = shop(only("reset"))

    with pytest.raises(ConnectionResetError):
        client.post("/api/items")

    assert app.created == 0


def test_garbage_replaces_the_body_of_an_answer_the_sandbox_gave() -> None:
    app, client = shop(only("garbage"))

    answer = client.post("/api/items")

    assert app.created == 1  # the provider acted; its answer was lost
    assert answer.status_code == 201
    assert answer.data
    with pytest.raises(UnicodeDecodeError):
        answer.data.decode("utf-8")


def test_a_truncated_answer_stops_before_the_length_it_announces() -> None:
    _, client = shop(only("truncated"))

    answers = [client.get(f"/api/items/{n}") for n in range(20)]

    full = len(json.dumps({**ANSWER, "id": "00"}))
    for answer in answers:
        assert int(answer.headers["Content-Length"]) >= full - 1
        assert len(answer.data) < int(answer.headers["Content-Length"])
    assert len({len(answer.data) for answer in answers}) > 1  # cut at drawn places


@pytest.mark.parametrize(("kind", "seconds"), [("slow", 2.0), ("hang", 9.0)])
def test_a_delayed_answer_waits_its_drawn_time_then_answers(kind: str, seconds: float) -> None:
    slept: list[float] = []
    faults = ProviderFaults(sleep=slept.append)
    if kind == "slow":
        faults.configure(1.0, kinds={kind: 1.0}, seed=3, slow_seconds=seconds)
    else:
        faults.configure(1.0, kinds={kind: 1.0}, seed=3, hang_seconds=seconds)
    _, client = shop(faults)

    answers = [client.get("/api/items/a") for _ in range(20)]

    assert all(answer.status_code == 200 and json.loads(answer.data)["id"] == "a" for answer in answers)
    assert len(slept) == 20
    assert all(0 <= delay <= seconds for delay in slept)
    if kind == "hang":
        assert set(slept) == {9.0}  # always past idgate's 8 s read time-out
    else:
        assert len(set(slept)) == 20  # drawn each time


def test_every_kind_is_drawn_when_all_weigh_the_same() -> None:
    faults = ProviderFaults(sleep=lambda seconds: None)
    faults.configure(1.0, seed=11)

    drawn = [faults.draw("shop", "item") for _ in range(600)]

    kinds = [fault.kind for fault in drawn if fault]
    assert set(kinds) == set(KINDS)
    assert all(60 <= kinds.count(kind) <= 140 for kind in KINDS)


def test_weights_choose_the_mix_and_a_kind_weighing_0_never_comes() -> None:
    faults = ProviderFaults()
    faults.configure(1.0, kinds={"error": 3.0, "slow": 1.0, "hang": 0.0}, seed=5)

    kinds = [fault.kind for fault in (faults.draw("shop", "item") for _ in range(800)) if fault]

    assert set(kinds) == {"error", "slow"}
    assert 0.68 <= kinds.count("error") / len(kinds) <= 0.82


# -- the share and the seed --------------------------------------------------------------------------------


@pytest.mark.parametrize("share", [0.1, 0.3, 0.9])
def test_the_share_of_faulted_calls_is_kept_over_many_calls(share: float) -> None:
    faults = ProviderFaults()
    faults.configure(share, seed=7)

    faulted = sum(faults.draw("jekimo", "check") is not None for _ in range(3000))

    assert abs(faulted / 3000 - share) < 0.03
    assert faults.counts()["jekimo"]["calls"] == 3000
    assert sum(n for kind, n in faults.counts()["jekimo"].items() if kind != "calls") == faulted


def test_the_same_seed_fails_the_same_calls_in_the_same_ways_each_sandbox_on_its_own() -> None:
    def run(order: list[str]) -> dict[str, list[object]]:
        faults = ProviderFaults()
        faults.configure(0.3, seed=42)
        drawn: dict[str, list[object]] = {"jekimo": [], "okid": []}
        for name in order:
            drawn[name].append(faults.draw(name, "x"))
        return drawn

    first = run(["jekimo", "okid"] * 100)
    again = run(["okid"] * 100 + ["jekimo"] * 100)  # interleaved otherwise

    assert first == again
    assert first["jekimo"] != first["okid"]
    other = ProviderFaults()
    other.configure(0.3, seed=43)
    assert [other.draw("jekimo", "x") for _ in range(100)] != first["jekimo"]


def test_a_new_seed_restarts_the_generators_and_none_goes_on() -> None:
    faults = ProviderFaults()
    faults.configure(0.5, seed=9)
    start = [faults.draw("okid", "x") for _ in range(50)]
    faults.configure(0.5)  # the share alone: the sequence goes on
    goes_on = [faults.draw("okid", "x") for _ in range(50)]
    faults.configure(0.5, seed=9)

    assert [faults.draw("okid", "x") for _ in range(50)] == start
    assert goes_on != start


def test_nothing_is_faulted_at_0_or_in_a_sandbox_not_named() -> None:
    faults = ProviderFaults()
    assert faults.draw("jekimo", "check") is None  # off by default
    faults.configure(1.0, names=["okid"])

    assert all(faults.draw("jekimo", "check") is None for _ in range(100))
    assert faults.draw("okid", "details") is not None
    assert set(faults.counts()) == {"okid"}


@pytest.mark.parametrize(
    "settings",
    [
        {"share": 1.5},
        {"share": -0.1},
        {"share": 0.5, "kinds": {"explode": 1.0}},
        {"share": 0.5, "kinds": {"error": 0.0}},
        {"share": 0.5, "kinds": {"error": -1.0, "slow": 1.0}},
        {"share": 0.5, "hang_seconds": 61.0},
        {"share": 0.5, "slow_seconds": -1.0},
    ],
)
def test_wrong_settings_are_refused_and_change_nothing(settings: dict[str, Any]) -> None:
    faults = ProviderFaults()
    faults.configure(0.2, seed=1)

    with pytest.raises(ValueError, match=r"provider_faults|provider_kinds|seconds"):
        faults.configure(**settings)

    assert sum(faults.draw("okid", "x") is not None for _ in range(1000)) < 300


# -- only the provider's API ---------------------------------------------------------------------------------


def test_pages_unknown_paths_and_refused_methods_are_never_faulted() -> None:
    app, client = shop(only("error"))

    assert client.get("/page").status_code == 200
    assert client.post("/page").status_code == 200
    assert client.get("/elsewhere").status_code == 404
    assert client.delete("/api/items").status_code == 405
    assert app.faults.counts() == {}


def test_api_endpoints_must_name_rules() -> None:
    class Mistyped(ShopApp):
        api_endpoints = frozenset({"item", "craete"})

    with pytest.raises(ValueError, match="craete"):
        Mistyped()


API_ENDPOINTS = {
    "jekimo": {"gettoken", "check"},
    "okid": {"generate", "details", "image"},
    "datakeen": {"auth", "templates", "create", "result"},
    "faceki": {"token", "rules", "create_link", "link", "record", "reference", "summary"},
}
NOT_API = {
    "jekimo": [
        ("GET", "/app.php/v1.1/en/user/login/unknown"),
        ("POST", "/app.php/v1.1/en/user/login/unknown"),
    ],
    "okid": [("GET", "/"), ("POST", "/")],
    "datakeen": [("GET", "/client/test"), ("POST", "/client/test")],
    "faceki": [
        ("GET", "/kycverify/unknown"),
        ("POST", "/kycverify/unknown"),
        ("GET", "/sandbox/account"),
        ("POST", "/sandbox/account"),
    ],
}


@pytest.mark.parametrize("kind", SANDBOXES, ids=lambda kind: kind.name)
def test_each_sandbox_faults_its_api_and_never_its_pages_or_controls(kind: type[Sandbox]) -> None:
    calm = Client(kind.from_arguments(PUBLIC, {}))
    sandbox = kind.from_arguments(PUBLIC, {})
    sandbox.faults = only("error")
    client = Client(sandbox)

    pages = [
        (client.open(path, method=method), calm.open(path, method=method))
        for method, path in NOT_API[kind.name]
    ]

    assert kind.api_endpoints == API_ENDPOINTS[kind.name]
    assert all(page.status_code == expected.status_code < 500 for page, expected in pages)
    assert sandbox.faults.counts() == {}


def test_a_registered_sandbox_fails_its_api_calls_when_told() -> None:
    sandbox = JekimoSandbox.from_arguments(PUBLIC, {})
    sandbox.faults = only("error")
    headers = {"x-api-key": JekimoSandbox.DEV_API_KEY}

    answer = Client(sandbox).post("/app.php/v1.1/auth/gettoken", headers=headers)

    assert answer.status_code >= 500
    assert sandbox.faults.counts() == {"jekimo": {"calls": 1, "error": 1}}


# -- over a real connection, as idgate's client sees them ---------------------------------------------------


@pytest.fixture
def served() -> Iterator[tuple[ShopApp, str]]:
    app = ShopApp()
    server = BackgroundServer(app).start()
    yield app, server.url
    app.faults.close()
    server.stop()


@pytest.mark.parametrize(
    ("kind", "error"),
    [
        ("reset", requests.ConnectionError),
        ("truncated", requests.exceptions.ChunkedEncodingError),
        ("hang", requests.ReadTimeout),
    ],
)
def test_over_a_connection_each_fault_is_the_failure_a_client_sees(
    served: tuple[ShopApp, str], kind: str, error: type[Exception]
) -> None:
    app, url = served
    app.faults.configure(1.0, kinds={kind: 1.0}, hang_seconds=0.5, seed=2)

    with pytest.raises(error):
        requests.get(f"{url}/api/items/a", timeout=(1.0, 0.3))

    assert requests.get(f"{url}/page", timeout=2).status_code == 200  # the server goes on


def test_a_reset_is_a_tcp_reset_not_an_orderly_close(served: tuple[ShopApp, str]) -> None:
    app, url = served
    app.faults.configure(1.0, kinds={"reset": 1.0}, seed=2)

    with pytest.raises(requests.ConnectionError) as failure:
        requests.get(f"{url}/api/items/a", timeout=2)

    assert "reset" in str(failure.value).lower()


def test_closing_the_faults_ends_a_hang_at_once(served: tuple[ShopApp, str]) -> None:
    app, url = served
    app.faults.configure(1.0, kinds={"hang": 1.0}, hang_seconds=30.0, seed=2)
    answers: list[int] = []
    caller = threading.Thread(
        target=lambda: answers.append(requests.get(f"{url}/api/items/a", timeout=10).status_code)
    )
    caller.start()
    time.sleep(0.2)

    started = time.monotonic()
    app.faults.close()
    caller.join(5)

    assert answers == [200]
    assert time.monotonic() - started < 2
