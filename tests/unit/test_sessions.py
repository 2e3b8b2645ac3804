"""Starting a verification and reading it (idgate.sessions): what is answered, what is stored, and who may."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel, Field, HttpUrl

from idgate.api import Caller
from idgate.checks import AgeCheckOptions, IdentityCheckOptions
from idgate.domain import Reason, Status
from idgate.errors import (
    Conflict,
    Forbidden,
    NotFound,
    ProviderFailed,
    ProviderRejected,
    ProviderUnavailable,
    ServiceUnavailable,
    TooManyRequests,
    ValidationFailed,
)
from idgate.follow_state import FollowState
from idgate.providers.base import Image, NewVerification, Observation, StartRequest
from idgate.qr import qr_data_uri
from idgate.secrets_util import sha256_hex
from idgate.store import epoch
from tests.support.emf import provider_call_failures
from tests.support.memory_idempotency import InMemoryIdempotencyKeys
from tests.support.memory_store import DEFAULT_RETENTION
from tests.support.world import (
    CALLER,
    EXPIRES_AT,
    VERIFICATION_URL,
    FakeImageProvider,
    FakeProvider,
    FakeWebhookProvider,
    World,
    make_world,
    state,
    store_of,
)

PUBLISHABLE = Caller(kind="publishable", client_id="shop")
OWN_QR = "data:image/png;base64,iVBORw0KGgo="


@pytest.fixture
def world() -> World:
    return make_world()


@pytest.fixture
def guarded() -> World:
    """A deployment that keeps Idempotency-Keys."""
    return make_world(idempotency=InMemoryIdempotencyKeys())


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
    assert len(client_secret) == len("cs_") + 32  # 24 random bytes, URL-safe base64
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
    callers = (
        Caller(kind="client_secret"),
        Caller(kind="client_secret", client_id="shop"),  # a session's client secret, of that client
        Caller(kind="secret", client_id=None),
    )
    for caller in callers:
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
                "checks": [],  # it declares none
            }
        ],
        "checks": {
            "age": AgeCheckOptions.model_json_schema(),
            "identity": IdentityCheckOptions.model_json_schema(),
        },
    }


def test_provider_resources_need_a_secret_key_and_a_provider_that_has_them(world):
    service, _, _, _ = world
    with pytest.raises(Forbidden) as forbidden:
        service.provider_resource(PUBLISHABLE, "fake", "templates")
    assert outcome(forbidden.value) == ("Forbidden", 403, "secret_key_required")
    with pytest.raises(NotFound) as missing:
        service.provider_resource(CALLER, "fake", "templates")
    assert outcome(missing.value) == ("NotFound", 404, "resource_not_found")


# ---- the provider's webhook URL, a replayed creation, document images and provider resources ---------


def tokens(provider: str) -> str:
    return f"token-of-{provider}"


def test_a_provider_that_takes_webhooks_is_started_with_our_webhook_url_for_it():
    hooked = FakeWebhookProvider()
    service, provider, _, _ = make_world(others=(hooked,), webhook_tokens=tokens)
    service.create_session(PUBLISHABLE, {"provider": "hooked"}, api_base_url="https://api.example/")
    service.create_session(PUBLISHABLE, {"provider": "fake"}, api_base_url="https://api.example/")
    (request,) = hooked.starts
    assert request.webhook_url == "https://api.example/v1/webhooks/hooked/token-of-hooked"
    assert provider.starts[0].webhook_url is None  # it takes no webhook


def test_without_the_apis_own_url_no_webhook_url_is_given():
    hooked = FakeWebhookProvider()
    service, _, _, _ = make_world(others=(hooked,), webhook_tokens=tokens)
    service.create_session(PUBLISHABLE, {"provider": "hooked"})
    assert hooked.starts[0].webhook_url is None


def test_a_replayed_creation_answers_the_session_as_created_while_it_is_open(guarded):
    service, provider, _, _ = guarded
    first, client_secret, qr_code = service.create_session(CALLER, {"provider": "fake"}, idempotency_key="k1")
    provider.answers = [Observation(Status.REVIEW, "review")]
    service.poll(state(first))
    assert store_of(service).get(first.id).status is Status.REVIEW
    again = service.create_session(CALLER, {"provider": "fake"}, idempotency_key="k1")
    assert (again[0].id, again[0].status, again[1], again[2]) == (
        first.id,
        Status.PENDING,
        client_secret,
        qr_code,
    )


def test_a_replayed_creation_whose_session_is_gone_is_a_409(guarded):
    service, _, _, _ = guarded
    session, _, _ = service.create_session(CALLER, {"provider": "fake"}, idempotency_key="k1")
    del store_of(service)._items[session.id]  # its retention ended
    with pytest.raises(Conflict) as raised:
        service.create_session(CALLER, {"provider": "fake"}, idempotency_key="k1")
    assert outcome(raised.value) == ("Conflict", 409, "session_final")
    assert raised.value.details["session_id"] == session.id


def test_an_idempotency_key_is_a_422_where_the_deployment_keeps_none(world):
    service, provider, _, _ = world
    with pytest.raises(ValidationFailed) as raised:
        service.create_session(CALLER, {"provider": "fake"}, idempotency_key="k1")
    assert outcome(raised.value) == ("ValidationFailed", 422, "invalid_idempotency_key")
    assert provider.starts == []


FRONT = Image(b"front-jpeg", "image/jpeg")
BACK = Image(b"back-png", "image/png")


@pytest.fixture
def imaging() -> tuple[Any, FakeImageProvider, str]:
    """A world whose "imaging" provider has images, and one of its sessions."""
    provider = FakeImageProvider(images={("front", True): FRONT, ("back", False): BACK})
    service, _, _, _ = make_world(others=(provider,), allow_unredacted_images=True)
    session, _, _ = service.create_session(CALLER, {"provider": "imaging"})
    return service, provider, session.id


def test_a_document_image_is_the_providers_passed_through(imaging):
    service, provider, session_id = imaging
    assert service.image(CALLER, session_id, "front", redacted=True) == FRONT
    assert service.image(CALLER, session_id, "back", redacted=False) == BACK
    assert provider.asked == [("image", session_id, "front", True), ("image", session_id, "back", False)]


def test_only_the_front_and_the_back_are_images(imaging):
    service, provider, session_id = imaging
    with pytest.raises(NotFound) as raised:
        service.image(CALLER, session_id, "selfie", redacted=True)
    assert outcome(raised.value) == ("NotFound", 404, "image_not_found")
    assert provider.asked == []


def test_unredacted_images_are_refused_unless_the_deployment_allows_them():
    provider = FakeImageProvider(images={("front", True): FRONT, ("front", False): BACK})
    service, _, _, _ = make_world(others=(provider,))
    session, _, _ = service.create_session(CALLER, {"provider": "imaging"})
    assert service.image(CALLER, session.id, "front", redacted=True) == FRONT
    with pytest.raises(Forbidden) as raised:
        service.image(CALLER, session.id, "front", redacted=False)
    assert outcome(raised.value) == ("Forbidden", 403, "unredacted_images_disabled")
    assert provider.asked == [("image", session.id, "front", True)]


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (None, ("NotFound", 404, "image_not_found")),
        (ProviderRejected(Reason.PROVIDER_NOT_FOUND, "gone"), ("NotFound", 404, "image_not_found")),
        (
            ProviderRejected(Reason.PROVIDER_ACCESS_DENIED, "no"),
            ("ProviderFailed", 502, "provider_access_denied"),
        ),
        (
            ProviderUnavailable(Reason.PROVIDER_UNREACHABLE, "down"),
            ("ProviderFailed", 502, "provider_unavailable"),
        ),
    ],
)
def test_an_image_the_provider_has_not_or_cannot_give_is_a_404_or_a_502(imaging, answer, expected):
    service, provider, session_id = imaging
    provider.images[("front", True)] = answer
    with pytest.raises((NotFound, ProviderFailed)) as raised:
        service.image(CALLER, session_id, "front", redacted=True)
    assert outcome(raised.value) == expected


def test_a_provider_resource_is_read_from_the_provider(imaging):
    service, provider, _ = imaging
    provider.listing = {"templates": [{"id": "t1"}]}
    assert service.provider_resource(CALLER, "imaging", "templates") == {"templates": [{"id": "t1"}]}
    assert provider.asked[-1] == ("resource", "templates")


def test_a_resource_the_provider_does_not_list_is_a_404(imaging):
    service, provider, _ = imaging
    with pytest.raises(NotFound) as raised:
        service.provider_resource(CALLER, "imaging", "accounts")
    assert outcome(raised.value) == ("NotFound", 404, "resource_not_found")
    assert provider.asked == []


def test_a_provider_unreachable_for_a_resource_is_a_502(imaging):
    service, provider, _ = imaging
    provider.listing = ProviderUnavailable(Reason.PROVIDER_UNREACHABLE, "down")
    with pytest.raises(ProviderFailed) as raised:
        service.provider_resource(CALLER, "imaging", "templates")
    assert outcome(raised.value) == ("ProviderFailed", 502, "provider_unavailable")


def test_with_an_idempotency_key_too_the_provider_gets_our_webhook_url():
    hooked = FakeWebhookProvider()
    service, _, _, _ = make_world(
        others=(hooked,), webhook_tokens=tokens, idempotency=InMemoryIdempotencyKeys()
    )
    service.create_session(
        CALLER, {"provider": "hooked"}, api_base_url="https://api.example", idempotency_key="k1"
    )
    assert hooked.starts[0].webhook_url == "https://api.example/v1/webhooks/hooked/token-of-hooked"


def test_each_client_has_its_own_idempotency_keys(guarded):
    service, _, _, _ = guarded
    mine, _, _ = service.create_session(CALLER, {"provider": "fake"}, idempotency_key="k1")
    theirs, _, _ = service.create_session(
        Caller(kind="secret", client_id="another-shop"), {"provider": "fake"}, idempotency_key="k1"
    )
    assert mine.id != theirs.id
    assert store_of(service).get(theirs.id).client_id == "another-shop"  # type: ignore[union-attr]


def test_the_open_session_limit_is_a_429():
    service, _, _, _ = make_world(max_open_sessions=1)
    service.create_session(CALLER, {"provider": "fake"})
    with pytest.raises(TooManyRequests) as raised:
        service.create_session(CALLER, {"provider": "fake"})
    assert outcome(raised.value) == ("TooManyRequests", 429, "too_many_open_sessions")


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        (ProviderUnavailable(Reason.PROVIDER_UNREACHABLE, "down"), "provider_unreachable"),
        (ProviderFailed("refused", code="provider_auth_failed"), "provider_auth_failed"),
    ],
)
def test_a_failed_start_is_counted_by_provider_and_reason(world, capsys, failure, reason):
    service, provider, _, _ = world

    def failing(request: StartRequest) -> NewVerification:
        raise failure

    provider.start = failing  # type: ignore[method-assign]
    with pytest.raises(ProviderFailed):
        service.create_session(PUBLISHABLE, {"provider": "fake"})
    assert provider_call_failures(capsys) == [("fake", reason)]


class RichOptions(BaseModel):
    return_url: HttpUrl | None = None
    document: str | None = None
    phone: str | None = Field(default=None, exclude=True)  # personal data it only passes on


@dataclass
class RichProvider(FakeProvider):
    name: ClassVar[str] = "rich"
    options_model: ClassVar[type[BaseModel]] = RichOptions

    def parse_options(self, options: Any, *, email: str | None) -> RichOptions:
        return RichOptions.model_validate(options)


def test_a_sessions_options_are_stored_as_json_without_empty_or_excluded_ones():
    service, _, _, _ = make_world(others=(RichProvider(),))
    body = {
        "provider": "rich",
        "options": {"return_url": "https://shop.example/done", "phone": "+33600000000"},
    }
    session, _, _ = service.create_session(CALLER, body)
    assert store_of(service).stored_item(session.id)["options"] == {  # type: ignore[index]
        "return_url": "https://shop.example/done"
    }
