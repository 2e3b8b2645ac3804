"""Starting a verification and reading it (idgate.sessions): what is answered, what is stored, and who may."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from idgate.api import Caller
from idgate.errors import Forbidden, NotFound, ProviderFailed, ServiceUnavailable, ValidationFailed
from idgate.follow_state import FollowState
from idgate.providers.base import NewVerification, StartRequest
from idgate.qr import qr_data_uri
from idgate.secrets_util import sha256_hex
from idgate.store import epoch
from tests.support.memory_store import DEFAULT_RETENTION
from tests.support.world import CALLER, EXPIRES_AT, VERIFICATION_URL, World, make_world, store_of

PUBLISHABLE = Caller(kind="publishable", client_id="shop")
OWN_QR = "data:image/png;base64,iVBORw0KGgo="


@pytest.fixture
def world() -> World:
    return make_world()


def outcome(error: Any) -> tuple[Any, ...]:
    """What a caller reads of an error: its kind, HTTP status, code and details, and some message."""
    assert isinstance(error.message, str)
    assert error.message
    return (type(error).__name__, error.status, error.code)


def test_a_provider_without_a_qr_image_gets_idgates_qr_code_of_its_verification_url(world):
    service, _, _, _ = world
    _, _, qr_code = service.create_session(PUBLISHABLE, {"provider": "fake"})
    assert qr_code == qr_data_uri(VERIFICATION_URL)


def test_a_providers_own_qr_image_is_passed_on(world):
    service, provider, _, _ = world
    provider.qr_image = OWN_QR
    _, _, qr_code = service.create_session(PUBLISHABLE, {"provider": "fake"})
    assert qr_code == OWN_QR


def test_a_new_session_is_stored_pending_with_the_hash_of_its_client_secret_and_a_ttl_from_its_expiry(world):
    service, _, _, clock = world
    body = {"provider": "fake", "reference": "order-7", "email": "u@example.com"}
    session, client_secret, _ = service.create_session(PUBLISHABLE, body)
    assert session.id.startswith("ses_")
    assert client_secret.startswith("cs_")
    assert len(client_secret) > 30
    item = store_of(service).stored_item(session.id)
    assert item is not None
    assert {name: item[name] for name in ("pk", "client_id", "provider", "status", "reference")} == {
        "pk": session.id,
        "client_id": "shop",
        "provider": "fake",
        "status": "pending",
        "reference": "order-7",
    }
    assert item["client_secret_hash"] == sha256_hex(client_secret)
    assert client_secret not in str(item)
    assert [datetime.fromisoformat(item[name]) for name in ("created_at", "updated_at")] == [clock.now] * 2
    assert (datetime.fromisoformat(item["expires_at"]), item["provider_ref"], item["verification_url"]) == (
        EXPIRES_AT,
        "ref-1",
        VERIFICATION_URL,
    )
    assert item["expires_ttl"] == epoch(EXPIRES_AT + DEFAULT_RETENTION)
    assert item["open_client"] == "shop"
    assert "email" not in item  # kept only for a provider that asks for a second factor
    assert item["options"] == {"two_factor": False}


def test_the_email_is_kept_only_when_a_second_factor_was_asked_for(world):
    service, _, _, _ = world
    body = {"provider": "fake", "email": "u@example.com", "options": {"two_factor": True}}
    session, _, _ = service.create_session(PUBLISHABLE, body)
    assert store_of(service).stored_item(session.id)["email"] == "u@example.com"  # type: ignore[index]


def test_the_provider_is_started_with_our_session_id_and_the_reference(world):
    service, provider, _, _ = world
    seen: list[StartRequest] = []
    start = provider.start

    def recording(request: StartRequest) -> NewVerification:
        seen.append(request)
        return start(request)

    provider.start = recording  # type: ignore[method-assign]
    session, _, _ = service.create_session(PUBLISHABLE, {"provider": "fake", "reference": "order-7"})
    (request,) = seen
    assert (request.session_id, request.reference, request.webhook_url) == (session.id, "order-7", None)


def test_creating_a_session_needs_an_api_key(world):
    service, _, _, _ = world
    for caller in (Caller(kind="client_secret"), Caller(kind="secret", client_id=None)):
        with pytest.raises(Forbidden) as raised:
            service.create_session(caller, {"provider": "fake"})
        assert outcome(raised.value) == ("Forbidden", 403, "api_key_required")


@pytest.mark.parametrize(
    ("body", "code"),
    [({"provider": "nobody"}, "unknown_provider"), ({"provider": "fake", "extra": 1}, "validation_error")],
)
def test_a_request_for_no_known_provider_or_with_unknown_fields_is_a_422(world, body, code):
    service, _, _, _ = world
    with pytest.raises(ValidationFailed) as raised:
        service.create_session(PUBLISHABLE, body)
    assert outcome(raised.value) == ("ValidationFailed", 422, code)
    assert store_of(service)._items == {}


def test_a_provider_unreachable_at_the_start_is_a_502_and_stores_nothing(world):
    from idgate.errors import ProviderUnavailable

    service, provider, outside, _ = world

    def down(request: StartRequest) -> NewVerification:
        raise ProviderUnavailable("provider_unreachable", "down")

    provider.start = down  # type: ignore[method-assign]
    with pytest.raises(ProviderFailed) as raised:
        service.create_session(PUBLISHABLE, {"provider": "fake"})
    assert outcome(raised.value) == ("ProviderFailed", 502, "provider_unavailable")
    assert store_of(service)._items == {}
    assert outside.started == []


def test_a_session_that_cannot_be_followed_ends_in_error_at_once(world):
    service, _, outside, _ = world

    def broken(state: FollowState) -> None:
        raise RuntimeError("Step Functions is down")

    outside.start = broken  # type: ignore[method-assign]
    with pytest.raises(ServiceUnavailable) as raised:
        service.create_session(PUBLISHABLE, {"provider": "fake"})
    assert outcome(raised.value) == ("ServiceUnavailable", 503, "service_unavailable")
    (item,) = [store_of(service).stored_item(session_id) for session_id in store_of(service)._items]
    assert item is not None
    assert (item["status"], item["result"]["reasons"]) == ("error", ["internal_error"])


@pytest.mark.parametrize(("side", "redacted"), [("front", True), ("back", False)])
def test_document_images_need_a_secret_key(world, side, redacted):
    service, _, _, _ = world
    session, _, _ = service.create_session(PUBLISHABLE, {"provider": "fake"})
    for caller in (PUBLISHABLE, Caller(kind="client_secret")):
        with pytest.raises(Forbidden) as raised:
            service.image(caller, session.id, side, redacted=redacted)
        assert outcome(raised.value) == ("Forbidden", 403, "secret_key_required")


def test_a_provider_without_images_has_none(world):
    service, _, _, _ = world
    session, _, _ = service.create_session(PUBLISHABLE, {"provider": "fake"})
    with pytest.raises(NotFound) as raised:
        service.image(CALLER, session.id, "front", redacted=True)
    assert outcome(raised.value) == ("NotFound", 404, "image_not_found")


def test_the_catalogue_lists_each_provider_with_its_options_schema(world):
    service, _, _, _ = world
    assert service.providers() == {
        "providers": [
            {
                "name": "fake",
                "title": "A fake provider",
                "uses_email": True,  # it takes a second factor
                "options": {
                    "properties": {
                        "two_factor": {"default": False, "title": "Two Factor", "type": "boolean"}
                    },
                    "title": "FakeOptions",
                    "type": "object",
                },
            }
        ]
    }


def test_provider_resources_need_a_secret_key_and_a_provider_that_has_them(world):
    service, _, _, _ = world
    with pytest.raises(Forbidden) as forbidden:
        service.provider_resource(PUBLISHABLE, "fake", "templates")
    assert outcome(forbidden.value) == ("Forbidden", 403, "secret_key_required")
    with pytest.raises(NotFound) as missing:
        service.provider_resource(CALLER, "fake", "templates")
    assert outcome(missing.value) == ("NotFound", 404, "resource_not_found")
