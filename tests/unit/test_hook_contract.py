"""What the webhook endpoints' API answers (idgate.hooks.contract): an endpoint, the one answer with its
secret, and a delivery, each with exactly the properties `openapi.yaml` requires, its times in UTC with a Z
(or null), and the values the models hold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from idgate.hooks.contract import created_endpoint_view, delivery_view, endpoint_view
from idgate.hooks.model import Delivery, DeliveryStatus, Endpoint, EndpointStatus, EventType
from tests.support.contract import openapi

AT = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def required(schema: str) -> set[str]:
    return set(openapi()["components"]["schemas"][schema]["required"])


ENDPOINT = Endpoint(
    id="we_0123456789abcdefghijklmn",
    client_id="shop",
    url="https://hooks.shop.example/idgate",
    events=[EventType.FINALIZED, EventType.UPDATED],
    description="orders",
    created_at=AT,
    status=EndpointStatus.FAILING,
    failing_since=AT + timedelta(hours=1),
)


def test_an_endpoint_is_shown_as_openapi_says_and_never_with_its_secrets():
    view = endpoint_view(ENDPOINT)
    assert set(view) == required("WebhookEndpoint")
    assert view == {
        "id": "we_0123456789abcdefghijklmn",
        "url": "https://hooks.shop.example/idgate",
        "events": ["session.finalized", "session.updated"],
        "description": "orders",
        "status": "failing",
        "failing_since": "2026-11-23T09:00:00Z",
        "created_at": "2026-11-23T08:00:00Z",
    }
    healthy = endpoint_view(
        ENDPOINT.model_copy(update={"failing_since": None, "status": EndpointStatus.ENABLED})
    )
    assert (healthy["failing_since"], healthy["status"]) == (None, "enabled")


def test_a_created_endpoint_is_shown_once_with_its_secret():
    view = created_endpoint_view(ENDPOINT, "whsec_c2VjcmV0")
    assert view == {**endpoint_view(ENDPOINT), "secret": "whsec_c2VjcmV0"}
    assert required("WebhookEndpointWithSecret") <= set(view)


def test_a_delivery_is_shown_as_openapi_says():
    delivery = Delivery(
        endpoint_id=ENDPOINT.id,
        event_id="evt_0123456789abcdef0123456789abcdef",
        type=EventType.FINALIZED,
        session_id="ses_abcdefghijklmnopqrstu",
        occurred_at=AT,
        payload="{}",
        created_at=AT,
        attempts=3,
        status=DeliveryStatus.PENDING,
        last_status_code=503,
        last_latency_ms=120,
        last_error="timeout",
        next_try_at=AT + timedelta(minutes=30),
    )
    view = delivery_view(delivery)
    assert set(view) == required("WebhookDelivery")
    assert view == {
        "event_id": "evt_0123456789abcdef0123456789abcdef",
        "type": "session.finalized",
        "session_id": "ses_abcdefghijklmnopqrstu",
        "occurred_at": "2026-11-23T08:00:00Z",
        "status": "pending",
        "attempts": 3,
        "last_status_code": 503,
        "last_latency_ms": 120,
        "last_error": "timeout",
        "next_try_at": "2026-11-23T08:30:00Z",
    }
    assert delivery_view(delivery.model_copy(update={"next_try_at": None}))["next_try_at"] is None
