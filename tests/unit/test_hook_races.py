"""Races of webhook deliveries: copies of one queue message taken at once (SQS delivers at least once, and a
visibility time-out can hand a message to a second consumer) send once; copies of one stream record fanned
out at once queue one try per endpoint. On moto with its writes made atomic as DynamoDB's are
(devstack.atomic_writes), so the conditional writes race as they would on AWS."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from devstack.atomic_writes import make_dynamodb_writes_atomic
from tests.support.hooks import SHOP, Hooks, boto3_region_env, hooks_on_moto
from tests.unit.test_hook_delivery import URL, Receiver, resolve, session

COPIES = 8


@pytest.fixture
def hooks(monkeypatch: pytest.MonkeyPatch) -> Iterator[Hooks]:
    make_dynamodb_writes_atomic()
    boto3_region_env(monkeypatch)
    with hooks_on_moto() as made:
        yield made


def at_once(work: Callable[[], Any], copies: int = COPIES) -> list[Any]:
    """`work` in `copies` threads released together, switching as often as the interpreter allows."""
    start = threading.Barrier(copies)
    answers: list[Any] = []
    lock = threading.Lock()

    def run() -> None:
        start.wait()
        answer = work()
        with lock:
            answers.append(answer)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=run) for _ in range(copies)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        sys.setswitchinterval(interval)
    assert len(answers) == copies, "a copy did not finish"
    return answers


def test_copies_of_one_message_taken_at_once_send_once(hooks: Hooks):
    hooks.endpoints.create(SHOP, {"url": URL})
    hooks.fanout.session_changed(session(hooks))
    [(message, _)] = hooks.messages()
    receiver = Receiver()
    deliverer = hooks.deliverer(post=receiver, resolve=resolve)

    outcomes = at_once(lambda: deliverer.handle(message))

    # One copy sends; the others find the try being taken ("taken") or done ("stale").
    assert outcomes.count("succeeded") == 1
    assert set(outcomes) <= {"succeeded", "taken", "stale"}
    assert len(receiver.sent) == 1


def test_copies_of_one_stream_record_fanned_out_at_once_send_once_to_each_endpoint(hooks: Hooks):
    hooks.endpoints.create(SHOP, {"url": URL})
    hooks.endpoints.create(SHOP, {"url": URL + "/2"})

    at_once(lambda: hooks.fanout.session_changed(session(hooks)))

    # Copies that raced past the fan-out's own check may queue a try twice (the queue is at-least-once
    # anyway); the try itself is taken once, so each endpoint gets the event once.
    messages = [message for message, _ in hooks.messages()]
    assert {(message.endpoint_id, message.attempt) for message in messages} == {
        (endpoint.id, 1) for endpoint in hooks.store.endpoints(SHOP.client_id)
    }
    receiver = Receiver()
    deliverer = hooks.deliverer(post=receiver, resolve=resolve)
    pending = iter(messages * 2)  # and every message twice, at once
    lock = threading.Lock()

    def deliver_next() -> str:
        with lock:
            message = next(pending)
        return str(deliverer.handle(message))

    outcomes = at_once(deliver_next, copies=len(messages) * 2)
    assert outcomes.count("succeeded") == 2
    assert sorted(target.path for target, _, _ in receiver.sent) == ["/idgate", "/idgate/2"]
