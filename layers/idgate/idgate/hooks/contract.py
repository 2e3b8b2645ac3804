"""The webhook endpoints' HTTP contract: request models and views (openapi.yaml, "Webhook endpoints")."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictStr, field_validator

from idgate.hooks.model import Delivery, Endpoint, EventType
from idgate.hooks.urls import MAX_URL_LENGTH


class CreateEndpointRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: StrictStr = Field(min_length=1, max_length=MAX_URL_LENGTH)
    events: list[EventType] = Field(default=[EventType.FINALIZED], min_length=1, max_length=2)
    description: StrictStr | None = Field(default=None, max_length=256)


class ReplayRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: An ISO 8601 time with its offset (a number is refused: it would be read as epoch seconds).
    since: AwareDatetime

    @field_validator("since", mode="before")
    @classmethod
    def _iso_text(cls, value: Any) -> Any:
        if not isinstance(value, str):
            raise ValueError("since must be an ISO 8601 time with its offset")
        return value


def _time(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def endpoint_view(endpoint: Endpoint) -> dict[str, Any]:
    """An endpoint as listed: never its secret."""
    return {
        "id": endpoint.id,
        "url": endpoint.url,
        "events": [e.value for e in endpoint.events],
        "description": endpoint.description,
        "status": endpoint.status.value,
        "failing_since": _time(endpoint.failing_since),
        "created_at": _time(endpoint.created_at),
    }


def created_endpoint_view(endpoint: Endpoint, secret: str) -> dict[str, Any]:
    """What POST answers: the one time the secret is shown."""
    return {**endpoint_view(endpoint), "secret": secret}


def delivery_view(delivery: Delivery) -> dict[str, Any]:
    return {
        "event_id": delivery.event_id,
        "type": delivery.type.value,
        "session_id": delivery.session_id,
        "occurred_at": _time(delivery.occurred_at),
        "status": delivery.status.value,
        "attempts": delivery.attempts,
        "last_status_code": delivery.last_status_code,
        "last_latency_ms": delivery.last_latency_ms,
        "last_error": delivery.last_error,
        "next_try_at": _time(delivery.next_try_at),
    }
