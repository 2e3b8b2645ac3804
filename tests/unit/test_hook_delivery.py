"""From a session's event to acknowledged deliveries: one delivery per subscribed endpoint of the session's
client, each try taken once (however many copies of its message arrive), signed, retried on the schedule
through the queue, and after the last try a dead letter and the endpoint failing, then disabled after 5 days
of failures."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from standardwebhooks import Webhook

from idgate.domain import Result, Session, Status
from idgate.hooks.model import RETRY_SCHEDULE_SECONDS, Attempt, DeliveryStatus, EndpointStatus, event_id
from idgate.hooks.queue import DeliveryQueue
from idgate.hooks.transport import Outcome
from idgate.hooks.urls import Target
from tests.support.hooks import SHOP, Hooks, boto3_region_env, hooks_on_moto

URL = "https://hooks.shop.example/idgate"
PUBLIC = {"hooks.shop.example": ["93.184.216.34"], "internal.shop.example": ["10.1.2.3"]}


@dataclass
class Receiver:
    """Stands for the network: records what would be sent, answers the scripted status codes."""

    statuses: list[int | None] = field(default_factory=lambda: [200])
    sent: list[tuple[Target, dict[str, str], bytes]] = field(default_factory=list)

    def __call__(self, target: Target, headers: Mapping[str, str], body: bytes) -> Outcome:
        self.sent.append((target, dict(headers), body))
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        return Outcome(status, 12, None if status else "timeout")


@pytest.fixture
def hooks(monkeypatch: pytest.MonkeyPatch) -> Iterator[Hooks]:
    boto3_region_env(monkeypatch)
    with hooks_on_moto() as made:
        yield made


def session(hooks: Hooks, status: Status = Status.APPROVED, client_id: str = "shop") -> Session:
    now = hooks.clock()
    final = status.is_final
    return Session(
        id="ses_abcdefghijklmnopqrstu",
        client_id=client_id,
        provider="jekimo",
        status=status,
        client_secret_hash="x" * 64,
        verification_url="https://verify.example/x",
        created_at=now,
        updated_at=now,
        expires_at=now + timedelta(minutes=2),
        finalized_at=now if final else None,
        result=Result(decision=status) if final else None,
    )


def resolve(host: str, port: int) -> list[str]:
    return PUBLIC[host]


def test_a_final_session_becomes_one_signed_delivery_per_subscribed_endpoint(hooks: Hooks):
    # Given two endpoints of the shop for finalized sessions, one for updates only, and another client's
    endpoint, secret = hooks.endpoints.create(SHOP, {"url": URL})
    second, _ = hooks.endpoints.create(SHOP, {"url": URL + "/2"})
    hooks.endpoints.create(SHOP, {"url": URL + "/3", "events": ["session.updated"]})
    hooks.endpoints.create(SHOP.model_copy(update={"client_id": "other"}), {"url": URL})

    # When the session's final status is seen, twice (the stream delivers at least once)
    assert hooks.fanout.session_changed(session(hooks)) == 2
    assert hooks.fanout.session_changed(session(hooks)) == 0

    # Then each finalized subscriber of the shop has one try queued, and a try sends it signed
    messages = [m for m, _ in hooks.messages()]
    assert sorted(m.endpoint_id for m in messages) == sorted([endpoint.id, second.id])
    receiver = Receiver()
    deliverer = hooks.deliverer(post=receiver, resolve=resolve)
    assert [deliverer.handle(m) for m in messages] == ["succeeded", "succeeded"]
    target, headers, body = next(s for s in receiver.sent if s[0].path == "/idgate")
    assert target.address == "93.184.216.34"
    payload = Webhook(secret).verify(body, headers)
    assert payload["type"] == "session.finalized"
    assert payload["data"]["id"] == "ses_abcdefghijklmnopqrstu"
    assert payload["data"]["status"] == "approved"
    assert headers["webhook-id"] == event_id("ses_abcdefghijklmnopqrstu", Status.APPROVED)


def test_a_non_final_change_is_session_updated_for_its_subscribers_only(hooks: Hooks):
    hooks.endpoints.create(SHOP, {"url": URL})
    updates, _ = hooks.endpoints.create(SHOP, {"url": URL, "events": ["session.updated"]})
    assert hooks.fanout.session_changed(session(hooks, Status.PENDING)) == 0  # creation is no change
    assert hooks.fanout.session_changed(session(hooks, Status.REVIEW)) == 1
    [(message, _)] = hooks.messages()
    assert message.endpoint_id == updates.id
    receiver = Receiver()
    hooks.deliverer(post=receiver, resolve=resolve).handle(message)
    assert json.loads(receiver.sent[0][2])["type"] == "session.updated"


def test_a_duplicate_message_does_not_send_twice(hooks: Hooks):
    hooks.endpoints.create(SHOP, {"url": URL})
    hooks.fanout.session_changed(session(hooks))
    [(message, _)] = hooks.messages()
    receiver = Receiver()
    deliverer = hooks.deliverer(post=receiver, resolve=resolve)
    assert deliverer.handle(message) == "succeeded"
    assert deliverer.handle(message) == "stale"
    assert len(receiver.sent) == 1


def test_a_failed_try_is_retried_on_the_schedule_then_dead_lettered_and_the_endpoint_marked_failing(
    hooks: Hooks,
):
    endpoint, _ = hooks.endpoints.create(SHOP, {"url": URL})
    hooks.fanout.session_changed(session(hooks))
    receiver = Receiver(statuses=[500, None, 404, 302, 503, 500, 500, 500])
    deliverer = hooks.deliverer(post=receiver, resolve=resolve)
    pauses = []
    [(message, _)] = hooks.messages()
    while True:
        outcome = deliverer.handle(message)
        if outcome == "dead_lettered":
            break
        assert outcome == "retrying"
        [(message, _)] = hooks.messages()
        pauses.append((message.not_before - hooks.clock()).total_seconds())
        # a message that comes early (SQS delays 15 minutes at most) is sent on, not tried
        if pauses[-1] > 1:
            assert deliverer.handle(message) == "not_due"
            [(message, _)] = hooks.messages()
        hooks.clock.now = message.not_before
    # Then the tries followed the schedule, all with the same webhook-id
    assert pauses == [float(s) for s in RETRY_SCHEDULE_SECONDS[1:]]
    assert len(receiver.sent) == len(RETRY_SCHEDULE_SECONDS) == 8
    assert len({headers["webhook-id"] for _, headers, _ in receiver.sent}) == 1
    # and the series is in the dead-letter queue, the delivery failed, the endpoint failing (not yet disabled)
    assert [m.event_id for m in hooks.queue.dead_letters] == [message.event_id]
    [delivery] = hooks.endpoints.deliveries(SHOP, endpoint.id)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (DeliveryStatus.FAILED, 8, 500)
    stored = hooks.store.endpoint("shop", endpoint.id)
    assert stored is not None
    assert stored.status is EndpointStatus.FAILING


def test_the_backoff_scale_shortens_the_schedule(hooks: Hooks):
    hooks.endpoints.create(SHOP, {"url": URL})
    hooks.fanout.session_changed(session(hooks))
    deliverer = hooks.deliverer(post=Receiver(statuses=[500]), resolve=resolve, backoff_scale=0.01)
    [(message, _)] = hooks.messages()
    deliverer.handle(message)  # the first try, then 0.05 s
    [(message, _)] = hooks.messages()
    hooks.clock.now = message.not_before
    deliverer.handle(message)
    [(message, _)] = hooks.messages()
    assert (message.not_before - hooks.clock()).total_seconds() == pytest.approx(3.0)


def test_an_endpoint_failing_for_5_days_is_disabled_and_gets_no_new_deliveries(hooks: Hooks):
    endpoint, _ = hooks.endpoints.create(SHOP, {"url": URL})
    hooks.store.set_health("shop", endpoint.id, EndpointStatus.FAILING, hooks.clock() - timedelta(days=5))
    hooks.fanout.session_changed(session(hooks))
    deliverer = hooks.deliverer(post=Receiver(statuses=[500]), resolve=resolve)
    [(message, _)] = hooks.messages()
    for _ in RETRY_SCHEDULE_SECONDS:
        hooks.clock.now = message.not_before
        deliverer.handle(message)
        found = hooks.messages()
        if found:
            [(message, _)] = found
    stored = hooks.store.endpoint("shop", endpoint.id)
    assert stored is not None
    assert stored.status is EndpointStatus.DISABLED
    other = session(hooks).model_copy(update={"id": "ses_zyxwvutsrqponmlkjihg"})
    assert hooks.fanout.session_changed(other) == 0


def test_an_acknowledged_try_clears_the_failing_mark(hooks: Hooks):
    endpoint, _ = hooks.endpoints.create(SHOP, {"url": URL})
    hooks.store.set_health("shop", endpoint.id, EndpointStatus.FAILING, hooks.clock() - timedelta(days=1))
    hooks.fanout.session_changed(session(hooks))
    [(message, _)] = hooks.messages()
    assert hooks.deliverer(post=Receiver(), resolve=resolve).handle(message) == "succeeded"
    stored = hooks.store.endpoint("shop", endpoint.id)
    assert stored is not None
    assert (stored.status, stored.failing_since) == (EndpointStatus.ENABLED, None)


def test_an_address_idgate_must_not_call_is_never_called(hooks: Hooks):
    endpoint, _ = hooks.endpoints.create(SHOP, {"url": "https://internal.shop.example/hooks"})
    hooks.fanout.session_changed(session(hooks))
    [(message, _)] = hooks.messages()
    receiver = Receiver()
    assert hooks.deliverer(post=receiver, resolve=resolve).handle(message) == "retrying"
    assert receiver.sent == []
    [delivery] = hooks.endpoints.deliveries(SHOP, endpoint.id)
    assert (delivery.last_error, delivery.last_status_code) == ("webhook_address_not_allowed", None)


def test_after_a_rotation_deliveries_carry_both_signatures_for_24_hours(hooks: Hooks):
    endpoint, old = hooks.endpoints.create(SHOP, {"url": URL})
    _, new = hooks.endpoints.rotate(SHOP, endpoint.id)
    hooks.fanout.session_changed(session(hooks))
    [(message, _)] = hooks.messages()
    receiver = Receiver()
    hooks.deliverer(post=receiver, resolve=resolve).handle(message)
    _, headers, body = receiver.sent[0]
    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(body, headers)
    Webhook(new).verify(body, headers)


def test_a_replay_starts_a_new_series_with_the_same_webhook_id_and_old_messages_are_stale(hooks: Hooks):
    endpoint, _ = hooks.endpoints.create(SHOP, {"url": URL})
    hooks.fanout.session_changed(session(hooks))
    [(first, _)] = hooks.messages()
    receiver = Receiver()
    deliverer = hooks.deliverer(post=receiver, resolve=resolve)
    deliverer.handle(first)
    since = (hooks.clock() - timedelta(minutes=1)).isoformat()
    assert hooks.endpoints.replay(SHOP, endpoint.id, {"since": since}) == 1
    [(again, _)] = hooks.messages()
    assert (again.series, again.attempt) == (2, 1)
    assert deliverer.handle(first) == "stale"
    assert deliverer.handle(again) == "succeeded"
    assert receiver.sent[0][1]["webhook-id"] == receiver.sent[1][1]["webhook-id"]
    later = (hooks.clock() + timedelta(seconds=1)).isoformat()
    assert hooks.endpoints.replay(SHOP, endpoint.id, {"since": later}) == 0


def test_the_sqs_queue_delays_a_try_until_it_is_due_at_most_15_minutes(hooks: Hooks):
    # Given the SQS adapter on moto's queues
    queue = DeliveryQueue(hooks.queue_url, hooks.dead_letter_url, client=hooks.clients)
    now = hooks.clock()
    attempt = Attempt(
        client_id="shop",
        endpoint_id="we_x",
        event_id="evt_x",
        occurred_at=now,
        series=1,
        attempt=2,
        not_before=now,
    )
    sqs = hooks.clients("sqs")
    # When a try due now, one due in 5 h, and a dead letter are sent
    queue.send(attempt, now=now)
    queue.send(attempt.model_copy(update={"not_before": now + timedelta(hours=5)}), now=now)
    queue.dead_letter(attempt)
    # Then the one due now can be received at once, the later one is delayed (15 minutes at most: it is sent
    # on when it arrives early), and the dead letter is in its queue
    [ready] = sqs.receive_message(QueueUrl=hooks.queue_url, MaxNumberOfMessages=10)["Messages"]
    assert Attempt.model_validate_json(ready["Body"]) == attempt
    attributes = sqs.get_queue_attributes(QueueUrl=hooks.queue_url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessagesDelayed"] == "1"
    [dead] = sqs.receive_message(QueueUrl=hooks.dead_letter_url)["Messages"]
    assert Attempt.model_validate_json(dead["Body"]) == attempt


def test_a_try_whose_invocation_died_is_taken_again_once_stale_and_not_before(hooks: Hooks):
    # Given a try taken by an invocation that died before recording it (SQS offers its message again)
    hooks.endpoints.create(SHOP, {"url": URL})
    hooks.fanout.session_changed(session(hooks))
    [(message, _)] = hooks.messages()
    delivery = hooks.store.delivery(message.endpoint_id, message.occurred_at, message.event_id)
    assert delivery is not None
    assert hooks.store.claim_attempt(
        delivery, series=1, attempt=1, now=hooks.clock(), stale_after=timedelta(seconds=60)
    )
    receiver = Receiver()
    deliverer = hooks.deliverer(post=receiver, resolve=resolve)
    # Then a copy that comes at once finds it taken, and one after a minute runs it
    assert deliverer.handle(message) == "taken"
    hooks.clock.advance(61)
    assert deliverer.handle(message) == "succeeded"
    # and once recorded, no copy runs it again
    hooks.clock.advance(120)
    assert deliverer.handle(message) == "stale"
    assert len(receiver.sent) == 1


def test_a_redacted_sessions_payloads_are_removed_and_never_sent_again(hooks: Hooks):
    # Given a review and a final event of a session delivered to two endpoints, and another session's
    first, _ = hooks.endpoints.create(SHOP, {"url": URL, "events": ["session.updated", "session.finalized"]})
    hooks.endpoints.create(SHOP, {"url": URL + "/2"})
    hooks.fanout.session_changed(session(hooks, Status.REVIEW))
    hooks.fanout.session_changed(session(hooks))
    other = session(hooks).model_copy(update={"id": "ses_zyxwvutsrqponmlkjihg"})
    hooks.fanout.session_changed(other)
    messages = [m for m, _ in hooks.messages()]
    assert len(messages) == 5

    # When the session is redacted
    assert hooks.fanout.session_redacted("ses_abcdefghijklmnopqrstu") == 3

    # Then no item holds its payload any more, the other session's stay, and a try sends nothing
    items = [item for item in hooks.raw_items() if item["pk"]["S"].startswith("endpoint#")]
    kept = {item["session_id"]["S"]: "payload" in item for item in items}
    assert kept == {"ses_abcdefghijklmnopqrstu": False, "ses_zyxwvutsrqponmlkjihg": True}
    receiver = Receiver()
    deliverer = hooks.deliverer(post=receiver, resolve=resolve)
    outcomes = sorted(deliverer.handle(m) for m in messages)
    assert outcomes == ["session_redacted"] * 3 + ["succeeded"] * 2
    assert {json.loads(body)["data"]["id"] for _, _, body in receiver.sent} == {"ses_zyxwvutsrqponmlkjihg"}
    redacted = [d for d in hooks.endpoints.deliveries(SHOP, first.id) if d.session_id.endswith("qrstu")]
    assert {d.last_error for d in redacted} == {"session_redacted"}
    # and a replay of them sends nothing either
    hooks.endpoints.replay(SHOP, first.id, {"since": "2020-01-01T00:00:00Z"})
    for message, _ in hooks.messages():
        deliverer.handle(message)
    assert all(json.loads(body)["data"]["id"] != "ses_abcdefghijklmnopqrstu" for _, _, body in receiver.sent)
