"""What a delivery's try records and when it runs (idgate.hooks.delivery): a message early by a second at most
is tried, a deleted endpoint's delivery is failed and says why, a failed try records its next one and marks
the endpoint failing from then, the last try records its own outcome, and an endpoint is disabled once it has
failed for 5 days exactly. tests/unit/test_hook_delivery.py has the deliveries end to end."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from werkzeug.wrappers import Response

from idgate.hooks.delivery import Deliverer
from idgate.hooks.model import DISABLE_AFTER, RETRY_SCHEDULE_SECONDS, DeliveryStatus, EndpointStatus
from idgate.hooks.sealing import KmsSealer
from tests.support.hooks import SHOP, Hooks
from tests.support.http_server import scripted_server
from tests.unit.test_hook_delivery import URL, Receiver, hooks, resolve, session

__all__ = ["hooks"]  # the fixture, shared with the end-to-end tests


def first_try(hooks: Hooks):  # type: ignore[no-untyped-def]
    endpoint, _ = hooks.endpoints.create(SHOP, {"url": URL})
    hooks.fanout.session_changed(session(hooks))
    [(message, _)] = hooks.messages()
    return endpoint, message


def test_a_message_early_by_a_second_at_most_is_tried_and_one_earlier_is_sent_on_as_it_is(hooks: Hooks):
    _, message = first_try(hooks)
    deliverer = hooks.deliverer(post=Receiver(), resolve=resolve)
    hooks.clock.now = message.not_before - timedelta(seconds=2)
    assert deliverer.handle(message) == "not_due"
    assert hooks.messages() == [(message, hooks.clock())]
    hooks.clock.now = message.not_before - timedelta(seconds=1)
    assert deliverer.handle(message) == "succeeded"


def test_the_delivery_of_a_deleted_endpoint_is_failed_and_says_why(hooks: Hooks):
    endpoint, message = first_try(hooks)
    hooks.endpoints.delete(SHOP, endpoint.id)
    receiver = Receiver()
    assert hooks.deliverer(post=receiver, resolve=resolve).handle(message) == "endpoint_deleted"
    assert receiver.sent == []
    delivery = hooks.store.delivery(endpoint.id, message.occurred_at, message.event_id)
    assert delivery is not None
    assert (delivery.status, delivery.last_error, delivery.done_attempts) == (
        DeliveryStatus.FAILED,
        "endpoint_deleted",
        1,
    )


def test_a_failed_try_queues_and_records_the_next_one_and_marks_the_endpoint_failing_until_one_succeeds(
    hooks: Hooks,
):
    endpoint, message = first_try(hooks)
    deliverer = hooks.deliverer(post=Receiver(statuses=[500]), resolve=resolve)
    failed_at = hooks.clock()
    assert deliverer.handle(message) == "retrying"
    [(following, sent_at)] = hooks.messages()
    due = failed_at + timedelta(seconds=RETRY_SCHEDULE_SECONDS[1])
    assert (following.attempt, following.not_before, sent_at) == (2, due, failed_at)
    [delivery] = hooks.endpoints.deliveries(SHOP, endpoint.id)
    assert (delivery.status, delivery.next_try_at) == (DeliveryStatus.PENDING, due)
    assert (delivery.last_status_code, delivery.last_latency_ms, delivery.done_attempts) == (500, 12, 1)
    stored = hooks.store.endpoint("shop", endpoint.id)
    assert stored is not None
    assert (stored.status, stored.failing_since) == (EndpointStatus.ENABLED, failed_at)
    # a second failure keeps the mark of the first
    hooks.clock.now = due
    assert deliverer.handle(following) == "retrying"
    stored = hooks.store.endpoint("shop", endpoint.id)
    assert stored is not None
    assert stored.failing_since == failed_at
    # and an acknowledged try clears it
    [(third, _)] = hooks.messages()
    hooks.clock.now = third.not_before
    assert hooks.deliverer(post=Receiver(), resolve=resolve).handle(third) == "succeeded"
    stored = hooks.store.endpoint("shop", endpoint.id)
    assert stored is not None
    assert (stored.status, stored.failing_since) == (EndpointStatus.ENABLED, None)


def test_a_refused_address_is_a_failed_try_that_took_no_time(hooks: Hooks):
    endpoint, _ = hooks.endpoints.create(SHOP, {"url": "https://internal.shop.example/hooks"})
    hooks.fanout.session_changed(session(hooks))
    [(message, _)] = hooks.messages()
    assert hooks.deliverer(post=Receiver(), resolve=resolve).handle(message) == "retrying"
    [delivery] = hooks.endpoints.deliveries(SHOP, endpoint.id)
    assert (delivery.last_error, delivery.last_status_code, delivery.last_latency_ms) == (
        "webhook_address_not_allowed",
        None,
        0,
    )


def test_after_failing_for_5_days_exactly_the_last_try_disables_the_endpoint_and_records_its_outcome(
    hooks: Hooks,
):
    endpoint, message = first_try(hooks)
    last_try_at = hooks.clock() + timedelta(seconds=sum(RETRY_SCHEDULE_SECONDS))
    failing_since = last_try_at - DISABLE_AFTER
    hooks.store.set_health("shop", endpoint.id, EndpointStatus.FAILING, failing_since)
    # every try answered 500, but the last one, which got no answer
    receiver = Receiver(statuses=[500] * (len(RETRY_SCHEDULE_SECONDS) - 1) + [None])
    deliverer = hooks.deliverer(post=receiver, resolve=resolve)
    while (outcome := deliverer.handle(message)) == "retrying":
        [(message, _)] = hooks.messages()
        hooks.clock.now = message.not_before
    assert outcome == "dead_lettered"
    assert hooks.clock() == last_try_at
    stored = hooks.store.endpoint("shop", endpoint.id)
    assert stored is not None
    assert (stored.status, stored.failing_since) == (EndpointStatus.DISABLED, failing_since)
    [delivery] = hooks.endpoints.deliveries(SHOP, endpoint.id)
    assert (delivery.status, delivery.last_status_code, delivery.last_error) == (
        DeliveryStatus.FAILED,
        None,
        "timeout",
    )


def test_by_default_a_try_runs_on_the_utc_clock_and_is_posted_for_real(hooks: Hooks):
    # The local stack's case: http to loopback allowed, the system's resolver and clock, a real POST
    hooks.endpoints.allow_insecure_urls = True
    with scripted_server(lambda _request: Response("", status=204)) as server:
        hooks.endpoints.create(SHOP, {"url": f"{server.url}/in"})
        hooks.fanout.session_changed(session(hooks))
        [(message, _)] = hooks.messages()
        sealer = KmsSealer(hooks.endpoints.sealer._key_id, client=hooks.clients)  # type: ignore[attr-defined]
        deliverer = Deliverer(store=hooks.store, unsealer=sealer, queue=hooks.queue, allow_insecure_urls=True)
        before = datetime.now(UTC)
        assert deliverer.handle(message) == "succeeded"
    [request] = server.requests
    assert (request.method, request.path, request.headers["webhook-id"]) == ("POST", "/in", message.event_id)
    assert json.loads(request.body)["data"]["id"] == "ses_abcdefghijklmnopqrstu"
    signed_at = datetime.fromtimestamp(int(request.headers["webhook-timestamp"]), UTC)
    assert before - timedelta(seconds=1) <= signed_at <= datetime.now(UTC)


def test_the_delivery_of_an_endpoint_disabled_since_it_was_queued_is_failed_and_says_why(hooks: Hooks):
    endpoint, message = first_try(hooks)
    hooks.store.set_health("shop", endpoint.id, EndpointStatus.DISABLED, hooks.clock())
    receiver = Receiver()
    assert hooks.deliverer(post=receiver, resolve=resolve).handle(message) == "endpoint_disabled"
    assert receiver.sent == []
    [delivery] = hooks.endpoints.deliveries(SHOP, endpoint.id)
    assert (delivery.status, delivery.last_error, delivery.done_attempts) == (
        DeliveryStatus.FAILED,
        "endpoint_disabled",
        1,
    )


def test_an_acknowledged_try_records_its_status_code_and_latency(hooks: Hooks):
    endpoint, message = first_try(hooks)
    assert hooks.deliverer(post=Receiver(statuses=[202]), resolve=resolve).handle(message) == "succeeded"
    [delivery] = hooks.endpoints.deliveries(SHOP, endpoint.id)
    assert (delivery.status, delivery.last_status_code, delivery.last_latency_ms, delivery.last_error) == (
        DeliveryStatus.SUCCEEDED,
        202,
        12,
        None,
    )
