"""Redacting a session (idgate.redacting): only the secret key of its client, only once it is final; its
status and reason codes stay, what ties it to a person goes, and one `session.redacted` event goes out."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from idgate.api import Caller, session_view
from idgate.domain import Status
from idgate.errors import Conflict, Forbidden, NotFound
from idgate.providers.base import Image, Observation
from tests.support.messages import says
from tests.support.world import (
    CALLER,
    FakeImageProvider,
    World,
    make_world,
    new_session,
    state,
    store_of,
)

APPROVED = Observation(Status.APPROVED, "verified", risk=False, reasons=("provider_ok",), data={"age": 21})


@pytest.fixture
def world() -> World:
    return make_world()


def approved_session(world: World, *, reference: str = "order-42") -> str:
    service, provider, _, _ = world
    session, _, _ = service.create_session(CALLER, {"provider": "fake", "reference": reference})
    provider.answers = [APPROVED]
    service.poll(state(session))
    return session.id


def test_a_final_session_loses_its_personal_data_and_keeps_its_verdict(world):
    service, _, _, clock = world
    session_id = approved_session(world)
    before = store_of(service).stored_item(session_id)
    assert before is not None
    assert (before["reference"], before["provider_ref"], before["result"]["data"]) == (
        "order-42",
        "ref-1",
        {"age": 21},
    )

    redacted = service.redact_session(CALLER, session_id)

    item = store_of(service).stored_item(session_id)
    assert item is not None
    for erased in ("reference", "provider_ref", "provider_token", "verification_url", "email"):
        assert erased not in item, erased
    assert item["result"] == {
        "decision": "approved",
        "provider_status": "verified",
        "risk": False,
        "reasons": ["provider_ok"],
        "data": {},
    }
    assert (item["status"], item["finalized_at"]) == ("approved", before["finalized_at"])
    assert item["expires_ttl"] == before["expires_ttl"], "the retention is the session's, unchanged"
    assert item["redacted_at"] == clock.now.isoformat()
    view = session_view(redacted)
    assert (view["status"], view["reference"], view["result"]["data"]) == ("approved", None, {})
    assert view["redacted_at"] == clock.now.isoformat().replace("+00:00", "Z")


def test_its_event_goes_out_once_and_repeating_it_changes_nothing(world):
    service, _, outside, clock = world
    session_id = approved_session(world)
    service.redact_session(CALLER, session_id)
    first = store_of(service).stored_item(session_id)
    clock.now = clock.now.replace(year=clock.now.year + 1)

    again = service.redact_session(CALLER, session_id)

    assert store_of(service).stored_item(session_id) == first
    assert again.redacted_at is not None
    assert again.redacted_at.isoformat() == first["redacted_at"]
    assert service.announcer.publish_redacted(session_id) is True
    assert service.announcer.publish_redacted(session_id) is True
    assert [session.id for session in outside.redactions] == [session_id]
    assert outside.redactions[0].reference is None


def test_a_failed_redaction_event_is_retried_by_the_stream(world):
    service, _, outside, _ = world
    session_id = approved_session(world)
    service.redact_session(CALLER, session_id)
    outside.publish_failures = 3  # more than the publisher's own tries
    with pytest.raises(RuntimeError):
        service.announcer.publish_redacted(session_id)
    assert outside.redactions == []
    assert (
        service.announcer.publish_redacted(session_id) is True
    )  # the stream's retry: the claim was released
    assert [session.id for session in outside.redactions] == [session_id]


def test_an_unredacted_session_has_no_redaction_event(world):
    service, _, outside, _ = world
    session_id = approved_session(world)
    assert service.announcer.publish_redacted(session_id) is False
    assert service.announcer.publish_redacted("ses_AAAAAAAAAAAAAAAAAAAA") is False
    assert outside.redactions == []


def test_an_open_session_is_a_conflict_and_keeps_everything(world):
    service, _, _, _ = world
    session = new_session(service)
    before = store_of(service).stored_item(session.id)
    with pytest.raises(Conflict) as refused:
        service.redact_session(CALLER, session.id)
    assert (refused.value.status, refused.value.code) == (409, "session_open")
    says(refused.value.message, "still open", "cancel it first")  # why, and what to do instead
    assert store_of(service).stored_item(session.id) == before


@pytest.mark.parametrize(
    ("caller", "error", "code"),
    [
        (Caller(kind="publishable", client_id="shop"), Forbidden, "secret_key_required"),
        (Caller(kind="secret", client_id="another-shop"), NotFound, "session_not_found"),
    ],
)
def test_only_the_secret_key_of_its_client_redacts(world, caller, error, code):
    service, _, _, _ = world
    session_id = approved_session(world)
    before = store_of(service).stored_item(session_id)
    with pytest.raises(error) as refused:
        service.redact_session(caller, session_id)
    assert refused.value.code == code
    assert store_of(service).stored_item(session_id) == before


def test_the_403_names_what_was_refused_and_what_it_takes(world):
    service, _, _, _ = world
    session_id = approved_session(world)
    publishable = Caller(kind="publishable", client_id="shop")
    with pytest.raises(Forbidden) as redacting:
        service.redact_session(publishable, session_id)
    says(redacting.value.message, "redacting a session", "secret key")
    with pytest.raises(Forbidden) as reading:
        service.session_history(publishable, session_id)
    says(reading.value.message, "reading a session's history", "secret key")


def test_an_unknown_or_malformed_id_is_not_found(world):
    service, _, _, _ = world
    for session_id in ("ses_AAAAAAAAAAAAAAAAAAAA", "../etc"):
        with pytest.raises(NotFound):
            service.redact_session(CALLER, session_id)


def test_parallel_redactions_write_once(world):
    service, _, _, _ = world
    session_id = approved_session(world)
    start = threading.Barrier(8)

    def redact(_: int) -> str:
        start.wait()
        return service.redact_session(CALLER, session_id).status.value

    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(redact, range(8))) == ["approved"] * 8
    history = service.session_history(CALLER, session_id)["history"]
    assert [change["cause"] for change in history].count("redact") == 1


def test_the_images_of_a_redacted_session_are_not_found():
    provider = FakeImageProvider(answers=[APPROVED], images={("front", True): Image(b"png", "image/png")})
    world = make_world(others=(provider,))
    service = world[0]
    session, _, _ = service.create_session(CALLER, {"provider": "imaging"})
    service.poll(state(session))
    assert service.image(CALLER, session.id, "front", redacted=True).content == b"png"
    service.redact_session(CALLER, session.id)
    with pytest.raises(NotFound) as gone:
        service.image(CALLER, session.id, "front", redacted=True)
    assert gone.value.code == "image_not_found"
    assert len(provider.asked) == 1, "the provider is not even asked"
