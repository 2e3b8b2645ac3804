"""The delivery log of an endpoint, page by page: the latest first, `limit` at a time (50 by default, at most
100), a `next_cursor` until the last page; a limit or cursor the API did not give is a 422, and another
client's endpoint a 404 whatever the cursor."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from idgate.errors import NotFound, ValidationFailed
from idgate.hooks.model import Delivery, EventType
from tests.support.hooks import OTHER_SHOP, SHOP, Hooks, boto3_region_env, hooks_on_moto

URL = "https://hooks.shop.example/idgate"
START = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


@pytest.fixture
def hooks(monkeypatch: pytest.MonkeyPatch) -> Iterator[Hooks]:
    boto3_region_env(monkeypatch)
    with hooks_on_moto() as made:
        yield made


def logged(hooks: Hooks, endpoint_id: str, count: int) -> list[str]:
    """`count` deliveries to the endpoint, a minute apart; their event ids, the latest first."""
    ids = []
    for n in range(count):
        event = f"evt_{n:032x}"
        delivery = Delivery(
            endpoint_id=endpoint_id,
            event_id=event,
            type=EventType.FINALIZED,
            session_id=f"ses_{n:020d}",
            occurred_at=START + timedelta(minutes=n),
            payload="{}",
            created_at=START + timedelta(minutes=n),
        )
        assert hooks.store.add_delivery(delivery)
        ids.append(event)
    return ids[::-1]


def test_the_log_is_read_page_by_page_the_latest_first(hooks: Hooks):
    # Given an endpoint with five deliveries
    endpoint, _ = hooks.endpoints.create(SHOP, {"url": URL})
    expected = logged(hooks, endpoint.id, 5)

    # When its log is read two at a time, following the cursor
    pages, cursor = [], None
    for _ in range(5):
        page, cursor = hooks.endpoints.delivery_page(SHOP, endpoint.id, limit="2", cursor=cursor)
        pages.append([d.event_id for d in page])
        if cursor is None:
            break

    # Then every delivery comes once, the latest first, and the last page has no cursor
    assert pages == [expected[0:2], expected[2:4], expected[4:5]]
    # and without a limit, one page of 50 holds them all
    page, cursor = hooks.endpoints.delivery_page(SHOP, endpoint.id)
    assert ([d.event_id for d in page], cursor) == (expected, None)


def test_a_page_holds_at_most_a_hundred(hooks: Hooks):
    endpoint, _ = hooks.endpoints.create(SHOP, {"url": URL})
    expected = logged(hooks, endpoint.id, 101)
    page, cursor = hooks.endpoints.delivery_page(SHOP, endpoint.id, limit="100")
    assert [d.event_id for d in page] == expected[:100]
    rest, last = hooks.endpoints.delivery_page(SHOP, endpoint.id, limit="100", cursor=cursor)
    assert ([d.event_id for d in rest], last) == (expected[100:], None)


@pytest.mark.parametrize("limit", ["0", "101", "-1", "2.5", "ten", "", "١٢"])
def test_a_limit_out_of_1_to_100_is_a_validation_error(hooks: Hooks, limit: str):
    endpoint, _ = hooks.endpoints.create(SHOP, {"url": URL})
    with pytest.raises(ValidationFailed) as refused:
        hooks.endpoints.delivery_page(SHOP, endpoint.id, limit=limit)
    assert (refused.value.code, refused.value.details) == ("validation_error", {"field": "limit"})
    assert "from 1 to 100" in refused.value.message


def forged(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    ["not base64!", forged("endpoint#we_x"), forged("delivery#\n"), "", forged("delivery#" + "x" * 200)],
)
def test_a_cursor_the_api_did_not_give_is_refused(hooks: Hooks, cursor: str):
    endpoint, _ = hooks.endpoints.create(SHOP, {"url": URL})
    with pytest.raises(ValidationFailed) as refused:
        hooks.endpoints.delivery_page(SHOP, endpoint.id, cursor=cursor)
    assert (refused.value.code, refused.value.details) == ("invalid_cursor", {"field": "cursor"})


def test_a_cursor_reads_only_the_callers_endpoint(hooks: Hooks):
    # Given the shop's endpoint with a log, and a cursor into it
    endpoint, _ = hooks.endpoints.create(SHOP, {"url": URL})
    logged(hooks, endpoint.id, 3)
    _, cursor = hooks.endpoints.delivery_page(SHOP, endpoint.id, limit="1")
    assert cursor is not None

    # Then another client gets a 404 with it, and its own endpoint's log is not the shop's
    with pytest.raises(NotFound):
        hooks.endpoints.delivery_page(OTHER_SHOP, endpoint.id, cursor=cursor)
    other, _ = hooks.endpoints.create(OTHER_SHOP, {"url": URL})
    page, _ = hooks.endpoints.delivery_page(OTHER_SHOP, other.id, cursor=cursor)
    assert page == []
