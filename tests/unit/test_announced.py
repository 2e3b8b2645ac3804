"""A session as its events tell it (idgate.announced), read without pydantic by the publisher function: the
events' details are the ones the session's model gave (held here to the former model-based functions), from
the item as the table stores it as from the model."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from idgate.announced import announced_of, announced_session
from idgate.domain import Result, Routing, RoutingTry, Session, Status
from idgate.dynamo import from_dynamo, to_dynamo
from idgate.notify import final_event_detail, redacted_event_detail

NOW = datetime(2026, 11, 23, 9, 30, 15, 123456, tzinfo=UTC)


def former_final_event_detail(session: Session) -> dict[str, Any]:
    """idgate.notify's function before the publisher stopped building the model."""
    return {
        "id": session.id,
        "provider": session.provider,
        "status": session.status.value,
        "reference": session.reference,
        "result": session.result.model_dump(mode="json") if session.result else None,
        "finalized_at": session.finalized_at.isoformat() if session.finalized_at else None,
        "routing": session.routing.model_dump(mode="json") if session.routing else None,
    }


def former_redacted_event_detail(session: Session) -> dict[str, Any]:
    return {
        "id": session.id,
        "provider": session.provider,
        "status": session.status.value,
        "redacted_at": session.redacted_at.isoformat() if session.redacted_at else None,
    }


def a_session(**fields: Any) -> Session:
    values: dict[str, Any] = {
        "id": "ses_announced000000000001",
        "client_id": "shop",
        "provider": "fake",
        "status": Status.APPROVED,
        "created_at": NOW,
        "updated_at": NOW,
        "expires_at": NOW + timedelta(minutes=30),
        "client_secret_hash": "secret-hash",
        "finalized_at": NOW,
    }
    return Session(**(values | fields))


SESSIONS = {
    "approved, no result": a_session(),
    "declined with reasons": a_session(
        status=Status.DECLINED,
        reference="order-42",
        result=Result(decision=Status.DECLINED, provider_status="KO", reasons=["provider_declined"]),
    ),
    "approved with data and risk": a_session(
        result=Result(decision=Status.APPROVED, risk=False, data={"score": 0.93, "age": 31, "ok": True}),
    ),
    "routed": a_session(
        routing=Routing(
            check="document",
            tried=[RoutingTry(provider="okid", reason="circuit_open")],
            chosen="fake",
        ),
        result=Result(decision=Status.APPROVED),
    ),
    "routed at once": a_session(routing=Routing(check="document", chosen="fake")),
    "finalized on the second": a_session(finalized_at=NOW.replace(microsecond=0)),
    "redacted": a_session(status=Status.EXPIRED, redacted_at=NOW + timedelta(days=1), event_published=True),
}


def stored_item(session: Session) -> dict[str, Any]:
    """The item as the table holds it and the store reads it back (idgate.session_writes)."""
    return from_dynamo(to_dynamo(session.model_dump(mode="json", exclude_none=True)))


@pytest.mark.parametrize("name", SESSIONS)
def test_the_events_details_are_the_models_from_the_item_as_from_the_model(name):
    session = SESSIONS[name]
    for announced in (announced_of(stored_item(session)), announced_session(session)):
        assert final_event_detail(announced) == former_final_event_detail(session)
        assert redacted_event_detail(announced) == former_redacted_event_detail(session)
        assert (announced.event_published, announced.redaction_published) == (
            session.event_published,
            session.redaction_published,
        )
        assert announced.status.is_final


def test_the_result_and_the_routing_have_the_models_fields_in_their_order():
    item = stored_item(SESSIONS["routed"])
    del item["result"]["reasons"], item["result"]["data"]  # what a model's defaults give back
    announced = announced_of(item)
    assert announced.result is not None
    assert announced.routing is not None
    assert list(announced.result) == list(Result.model_fields)
    assert list(announced.routing) == list(Routing.model_fields)
    assert list(announced.routing["tried"][0]) == list(RoutingTry.model_fields)


def test_a_status_the_model_refuses_is_refused():
    item = stored_item(SESSIONS["approved, no result"]) | {"status": "finished"}
    with pytest.raises(ValueError, match="finished"):
        announced_of(item)
