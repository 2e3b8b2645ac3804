"""Webhook endpoints, for the secret key of their client: register (the secret shown once), list, remove,
rotate the secret, read the latest deliveries, replay. Another client's endpoint is no endpoint (404)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import ValidationError

from idgate.api import Caller
from idgate.errors import Conflict, Forbidden, NotFound, ValidationFailed
from idgate.hooks.contract import CreateEndpointRequest, ReplayRequest
from idgate.hooks.model import (
    ENDPOINT_ID,
    ROTATION_OVERLAP,
    Attempt,
    Delivery,
    Endpoint,
    EndpointStatus,
    SealedSecret,
)
from idgate.hooks.signing import new_key, secret_of
from idgate.hooks.store import HookStore
from idgate.hooks.urls import UrlRefused, check_url
from idgate.secrets_util import new_id
from idgate.validation import validation_failed

#: A replay re-sends at most this many deliveries (the latest ones since the time asked).
MAX_REPLAY = 500
#: A page of the delivery log: this many by default, at most MAX_PAGE.
PAGE_SIZE = 50
MAX_PAGE = 100
#: Each event of a client is fanned out to each of its endpoints: a client has at most this many.
MAX_ENDPOINTS_PER_CLIENT = 20


class Sealer(Protocol):
    def seal(self, endpoint_id: str, key: bytes) -> str: ...


class Queue(Protocol):
    def send(self, attempt: Attempt, *, now: datetime) -> None: ...


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class WebhookEndpoints:
    store: HookStore
    sealer: Sealer
    queue: Queue
    allow_insecure_urls: bool = False
    clock: Callable[[], datetime] = _utc_now

    def create(self, caller: Caller, body: Mapping[str, Any]) -> tuple[Endpoint, str]:
        client_id = _client_of(caller)
        try:
            request = CreateEndpointRequest.model_validate(body)
        except ValidationError as exc:
            raise validation_failed(exc) from exc
        try:
            url = check_url(request.url, allow_insecure=self.allow_insecure_urls)
        except UrlRefused as exc:
            raise ValidationFailed(str(exc), code=exc.code) from exc
        if len(self.store.endpoints(client_id)) >= MAX_ENDPOINTS_PER_CLIENT:
            raise Conflict(
                f"a client has at most {MAX_ENDPOINTS_PER_CLIENT} webhook endpoints",
                code="webhook_endpoint_limit_reached",
            )
        endpoint_id = new_id("we", 18)
        key = new_key()
        endpoint = Endpoint(
            id=endpoint_id,
            client_id=client_id,
            url=url,
            events=list(dict.fromkeys(request.events)),
            description=request.description,
            created_at=self.clock(),
            secrets=[SealedSecret(ciphertext=self.sealer.seal(endpoint_id, key))],
        )
        self.store.add_endpoint(endpoint)
        return endpoint, secret_of(key)

    def all(self, caller: Caller) -> list[Endpoint]:
        return sorted(self.store.endpoints(_client_of(caller)), key=lambda e: e.created_at)

    def delete(self, caller: Caller, endpoint_id: str) -> None:
        client_id = _client_of(caller)
        if not ENDPOINT_ID.fullmatch(endpoint_id) or not self.store.delete_endpoint(client_id, endpoint_id):
            raise _not_found()

    def rotate(self, caller: Caller, endpoint_id: str) -> tuple[Endpoint, str]:
        """A new secret; the one it replaces still signs for 24 hours (both signatures are sent), older ones
        no more."""
        endpoint = self._owned(caller, endpoint_id)
        now = self.clock()
        key = new_key()
        current = [s for s in endpoint.secrets if s.retires_at is None]
        retiring = [s.model_copy(update={"retires_at": now + ROTATION_OVERLAP}) for s in current[-1:]]
        secrets = [*retiring, SealedSecret(ciphertext=self.sealer.seal(endpoint.id, key))]
        if not self.store.set_secrets(endpoint.client_id, endpoint.id, secrets):
            raise _not_found()
        return endpoint.model_copy(update={"secrets": secrets}), secret_of(key)

    def deliveries(self, caller: Caller, endpoint_id: str) -> list[Delivery]:
        return self.delivery_page(caller, endpoint_id)[0]

    def delivery_page(
        self, caller: Caller, endpoint_id: str, *, limit: str | None = None, cursor: str | None = None
    ) -> tuple[list[Delivery], str | None]:
        """A page of the endpoint's deliveries, the latest first, and the cursor of the next page (None after
        the last), from the request's query (`limit`, `cursor`). A cursor names a place in this endpoint's log
        only: the endpoint is the caller's."""
        endpoint = self._owned(caller, endpoint_id)
        size = PAGE_SIZE if limit is None else _page_size(limit)
        after = _cursor_key(cursor) if cursor is not None else None
        page, last = self.store.delivery_page(endpoint.id, limit=size, after=after)
        return page, (_cursor_of(last) if last is not None else None)

    def replay(self, caller: Caller, endpoint_id: str, body: Mapping[str, Any]) -> int:
        """Starts a new series of tries for each of the endpoint's deliveries of events since `since` (the
        same `webhook-id`s); the count of deliveries replayed. A disabled endpoint is enabled again: a replay
        is its owner saying it is back (it is disabled again after 5 more days of failures)."""
        endpoint = self._owned(caller, endpoint_id)
        try:
            since = ReplayRequest.model_validate(body).since
        except ValidationError as exc:
            raise validation_failed(exc) from exc
        now = self.clock()
        if endpoint.status is EndpointStatus.DISABLED:
            self.store.set_health(endpoint.client_id, endpoint.id, EndpointStatus.ENABLED, None)
        replayed = 0
        for delivery in self.store.deliveries(endpoint.id, since=since.astimezone(UTC), limit=MAX_REPLAY):
            series = self.store.restart(delivery, next_try_at=now)
            if series is None:
                continue
            self.queue.send(
                Attempt(
                    client_id=endpoint.client_id,
                    endpoint_id=endpoint.id,
                    event_id=delivery.event_id,
                    occurred_at=delivery.occurred_at,
                    series=series,
                    attempt=1,
                    not_before=now,
                ),
                now=now,
            )
            replayed += 1
        return replayed

    def _owned(self, caller: Caller, endpoint_id: str) -> Endpoint:
        client_id = _client_of(caller)
        endpoint = self.store.endpoint(client_id, endpoint_id) if ENDPOINT_ID.fullmatch(endpoint_id) else None
        if endpoint is None:
            raise _not_found()
        return endpoint


def _client_of(caller: Caller) -> str:
    if not caller.is_secret_key or not caller.client_id:
        raise Forbidden("webhook endpoints need a secret key", code="secret_key_required")
    return caller.client_id


def _not_found() -> NotFound:
    # The same answer for "no such endpoint" and "another client's".
    return NotFound("no such webhook endpoint", code="webhook_endpoint_not_found")


def _page_size(limit: str) -> int:
    if not (limit.isascii() and limit.isdecimal() and 1 <= int(limit) <= MAX_PAGE):
        raise ValidationFailed(f"limit must be a whole number from 1 to {MAX_PAGE}", field="limit")
    return int(limit)


def _cursor_of(sort_key: str) -> str:
    return base64.urlsafe_b64encode(sort_key.encode()).decode().rstrip("=")


def _cursor_key(cursor: str) -> str:
    """The sort key a cursor of _cursor_of holds; anything else is the caller's mistake (422)."""
    try:
        key = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, ValueError):
        key = ""
    if len(cursor) > 200 or not key.startswith("delivery#") or not key.isprintable():
        raise ValidationFailed("cursor is not one this API gave", code="invalid_cursor", field="cursor")
    return key
