"""Webhook endpoints, for the secret key of their client: the secret is shown once and stored encrypted, lists
never show it, another client's endpoint is a 404, a publishable key a 403, and a rotation signs with both
secrets for 24 hours."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest

from idgate.errors import Conflict, Forbidden, NotFound, ValidationFailed
from idgate.hooks.model import EndpointStatus, EventType
from idgate.hooks.signing import key_of
from tests.support.hooks import OTHER_SHOP, SHOP, SHOP_PUBLISHABLE, Hooks, boto3_region_env, hooks_on_moto
from tests.support.messages import says

URL = "https://hooks.shop.example/idgate"


@pytest.fixture
def hooks(monkeypatch: pytest.MonkeyPatch) -> Iterator[Hooks]:
    boto3_region_env(monkeypatch)
    with hooks_on_moto() as made:
        yield made


def test_a_registered_endpoint_shows_its_secret_once_and_stores_it_encrypted(hooks: Hooks):
    # When the shop registers an endpoint
    endpoint, secret = hooks.endpoints.create(SHOP, {"url": URL, "description": "backend"})

    # Then it gets a whsec_ secret, subscribed to session.finalized by default
    assert secret.startswith("whsec_")
    assert endpoint.events == [EventType.FINALIZED]
    assert endpoint.id.startswith("we_")
    # and the table never holds the secret or its key in the clear
    stored = str(hooks.raw_items())
    assert secret not in stored
    assert secret.removeprefix("whsec_") not in stored
    assert base64.b64encode(key_of(secret)).decode() not in stored
    # and what is listed has no secret to show
    [listed] = hooks.endpoints.all(SHOP)
    assert listed.id == endpoint.id
    assert "secret" not in listed.model_dump(exclude={"secrets"})


def test_events_may_add_session_updated(hooks: Hooks):
    endpoint, _ = hooks.endpoints.create(
        SHOP, {"url": URL, "events": ["session.updated", "session.finalized"]}
    )
    assert endpoint.events == [EventType.UPDATED, EventType.FINALIZED]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"url": "http://hooks.shop.example/"}, "webhook_url_not_https"),
        ({"url": "https://10.0.0.1/"}, "webhook_url_not_allowed"),
        ({"url": "https://me:pw@hooks.shop.example/"}, "webhook_url_userinfo"),
        ({"url": URL, "events": ["session.created"]}, "validation_error"),
        ({"url": URL, "events": []}, "validation_error"),
        ({"url": URL, "extra": 1}, "validation_error"),
        ({"url": 42}, "validation_error"),
        ({}, "validation_error"),
    ],
)
def test_an_invalid_registration_is_a_422_with_a_stable_code(hooks: Hooks, body: dict, code: str):
    with pytest.raises(ValidationFailed) as refused:
        hooks.endpoints.create(SHOP, body)
    assert refused.value.code == code
    if code != "validation_error":  # the address's problem, as idgate.hooks.urls says it
        says(refused.value.message, "the URL")
    assert hooks.endpoints.all(SHOP) == []


def test_a_publishable_key_gets_403_secret_key_required(hooks: Hooks):
    with pytest.raises(Forbidden) as refused:
        hooks.endpoints.create(SHOP_PUBLISHABLE, {"url": URL})
    assert refused.value.code == "secret_key_required"
    says(refused.value.message, "webhook endpoints", "secret key")
    with pytest.raises(Forbidden):
        hooks.endpoints.all(SHOP_PUBLISHABLE)


def test_another_clients_endpoint_is_a_404_for_every_action(hooks: Hooks):
    # Given the shop's endpoint
    endpoint, _ = hooks.endpoints.create(SHOP, {"url": URL})

    # Then another client neither lists, deletes, rotates, reads the deliveries of nor replays it
    assert hooks.endpoints.all(OTHER_SHOP) == []
    for act in (
        lambda: hooks.endpoints.delete(OTHER_SHOP, endpoint.id),
        lambda: hooks.endpoints.rotate(OTHER_SHOP, endpoint.id),
        lambda: hooks.endpoints.deliveries(OTHER_SHOP, endpoint.id),
        lambda: hooks.endpoints.replay(OTHER_SHOP, endpoint.id, {"since": "2026-01-01T00:00:00Z"}),
    ):
        with pytest.raises(NotFound) as refused:
            act()
        assert refused.value.code == "webhook_endpoint_not_found"
        says(refused.value.message, "no such webhook endpoint")
    # and the shop's endpoint is untouched
    assert [e.id for e in hooks.endpoints.all(SHOP)] == [endpoint.id]


def test_a_deleted_endpoint_is_gone_and_deleting_it_again_is_a_404(hooks: Hooks):
    endpoint, _ = hooks.endpoints.create(SHOP, {"url": URL})
    hooks.endpoints.delete(SHOP, endpoint.id)
    assert hooks.endpoints.all(SHOP) == []
    with pytest.raises(NotFound):
        hooks.endpoints.delete(SHOP, endpoint.id)
    with pytest.raises(NotFound):
        hooks.endpoints.delete(SHOP, "../not-an-id")


def test_a_rotation_gives_a_new_secret_and_both_sign_for_24_hours(hooks: Hooks):
    endpoint, first = hooks.endpoints.create(SHOP, {"url": URL})
    rotated, second = hooks.endpoints.rotate(SHOP, endpoint.id)
    assert second != first
    now = hooks.clock()
    stored = hooks.store.endpoint("shop", endpoint.id)
    assert stored is not None
    assert len(stored.signing_secrets(now)) == 2
    assert stored.signing_secrets(now)[0].retires_at == now + __import__("datetime").timedelta(hours=24)
    hooks.clock.advance(24 * 3600 + 1)
    assert len(stored.signing_secrets(hooks.clock())) == 1
    # a second rotation keeps only the secret it replaces, not the first one
    hooks.endpoints.rotate(SHOP, endpoint.id)
    assert len(hooks.store.endpoint("shop", endpoint.id).secrets) == 2  # type: ignore[union-attr]
    assert rotated.id == endpoint.id


def test_a_replay_needs_an_iso_time_with_its_offset(hooks: Hooks):
    endpoint, _ = hooks.endpoints.create(SHOP, {"url": URL})
    for body in ({}, {"since": "yesterday"}, {"since": "2026-11-23T08:00:00"}, {"since": 3}):
        with pytest.raises(ValidationFailed):
            hooks.endpoints.replay(SHOP, endpoint.id, body)
    with pytest.raises(ValidationFailed) as refused:  # a number would be read as epoch seconds
        hooks.endpoints.replay(SHOP, endpoint.id, {"since": 1_764_000_000})
    says(refused.value.message, "since", "ISO 8601 time with its offset")
    assert hooks.endpoints.replay(SHOP, endpoint.id, {"since": "2026-11-23T08:00:00+01:00"}) == 0


def test_a_client_has_at_most_20_endpoints(hooks: Hooks):
    for n in range(20):
        hooks.endpoints.create(SHOP, {"url": f"{URL}/{n}"})
    with pytest.raises(Conflict) as refused:
        hooks.endpoints.create(SHOP, {"url": URL})
    assert refused.value.code == "webhook_endpoint_limit_reached"
    says(refused.value.message, "at most 20 webhook endpoints")
    hooks.endpoints.create(OTHER_SHOP, {"url": URL})  # another client's count is its own


def test_a_replay_enables_a_disabled_endpoint_again(hooks: Hooks):
    endpoint, _ = hooks.endpoints.create(SHOP, {"url": URL})
    hooks.store.set_health("shop", endpoint.id, EndpointStatus.DISABLED, hooks.clock())
    hooks.endpoints.replay(SHOP, endpoint.id, {"since": "2026-01-01T00:00:00Z"})
    stored = hooks.store.endpoint("shop", endpoint.id)
    assert stored is not None
    assert (stored.status, stored.failing_since) == (EndpointStatus.ENABLED, None)
