"""Handlers load from their CodeUri and run in-process as Lambda would run them."""

from __future__ import annotations

import decimal
import json
import os
import sys
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from devstack.lambdas import (
    LambdaContext,
    Lambdas,
    MarshalError,
    apply_environment,
    function_environment,
    restore_environment,
)
from devstack.template import Function


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))


def function(tmp_path: Path, logical_id: str, handler: str = "app.handler", **env: str) -> Function:
    arn = f"arn:aws:lambda:us-east-1:123456789012:function:{logical_id}"
    return Function(
        logical_id, logical_id, arn, tmp_path / logical_id.lower(), handler, env, timeout=20, memory_size=256
    )


@pytest.fixture
def isolated_imports(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lambdas puts layers on sys.path for good; the tests give it back."""
    monkeypatch.setattr(sys, "path", list(sys.path))


@pytest.mark.usefixtures("isolated_imports")
def test_each_function_loads_its_own_module_with_siblings_and_layers(tmp_path: Path) -> None:
    write(tmp_path / "layer" / "devstack_test_layer" / "__init__.py", "GREETING = 'hello'\n")
    write(
        tmp_path / "first" / "app.py",
        """
        from devstack_test_layer import GREETING
        import first_helpers
        def handler(event, context):
            return f"{GREETING} {first_helpers.NAME} {event['n']}"
    """,
    )
    write(tmp_path / "first" / "first_helpers.py", "NAME = 'first'\n")
    write(tmp_path / "second" / "app.py", "def handler(event, context):\n    return 'second'\n")
    lambdas = Lambdas(
        {"First": function(tmp_path, "First"), "Second": function(tmp_path, "Second")},
        layers=[tmp_path / "layer"],
    )

    results = lambdas.invoke("First", {"n": 1}), lambdas.invoke("Second", {})

    assert results == ("hello first 1", "second")
    assert sys.modules["devstack_fn_First"] is not sys.modules["devstack_fn_Second"]


@pytest.mark.usefixtures("isolated_imports")
def test_the_context_satisfies_powertools(tmp_path: Path) -> None:
    write(
        tmp_path / "logged" / "app.py",
        """
        from aws_lambda_powertools import Logger
        logger = Logger(service="test")
        @logger.inject_lambda_context(clear_state=True)
        def handler(event, context):
            return {"name": context.function_name, "remaining": context.get_remaining_time_in_millis(),
                    "arn": context.invoked_function_arn, "request": context.aws_request_id}
    """,
    )
    lambdas = Lambdas({"Logged": function(tmp_path, "Logged")})

    result = lambdas.invoke("Logged", {})

    assert result["name"] == "Logged"
    assert result["arn"].endswith(":function:Logged")
    assert 0 < result["remaining"] <= 20_000
    assert result["request"]


def test_a_context_counts_down_from_the_function_timeout() -> None:
    context = LambdaContext("F", "arn", timeout_seconds=3)

    assert 2_900 < context.get_remaining_time_in_millis() <= 3_000
    assert context.log_group_name == "/aws/lambda/F"


def test_results_come_back_as_json_as_lambda_serializes_them() -> None:
    lambdas = Lambdas()
    lambdas.register("F", lambda event, context: {"n": decimal.Decimal("2.5"), "t": (1, 2)})

    assert lambdas.invoke("F", {}) == {"n": 2.5, "t": [1, 2]}


def test_the_handler_gets_its_own_copy_of_the_event() -> None:
    lambdas = Lambdas()
    lambdas.register("F", lambda event, context: event.update(changed=True))
    event: dict[str, Any] = {"a": 1}

    lambdas.invoke("F", event)

    assert event == {"a": 1}


def test_a_result_that_is_not_json_fails_like_lambda() -> None:
    lambdas = Lambdas()
    lambdas.register("F", lambda event, context: {"when": object()})

    with pytest.raises(MarshalError):
        lambdas.invoke("F", {})


def test_a_module_without_the_handler_fails_to_load(tmp_path: Path) -> None:
    write(tmp_path / "empty" / "app.py", "")
    lambdas = Lambdas({"Empty": function(tmp_path, "Empty")})

    with pytest.raises(ImportError, match="handler"):
        lambdas.load_all()


def test_the_environment_is_every_functions_plus_the_local_endpoint_and_overrides(tmp_path: Path) -> None:
    functions = [
        function(tmp_path, "A", SHARED="1", ONLY_A="a"),
        function(tmp_path, "B", SHARED="1", ONLY_B="b"),
    ]

    env = function_environment(functions, "http://127.0.0.1:9999", {"ONLY_B": "override"})

    assert {k: env[k] for k in ("SHARED", "ONLY_A", "ONLY_B")} == {
        "SHARED": "1",
        "ONLY_A": "a",
        "ONLY_B": "override",
    }
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:9999"
    assert env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["POWERTOOLS_TRACE_DISABLED"] == "true"
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == "idgate"
    assert env["AWS_ACCESS_KEY_ID"]
    assert env["AWS_SECRET_ACCESS_KEY"]


def test_applying_an_environment_can_be_undone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEVSTACK_TEST_OLD", "before")
    monkeypatch.delenv("DEVSTACK_TEST_NEW", raising=False)

    previous = apply_environment({"DEVSTACK_TEST_OLD": "after", "DEVSTACK_TEST_NEW": "x"})
    applied = os.environ["DEVSTACK_TEST_OLD"], os.environ["DEVSTACK_TEST_NEW"]
    restore_environment(previous)

    assert applied == ("after", "x")
    assert os.environ["DEVSTACK_TEST_OLD"] == "before"
    assert "DEVSTACK_TEST_NEW" not in os.environ


# ---- concurrency ------------------------------------------------------------------------------------------


def invoke_all(lambdas: Lambdas, calls: list[tuple[str, Any]]) -> list[Any]:
    """Invokes every (function, event) from its own thread, all at once, as concurrent requests do."""
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(lambda call: lambdas.invoke(*call), calls))


def test_invocations_of_one_function_run_at_once_up_to_the_concurrency() -> None:
    # Given a function whose invocations meet in threes (a lone one would wait in vain) and count themselves
    lambdas = Lambdas(concurrency=3)
    meeting = threading.Barrier(3, timeout=5)
    lock = threading.Lock()
    running, most = [0], [0]

    def handler(event: Any, context: Any) -> str:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        meeting.wait()
        time.sleep(0.05)  # a fourth one, were it let in, would be seen running
        with lock:
            running[0] -= 1
        return "ok"

    lambdas.register("F", handler)

    # When nine invocations are made at once
    results = invoke_all(lambdas, [("F", {})] * 9)

    # Then they all ran, three at a time and never more
    assert results == ["ok"] * 9
    assert most[0] == 3


def test_a_busy_function_starts_a_new_environment_with_its_own_module_state(tmp_path: Path) -> None:
    # Given a handler module with module-level state, and two invocations that must overlap
    write(
        tmp_path / "stateful" / "app.py",
        """
        import devstack_test_meeting
        SEEN = []
        def handler(event, context):
            SEEN.append(event["n"])
            if event.get("meet"):
                devstack_test_meeting.POINT.wait()
            return {"module": __name__, "seen": list(SEEN)}
    """,
    )
    # A sibling module is imported once for the process, so both environments meet at the same barrier.
    write(
        tmp_path / "stateful" / "devstack_test_meeting.py",
        "import threading\nPOINT = threading.Barrier(2, timeout=5)\n",
    )
    lambdas = Lambdas({"Stateful": function(tmp_path, "Stateful")}, concurrency=2)
    lambdas.load_all()

    # When two invocations run at once, then one more runs alone
    together = invoke_all(
        lambdas, [("Stateful", {"n": 1, "meet": True}), ("Stateful", {"n": 2, "meet": True})]
    )
    later = lambdas.invoke("Stateful", {"n": 3})

    # Then each ran in an environment of its own (its own module), and the next reused a warm one
    assert {r["module"] for r in together} == {"devstack_fn_Stateful", "devstack_fn_Stateful_2"}
    assert [r["seen"] for r in together] in ([[1], [2]], [[2], [1]])
    assert lambdas.environments("Stateful").started == 2
    assert later["seen"] in ([1, 3], [2, 3])


def test_concurrent_requests_each_see_their_own_event_in_powertools_resolvers(tmp_path: Path) -> None:
    # Given two functions built on Powertools' HTTP resolver, which keeps the current request in a class
    # attribute shared by every resolver of the process
    for name in ("first", "second"):
        write(
            tmp_path / name / "app.py",
            """
            import time
            from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
            app = APIGatewayHttpResolver()
            @app.get("/items/<item>")
            def item(item):
                time.sleep(0.01)  # long enough for another request to start meanwhile
                return {"item": item, "path": app.current_event.raw_path,
                        "request": app.lambda_context.aws_request_id}
            def handler(event, context):
                return {**app.resolve(event, context), "request": context.aws_request_id}
        """,
        )
    lambdas = Lambdas({n: function(tmp_path, n) for n in ("First", "Second")}, concurrency=5)

    def request(n: int) -> dict[str, Any]:
        path = f"/items/{n}"
        return {
            "version": "2.0",
            "routeKey": "GET /items/{item}",
            "rawPath": path,
            "rawQueryString": "",
            "headers": {},
            "requestContext": {"http": {"method": "GET", "path": path}, "stage": "$default"},
            "isBase64Encoded": False,
        }

    # When 40 requests to both run at once
    calls = [("First" if n % 2 else "Second", request(n)) for n in range(40)]
    results = invoke_all(lambdas, calls)

    # Then each answer is about its own request and its own invocation
    for n, result in enumerate(results):
        body = json.loads(result["body"])
        assert (body["item"], body["path"], body["request"]) == (str(n), f"/items/{n}", result["request"])
