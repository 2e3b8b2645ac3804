"""Webhook endpoints (idgate.hooks.endpoints) beyond the rules of registration: a new endpoint's id and
description, listed in the order they were made, a rotation answering the endpoint with both secrets, and a
replay: of more than a page of deliveries, queued at its time, and going on past a delivery another replay
restarted first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from idgate.errors import NotFound
from idgate.hooks.endpoints import WebhookEndpoints
from idgate.hooks.model import Delivery
from idgate.hooks.store import HookStore
from tests.support.hooks import SHOP, Hooks
from tests.support.recording import Recording
from tests.unit.test_hook_delivery import URL, hooks, session

__all__ = ["hooks"]  # the fixture, shared with the end-to-end tests


def test_a_new_endpoint_has_an_id_of_144_random_bits_and_keeps_its_description(hooks: Hooks):
    endpoint, _ = hooks.endpoints.create(SHOP, {"url": URL, "description": "orders"})
    assert endpoint.id.startswith("we_")
    assert len(endpoint.id) == len("we_") + 24  # 18 bytes, URL-safe base64
    stored = hooks.store.endpoint("shop", endpoint.id)
    assert stored is not None
    assert (endpoint.description, stored.description) == ("orders", "orders")


def test_endpoints_are_listed_in_the_order_they_were_made(hooks: Hooks):
    made = []
    for n in range(8):  # ids are random: the store's order is theirs
        made.append(hooks.endpoints.create(SHOP, {"url": f"{URL}/{n}"})[0].id)
        hooks.clock.advance(1)
    assert [endpoint.id for endpoint in hooks.endpoints.all(SHOP)] == made


def test_a_rotation_answers_the_endpoint_with_the_secret_it_retires_and_the_new_one(hooks: Hooks):
    endpoint, _ = hooks.endpoints.create(SHOP, {"url": URL})
    rotated, _ = hooks.endpoints.rotate(SHOP, endpoint.id)
    stored = hooks.store.endpoint("shop", endpoint.id)
    assert stored is not None
    assert rotated.secrets == stored.secrets
    assert [secret.retires_at for secret in rotated.secrets] == [hooks.clock() + timedelta(hours=24), None]


def test_a_replay_resends_more_than_a_page_of_deliveries_each_queued_at_its_time(hooks: Hooks):
    endpoint, _ = hooks.endpoints.create(SHOP, {"url": URL})
    for n in range(51):  # a listing's page is 50
        hooks.fanout.session_changed(session(hooks).model_copy(update={"id": f"ses_{n:021d}"}))
    hooks.messages()
    # listed a page at a time: 50, or the limit asked for
    assert len(hooks.endpoints.deliveries(SHOP, endpoint.id)) == 50
    assert len(hooks.endpoints.delivery_page(SHOP, endpoint.id, limit="10")[0]) == 10
    hooks.clock.advance(60)
    assert hooks.endpoints.replay(SHOP, endpoint.id, {"since": "2020-01-01T00:00:00Z"}) == 51
    replayed = hooks.messages()
    assert len(replayed) == 51
    assert {(m.series, m.attempt, m.not_before, sent_at) for m, sent_at in replayed} == {
        (2, 1, hooks.clock(), hooks.clock())
    }


class RacedStore(HookStore):
    """The store, where another replay restarts the first delivery this one restarts, just before it."""

    raced = False

    def restart(self, delivery: Delivery, *, next_try_at: datetime) -> int | None:
        if not self.raced:
            self.raced = True
            super().restart(delivery, next_try_at=next_try_at)
        return super().restart(delivery, next_try_at=next_try_at)


def test_a_replay_goes_on_past_a_delivery_another_replay_restarted(hooks: Hooks):
    endpoint, _ = hooks.endpoints.create(SHOP, {"url": URL})
    for n in range(3):
        hooks.fanout.session_changed(session(hooks).model_copy(update={"id": f"ses_{n:021d}"}))
    hooks.messages()
    store = RacedStore(hooks.table, retention=timedelta(days=30), client=hooks.clients("dynamodb"))
    endpoints = WebhookEndpoints(store=store, sealer=hooks.endpoints.sealer, queue=hooks.queue)
    before = datetime.now(UTC)  # and the system's clock, in UTC
    assert endpoints.replay(SHOP, endpoint.id, {"since": "2020-01-01T00:00:00Z"}) == 2
    replayed = hooks.messages()
    assert len(replayed) == 2
    assert all(before <= sent_at <= datetime.now(UTC) for _, sent_at in replayed)


def test_an_id_that_is_no_endpoint_id_is_a_404_without_asking_the_table(hooks: Hooks):
    # DynamoDB refuses a key over 1,024 bytes (a 500, where moto answers nothing): such an id is not sent
    requests: list[tuple[str, dict[str, Any]]] = []
    store = HookStore(
        hooks.table, retention=timedelta(days=30), client=Recording(hooks.clients("dynamodb"), requests)
    )
    endpoints = WebhookEndpoints(
        store=store, sealer=hooks.endpoints.sealer, queue=hooks.queue, clock=hooks.clock
    )
    for malformed in ("we_" + "a" * 2100, "../etc"):
        for act in (endpoints.rotate, endpoints.deliveries, endpoints.delete):
            with pytest.raises(NotFound) as refused:
                act(SHOP, malformed)
            assert refused.value.code == "webhook_endpoint_not_found"
    assert requests == []
