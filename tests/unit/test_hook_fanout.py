"""The fan-out of a session's event (idgate.hooks.fanout): the payload's type, time and data, the time each
delivery is stored and queued at, a client without endpoints costing no write, and a delivery whose queuing
failed queued by the next look at its event (tests/unit/test_hook_delivery.py: the deliveries end to end)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from idgate.domain import Status
from idgate.hooks.fanout import Fanout
from idgate.hooks.model import Attempt, event_id
from idgate.hooks.store import HookStore
from tests.support.hooks import SHOP, Hooks, MemoryQueue
from tests.support.recording import Recording
from tests.unit.test_hook_delivery import URL, hooks, session

__all__ = ["hooks"]  # the fixture, shared with the end-to-end tests

SESSION_ID = "ses_abcdefghijklmnopqrstu"


def test_a_final_event_is_timed_at_its_finalization_and_an_update_at_its_change(hooks: Hooks):
    endpoint, _ = hooks.endpoints.create(
        SHOP, {"url": URL, "events": ["session.updated", "session.finalized"]}
    )
    now = hooks.clock()
    final = session(hooks).model_copy(update={"finalized_at": now, "updated_at": now + timedelta(seconds=3)})
    review = session(hooks, Status.REVIEW).model_copy(update={"updated_at": now - timedelta(minutes=1)})
    hooks.clock.advance(10)
    assert hooks.fanout.session_changed(review) == 1
    assert hooks.fanout.session_changed(final) == 1
    (updated, at_first), (finalized, at_second) = hooks.messages()
    assert (updated.occurred_at, finalized.occurred_at) == (review.updated_at, now)
    assert (at_first, at_second) == (hooks.clock(), hooks.clock())  # queued when fanned out
    assert (updated.not_before, updated.attempt, updated.series) == (hooks.clock(), 1, 1)
    stored = hooks.store.delivery(endpoint.id, now, event_id(SESSION_ID, Status.APPROVED))
    assert stored is not None
    assert (stored.created_at, stored.next_try_at, stored.enqueued) == (hooks.clock(), hooks.clock(), True)
    body = json.loads(stored.payload or "")
    assert set(body) == {"type", "timestamp", "data"}
    assert (body["type"], body["timestamp"]) == ("session.finalized", now.isoformat().replace("+00:00", "Z"))
    assert (body["data"]["id"], body["data"]["status"]) == (SESSION_ID, "approved")


def test_a_client_without_endpoints_costs_no_write(hooks: Hooks):
    assert hooks.fanout.session_changed(session(hooks)) == 0
    assert hooks.raw_items() == []


@dataclass
class FailingOnce:
    """The delivery queue, failing its second send (SQS throttled), passing the others on to `queue`."""

    queue: MemoryQueue
    sends: int = 0

    def send(self, attempt: Attempt, *, now: datetime) -> None:
        self.sends += 1
        if self.sends == 2:
            raise ConnectionError("the queue is unreachable")
        self.queue.send(attempt, now=now)


def test_a_delivery_whose_queuing_failed_is_queued_by_the_next_look_at_its_event_and_only_it(hooks: Hooks):
    hooks.endpoints.create(SHOP, {"url": URL})
    hooks.endpoints.create(SHOP, {"url": URL + "/2"})
    fanout = Fanout(hooks.store, FailingOnce(hooks.queue), clock=hooks.clock)
    with pytest.raises(ConnectionError):
        fanout.session_changed(session(hooks))  # the stream retries the record
    [(queued, _)] = hooks.messages()
    assert fanout.session_changed(session(hooks)) == 1
    [(retried, _)] = hooks.messages()
    assert {queued.endpoint_id, retried.endpoint_id} == {e.id for e in hooks.store.endpoints("shop")}
    assert fanout.session_changed(session(hooks)) == 0  # then it is fanned out: passed over
    assert hooks.messages() == []


def test_an_event_already_fanned_out_costs_one_read(hooks: Hooks):
    hooks.endpoints.create(SHOP, {"url": URL})
    requests: list[tuple[str, dict[str, Any]]] = []
    dynamodb = Recording(hooks.clients("dynamodb"), requests)
    store = HookStore(hooks.table, retention=timedelta(days=30), client=dynamodb)
    fanout = Fanout(store, hooks.queue)  # and the system's clock, in UTC
    before = datetime.now(UTC)
    assert fanout.session_changed(session(hooks)) == 1
    [(_, queued_at)] = hooks.messages()
    assert before <= queued_at <= datetime.now(UTC)
    requests.clear()
    assert fanout.session_changed(session(hooks)) == 0
    assert [operation for operation, _ in requests] == ["get_item"]
