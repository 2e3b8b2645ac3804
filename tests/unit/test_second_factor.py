"""The second factor (idgate.second_factor): the PIN emailed, its tries, its deadline, and every answer a
try can get, with the codes and reasons callers read compared as the strings they are."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from idgate.api import Caller
from idgate.domain import Cause, Reason, Session, Status
from idgate.errors import Conflict, NotFound, ProviderRejected, ValidationFailed
from idgate.finalizing import declined
from idgate.providers.base import Observation
from idgate.service import Idgate
from idgate.store import epoch
from tests.support.memory_store import DEFAULT_RETENTION
from tests.support.world import (
    CALLER,
    VERIFICATION_URL,
    World,
    awaiting_pin,
    make_world,
    new_session,
    state,
    store_of,
)

RIGHT, WRONG = "000042", "999999"


@pytest.fixture
def world() -> World:
    return make_world()


def wrong_try(service: Idgate, session: Session, client_secret: str) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as raised:
        service.submit_pin(CALLER, session.id, client_secret, WRONG)
    return raised.value


def conflict(service: Idgate, session: Session, client_secret: str, pin: str) -> Conflict:
    with pytest.raises(Conflict) as raised:
        service.submit_pin(CALLER, session.id, client_secret, pin)
    return raised.value


def outcome(error: Any) -> tuple[Any, ...]:
    """What a caller reads of an error: its kind, HTTP status, code and details, and some message."""
    assert isinstance(error.message, str)
    assert error.message
    return (type(error).__name__, error.status, error.code, error.details)


def final(service: Idgate, session: Session) -> tuple[str, str | None, list[str]]:
    stored = service.get_session(CALLER, session.id, None)
    assert stored.result is not None
    return stored.status.value, stored.result.provider_status, stored.result.reasons


# ---- the PIN is emailed, and the session waits for it ---------------------------------------------


@pytest.mark.parametrize(("seconds", "minutes"), [(70, 2), (600, 10), (3661, 62)])
def test_the_pin_is_emailed_with_its_validity_in_whole_minutes_rounded_up(seconds: int, minutes: int):
    service, provider, outside, _ = make_world(pin_ttl=timedelta(seconds=seconds))
    awaiting_pin(service, provider, RIGHT)
    assert outside.mails == [{"to": "u@example.com", "pin": RIGHT, "valid_minutes": minutes}]


def test_awaiting_the_pin_stores_its_hash_deadline_and_the_conditional_approval(world):
    service, provider, _, clock = world
    session, _ = awaiting_pin(service, provider, RIGHT)
    item = store_of(service).stored_item(session.id)
    assert item is not None
    deadline = clock.now + timedelta(minutes=10)
    assert item["status"] == "awaiting_pin"
    assert (item["pin_deadline"], item["expires_at"]) == (deadline.isoformat(), deadline.isoformat())
    assert item["pin_attempts"] == 0
    assert item["pin_hash"].startswith("pbkdf2_sha256$")
    assert RIGHT not in item["pin_hash"]
    # Kept until the PIN's deadline (and the retention after it), not the verification's.
    assert item["expires_ttl"] == epoch(deadline + DEFAULT_RETENTION)
    assert item["result"] == {
        "decision": "approved",
        "provider_status": "OK",
        "risk": True,
        "reasons": [],
        "data": {},
    }


def test_awaiting_the_pin_clears_a_poll_error_noted_before(world):
    service, provider, _, _ = world
    session, _, _ = service.create_session(
        CALLER, {"provider": "fake", "email": "u@example.com", "options": {"two_factor": True}}
    )
    store_of(service).update_open(
        session.id, now=world[3].now, fields={"last_poll_error": "provider_unreachable"}
    )
    provider.answers = [Observation(Status.AWAITING_PIN, "OK", second_factor_code=RIGHT)]
    service.poll(state(session))
    assert service.get_session(CALLER, session.id, None).last_poll_error is None


@pytest.mark.parametrize(("email", "code"), [(None, RIGHT), ("u@example.com", None), ("u@example.com", "")])
def test_a_second_factor_that_cannot_be_delivered_is_an_internal_error_and_sends_nothing(world, email, code):
    service, provider, outside, _ = world
    body: dict[str, Any] = {"provider": "fake", "options": {"two_factor": True}}
    if email:
        body["email"] = email
    session, _, _ = service.create_session(CALLER, body)
    provider.answers = [Observation(Status.AWAITING_PIN, "OK", second_factor_code=code)]
    with pytest.raises(ProviderRejected) as raised:
        service.poll(state(session))
    assert raised.value.reason == "internal_error"
    assert outside.mails == []
    assert service.get_session(CALLER, session.id, None).status.value == "pending"


# ---- the right PIN ---------------------------------------------------------------------------------


def test_the_right_pin_approves_with_second_factor_verified_after_the_providers_reasons(world):
    service, provider, _, _ = world
    session, client_secret, _ = service.create_session(
        CALLER, {"provider": "fake", "email": "u@example.com", "options": {"two_factor": True}}
    )
    provider.answers = [
        Observation(Status.AWAITING_PIN, "OK", risk=True, reasons=("risk_flagged",), second_factor_code=RIGHT)
    ]
    service.poll(state(session))
    approved = service.submit_pin(CALLER, session.id, client_secret, RIGHT)
    assert approved.status.value == "approved"
    assert approved.result is not None
    assert (approved.result.provider_status, approved.result.risk) == ("OK", True)
    assert approved.result.reasons == ["risk_flagged", "second_factor_verified"]
    # What was answered is the session as stored now: the personal data and secrets are gone.
    assert (approved.email, approved.pin_hash, approved.verification_url) == (None, None, None)


def test_the_right_pin_after_four_wrong_ones_still_approves(world):
    service, provider, _, _ = world
    session, client_secret = awaiting_pin(service, provider, RIGHT)
    for _ in range(4):
        wrong_try(service, session, client_secret)
    assert service.submit_pin(CALLER, session.id, client_secret, RIGHT).status is Status.APPROVED
    assert store_of(service).stored_item(session.id)["pin_attempts"] == 5  # type: ignore[index]


def test_the_right_pin_whose_approval_another_try_wrote_first_is_answered_approved(world):
    service, provider, _, _ = world
    session, client_secret = awaiting_pin(service, provider, RIGHT)
    sessions = service.deps.sessions
    advance = sessions.advance

    def loses_to_a_parallel_right_pin(*args: Any, **kwargs: Any) -> bool:
        advance(*args, **kwargs)  # the other try's approval lands first ...
        return False  # ... so this one's write is refused

    sessions.advance = loses_to_a_parallel_right_pin  # type: ignore[method-assign]
    answered = service.submit_pin(CALLER, session.id, client_secret, RIGHT)
    assert (answered.id, answered.status) == (session.id, Status.APPROVED)


@pytest.mark.parametrize("pin", [RIGHT, WRONG])
def test_a_try_once_the_tries_are_counted_up_completes_the_decline(world, pin: str):
    # Five tries counted, the fifth one's decline not written yet (it runs in parallel): this try is
    # answered as any try after the decline is, and the session is declined whoever writes it first.
    service, provider, _, clock = world
    session, client_secret = awaiting_pin(service, provider, RIGHT)
    store_of(service).update_open(session.id, now=clock.now, fields={"pin_attempts": 5})
    late = conflict(service, session, client_secret, pin)
    assert outcome(late) == ("Conflict", 409, "session_final", {})
    assert late.message == "the session is already declined"
    assert final(service, session) == ("declined", "OK", ["pin_attempts_exceeded"])
    # The fifth try's own decline then finds the verdict written and changes nothing.
    assert (
        service.finalizer.finalize(
            service.deps.sessions.get(session.id),  # type: ignore[arg-type]
            declined(session, Reason.PIN_ATTEMPTS_EXCEEDED),
            cause=Cause.POLL,
        )
        is False
    )
    assert final(service, session) == ("declined", "OK", ["pin_attempts_exceeded"])


def test_a_try_that_finds_the_session_declined_meanwhile_is_told_so(world):
    # Between this try's read and its count, a parallel fifth wrong try declined the session.
    service, provider, _, _ = world
    session, client_secret = awaiting_pin(service, provider, RIGHT)
    sessions = service.deps.sessions
    count = sessions.count_pin_attempt

    def declined_meanwhile(session_id: str, *, max_attempts: int) -> int | None:
        service.finalizer.finalize(
            service.deps.sessions.get(session_id),  # type: ignore[arg-type]
            declined(session, Reason.PIN_ATTEMPTS_EXCEEDED),
            cause=Cause.POLL,
        )
        return count(session_id, max_attempts=max_attempts)

    sessions.count_pin_attempt = declined_meanwhile  # type: ignore[method-assign]
    late = conflict(service, session, client_secret, WRONG)
    assert outcome(late) == ("Conflict", 409, "session_final", {})
    assert late.message == "the session is already declined"


# ---- wrong PINs --------------------------------------------------------------------------------------


def test_each_wrong_pin_is_pin_incorrect_with_the_tries_left(world):
    service, provider, _, _ = world
    session, client_secret = awaiting_pin(service, provider, RIGHT)
    answers = [outcome(wrong_try(service, session, client_secret)) for _ in range(4)]
    assert answers == [
        ("PinIncorrect", 422, "pin_incorrect", {"attempts_remaining": remaining})
        for remaining in (4, 3, 2, 1)
    ]
    assert service.get_session(CALLER, session.id, None).status is Status.AWAITING_PIN


def test_the_fifth_wrong_pin_declines_the_session(world):
    service, provider, _, _ = world
    session, client_secret = awaiting_pin(service, provider, RIGHT)
    for _ in range(4):
        wrong_try(service, session, client_secret)
    fifth = wrong_try(service, session, client_secret)
    assert outcome(fifth) == ("PinIncorrect", 422, "pin_attempts_exceeded", {"attempts_remaining": 0})
    assert final(service, session) == ("declined", "OK", ["pin_attempts_exceeded"])


@pytest.mark.parametrize("pin", [WRONG, RIGHT])
def test_a_sixth_try_finds_the_session_declined(world, pin: str):
    service, provider, _, _ = world
    session, client_secret = awaiting_pin(service, provider, RIGHT)
    for _ in range(5):
        wrong_try(service, session, client_secret)
    sixth = conflict(service, session, client_secret, pin)
    assert outcome(sixth) == ("Conflict", 409, "session_final", {})
    assert sixth.message == "the session is already declined"
    assert final(service, session) == ("declined", "OK", ["pin_attempts_exceeded"])


# ---- the deadline, and tries that are not expected -----------------------------------------------------


def test_a_pin_one_second_before_its_deadline_counts(world):
    service, provider, _, clock = world
    session, client_secret = awaiting_pin(service, provider, RIGHT)
    clock.now += timedelta(minutes=10) - timedelta(seconds=1)
    assert service.submit_pin(CALLER, session.id, client_secret, RIGHT).status is Status.APPROVED


@pytest.mark.parametrize("pin", [RIGHT, WRONG])
def test_a_pin_at_its_deadline_is_expired_and_declines(world, pin: str):
    service, provider, _, clock = world
    session, client_secret = awaiting_pin(service, provider, RIGHT)
    clock.now += timedelta(minutes=10)
    late = conflict(service, session, client_secret, pin)
    assert outcome(late) == ("Conflict", 409, "pin_expired", {})
    assert final(service, session) == ("declined", "OK", ["pin_expired"])
    assert store_of(service).stored_item(session.id)["pin_attempts"] == 0  # type: ignore[index]


def test_a_pin_expired_by_the_follow_up_is_declined_as_expired(world):
    service, provider, _, clock = world
    session, client_secret = awaiting_pin(service, provider, RIGHT)
    clock.now += timedelta(minutes=10)
    assert service.poll(state(session)).done is True
    assert final(service, session) == ("declined", "OK", ["pin_expired"])
    assert outcome(conflict(service, session, client_secret, RIGHT)) == ("Conflict", 409, "session_final", {})


def test_a_pin_for_a_session_that_awaits_none_is_refused(world):
    service, _, _, _ = world
    session, client_secret, _ = service.create_session(CALLER, {"provider": "fake"})
    refused = conflict(service, session, client_secret, RIGHT)
    assert outcome(refused) == ("Conflict", 409, "pin_not_expected", {})
    assert service.get_session(CALLER, session.id, None).status is Status.PENDING


def test_a_pin_for_a_final_session_is_refused_with_its_status(world):
    service, provider, _, _ = world
    session = new_session(service)
    provider.answers = [Observation(Status.APPROVED, "verified")]
    service.poll(state(session))
    refused = conflict(service, session, "", RIGHT)
    assert outcome(refused) == ("Conflict", 409, "session_final", {})
    assert refused.message == "the session is already approved"


def test_the_verification_url_is_kept_while_the_pin_is_awaited(world):
    service, provider, _, _ = world
    session, _ = awaiting_pin(service, provider, RIGHT)
    assert service.get_session(CALLER, session.id, None).verification_url == VERIFICATION_URL


# ---- from the user's browser: a publishable key and the client secret ------------------------------------

BROWSER = Caller(kind="publishable", client_id="shop")


def test_the_user_proves_the_pin_with_the_client_secret_alone(world):
    service, provider, _, _ = world
    session, client_secret = awaiting_pin(service, provider, RIGHT)
    with pytest.raises(ValidationFailed) as wrong:
        service.submit_pin(BROWSER, session.id, client_secret, WRONG)
    assert outcome(wrong.value) == ("PinIncorrect", 422, "pin_incorrect", {"attempts_remaining": 4})
    approved = service.submit_pin(BROWSER, session.id, client_secret, RIGHT)
    assert (approved.id, approved.status.value) == (session.id, "approved")


def test_the_user_learns_with_the_client_secret_that_the_tries_are_used_up(world):
    service, provider, _, clock = world
    session, client_secret = awaiting_pin(service, provider, RIGHT)
    store_of(service).update_open(session.id, now=clock.now, fields={"pin_attempts": 5})
    for pin in (WRONG, RIGHT):
        with pytest.raises(Conflict) as raised:
            service.submit_pin(BROWSER, session.id, client_secret, pin)
        assert (raised.value.code, raised.value.message) == (
            "session_final",
            "the session is already declined",
        )


def test_without_the_client_secret_a_publishable_key_cannot_try_a_pin(world):
    service, provider, _, _ = world
    session, _ = awaiting_pin(service, provider, RIGHT)
    with pytest.raises(NotFound) as raised:
        service.submit_pin(BROWSER, session.id, None, RIGHT)
    assert raised.value.code == "session_not_found"
    assert service.get_session(CALLER, session.id, None).status is Status.AWAITING_PIN
