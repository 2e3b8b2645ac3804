"""Routing a check through the local stack: with Jekimo's sandbox down, an age check goes to Datakeen and its
verdict says `min_age_verified`; Jekimo's failed tries are told in the session, a breaker skips it for its
cool-down, and age checks go back to Jekimo once it is up again and the cool-down is over."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.e2e.client import Api, act_as_user
from tests.e2e.stack import RunningStack

pytestmark = pytest.mark.e2e

AGE_CHECK = {"provider": "auto", "check": "age", "reference": "order-any", "options": {"min_age": 18}}
COOLDOWN = 4  # the stack's --provider-cooldown (tests/e2e/client.py FAST)


def set_down(stack: RunningStack, *names: str) -> None:
    answer = requests.post(f"{stack.api}/_devstack/faults", json={"providers_down": list(names)}, timeout=10)
    assert answer.status_code == 200, answer.text


@pytest.fixture(autouse=True)
def default_policy(api: Api) -> Iterator[None]:
    """Each test starts on the deployment's policy: other tests of the shared stack (the fuzzer's PUTs of
    /v1/routing) may have left the dev client one of its own."""
    reset = api.call("PUT", "/v1/routing", json={}, key=api.secret_key)
    assert reset.status_code == 200, reset.text
    yield
    api.call("PUT", "/v1/routing", json={}, key=api.secret_key)


@pytest.fixture
def jekimo_down(stack: RunningStack) -> Iterator[None]:
    set_down(stack, "jekimo")
    yield
    set_down(stack)


def routing_of(created: dict[str, Any], api: Api) -> dict[str, Any]:
    answer = api.get(created["id"], key=api.secret_key)
    assert answer.status_code == 200, answer.text
    routing: dict[str, Any] = answer.json()["routing"]
    return routing


def test_with_jekimo_down_an_age_check_goes_to_datakeen_and_back_to_jekimo_after_the_cool_down(
    api: Api, stack: RunningStack, jekimo_down: None
) -> None:
    created = api.create(AGE_CHECK)
    assert created["provider"] == "datakeen"
    routing = routing_of(created, api)
    assert routing["check"] == "age"
    assert routing["chosen"] == "datakeen"
    assert [attempt["provider"] for attempt in routing["tried"]] == ["jekimo"]
    assert routing["tried"][0]["reason"] in ("provider_unreachable", "provider_bad_response")
    act_as_user(created["verification_url"], {"outcome": "approved", "birth_date": "1990-05-01"})
    approved = api.wait_for_status(created["id"], "approved", timeout=10)
    assert approved["result"]["data"] == {"min_age_verified": 18}
    assert approved["routing"] == routing

    # Two more failed starts open Jekimo's breaker: the next check does not even ask it.
    for _ in range(2):
        assert api.create(AGE_CHECK)["provider"] == "datakeen"
    # (The sandbox's count of refused calls cannot show it: earlier Jekimo sessions are still followed.)
    skipped = api.create(AGE_CHECK)
    assert routing_of(skipped, api)["tried"] == [{"provider": "jekimo", "reason": "circuit_open"}]

    # Jekimo is up again: while the cool-down lasts it is still skipped, then age checks go to it again.
    set_down(stack)
    deadline = time.monotonic() + COOLDOWN + 3
    while True:
        created = api.create(AGE_CHECK)
        if created["provider"] == "jekimo":
            break
        assert routing_of(created, api)["tried"] == [{"provider": "jekimo", "reason": "circuit_open"}]
        assert time.monotonic() < deadline, "Jekimo was not tried again after its cool-down"
        time.sleep(0.5)
    assert routing_of(created, api) == {"check": "age", "tried": [], "chosen": "jekimo"}
    assert api.create(AGE_CHECK)["provider"] == "jekimo"


def test_when_every_provider_of_the_check_is_down_the_answer_is_502_with_the_tries(
    api: Api, stack: RunningStack
) -> None:
    set_down(stack, "datakeen", "faceki", "okid")
    try:
        answer = api.call(
            "POST",
            "/v1/sessions",
            key=api.secret_key,
            json={"provider": "auto", "check": "identity"},
            provider_refusal=True,
        )
    finally:
        set_down(stack)
    assert answer.status_code == 502, answer.text
    error = answer.json()["error"]
    assert error["code"] == "no_provider_available"
    assert [attempt["provider"] for attempt in error["tried"]] == ["datakeen", "faceki", "okid"]


def test_a_client_routes_its_own_checks(api: Api) -> None:
    try:
        put = api.call("PUT", "/v1/routing", json={"age": ["datakeen", "jekimo"]}, key=api.secret_key)
        assert put.status_code == 200, put.text
        assert put.json()["policy"]["age"] == ["datakeen", "jekimo"]
        assert api.create(AGE_CHECK)["provider"] == "datakeen"
        wrong = api.call("PUT", "/v1/routing", json={"identity": ["jekimo"]}, key=api.secret_key)
        assert (wrong.status_code, wrong.json()["error"]["code"]) == (422, "provider_cannot_check")
        refused = api.call("PUT", "/v1/routing", json={}, key=api.publishable_key)
        assert (refused.status_code, refused.json()["error"]["code"]) == (403, "secret_key_required")
    finally:
        api.call("PUT", "/v1/routing", json={}, key=api.secret_key)
    assert api.create(AGE_CHECK)["provider"] == "jekimo"
