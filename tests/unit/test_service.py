"""The use cases with fakes for everything outside (provider, Step Functions, EventBridge, SES) and the
in-memory session store (held to the DynamoDB store by the repository contract tests); a clock the
tests move. No moto: these run in milliseconds."""

from __future__ import annotations

import dataclasses
import json
import random
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest

from idgate.api import Caller
from idgate.domain import Session, Status
from idgate.errors import (
    Conflict,
    ProviderFailed,
    ProviderRejected,
    ProviderUnavailable,
    TooManyRequests,
    ValidationFailed,
)
from idgate.providers.base import NewVerification, Observation, StartRequest
from idgate.service import Idgate
from idgate.store import epoch
from tests.support.memory_idempotency import InMemoryIdempotencyKeys
from tests.support.memory_store import DEFAULT_RETENTION
from tests.support.world import CALLER, World, awaiting_pin, make_world, new_session, state, store_of


@pytest.fixture
def world() -> World:
    return make_world()


def test_an_idle_session_expires_at_its_deadline_after_one_last_look(world):
    service, provider, outside, clock = world
    session = new_session(service)
    provider.answers = [Observation(Status.PENDING, "pending")]
    clock.now = session.expires_at
    assert service.poll(state(session)).done is True
    final = service.get_session(CALLER, session.id, None)
    assert (final.status, final.result.reasons if final.result else None) == (
        Status.EXPIRED,
        ["verification_expired"],
    )
    assert provider.looks == 1
    service.publish_final(session.id)
    assert len(outside.published) == 1


def test_a_verdict_seen_at_the_deadline_is_kept(world):
    service, provider, _, clock = world
    session = new_session(service)
    provider.answers = [Observation(Status.APPROVED, "verified")]
    clock.now = session.expires_at + timedelta(seconds=1)
    service.poll(state(session))
    assert service.get_session(CALLER, session.id, None).status is Status.APPROVED


def test_a_provider_unreachable_at_the_deadline_ends_in_error_with_the_reason(world):
    service, provider, _, clock = world
    session = new_session(service)
    provider.answers = [ProviderUnavailable("provider_unreachable", "down")]
    for _ in range(3):
        with pytest.raises(ProviderUnavailable):
            service.poll(state(session))  # before the deadline: the state machine retries
    clock.now = session.expires_at
    service.poll(state(session))
    final = service.get_session(CALLER, session.id, None)
    assert final.status is Status.ERROR
    assert final.result is not None
    assert final.result.reasons == ["provider_unreachable"]


def test_a_review_that_outlives_its_follow_limit_ends_as_a_review_timeout(world):
    service, provider, _, clock = world
    session = new_session(service)
    provider.answers = [Observation(Status.REVIEW, "needs_manual_review")]
    service.poll(state(session))
    in_review = service.get_session(CALLER, session.id, None)
    assert in_review.expires_at == clock.now + timedelta(hours=1)
    # Kept while it is followed, and the retention after: exactly, not merely "later than now".
    stored = store_of(service).stored_item(session.id)
    assert stored is not None
    assert stored["expires_ttl"] == epoch(in_review.expires_at + DEFAULT_RETENTION)
    clock.now = in_review.expires_at
    service.poll(state(session))
    final = service.get_session(CALLER, session.id, None)
    assert final.status is Status.EXPIRED
    assert final.result is not None
    assert final.result.reasons == ["review_timeout"]


def test_a_final_status_is_published_from_the_stream_never_by_its_writer(world):
    service, provider, outside, _ = world
    session = new_session(service)
    provider.answers = [Observation(Status.APPROVED, "verified")]
    assert service.poll(state(session)).done is True
    assert outside.published == []  # the writer's path publishes nothing
    assert service.publish_final(session.id) is True  # the stream record of that write
    assert [published.id for published in outside.published] == [session.id]
    assert service.publish_final(session.id) is True  # a duplicate record: nothing more
    assert len(outside.published) == 1


def test_a_failed_publish_is_retried_by_the_stream_and_published_once(world):
    service, provider, outside, _ = world
    session = new_session(service)
    provider.answers = [Observation(Status.APPROVED, "verified")]
    service.poll(state(session))
    outside.publish_failures = 5
    with pytest.raises(RuntimeError):
        service.publish_final(session.id)  # three tries, then the record fails and is retried
    assert outside.publish_failures == 2
    assert outside.published == []
    assert service.publish_final(session.id) is True  # the stream's retry
    assert [published.id for published in outside.published] == [session.id]


def test_nothing_is_published_for_an_open_or_unknown_session(world):
    service, _, outside, _ = world
    session = new_session(service)
    assert service.publish_final(session.id) is False
    assert service.publish_final("ses_unknown0000000000000") is False
    assert outside.published == []


def test_the_follow_up_continues_in_a_new_execution_after_its_checks(world):
    service, provider, outside, _ = world
    session = new_session(service)
    provider.answers = [Observation(Status.PENDING, "pending")]
    step = state(session, generation=0, execution_checks=0)
    for _ in range(3):
        step = service.poll(step)
        assert step.done is False
    last = service.poll(step)
    assert last.done is True
    successor = outside.started[-1]
    assert (successor.generation, successor.execution_checks, successor.attempt) == (1, 0, 4)
    assert successor.done is False
    assert successor.execution_name == f"{session.id}.1"


def test_pin_tries_are_counted_and_the_right_pin_approves(world):
    service, provider, outside, _ = world
    session, client_secret, _ = service.create_session(
        CALLER, {"provider": "fake", "email": "u@example.com", "options": {"two_factor": True}}
    )
    provider.answers = [Observation(Status.AWAITING_PIN, "OK", risk=True, second_factor_code="000042")]
    service.poll(state(session))
    assert outside.mails == [{"to": "u@example.com", "pin": "000042", "valid_minutes": 10}]
    for remaining in (4, 3):
        with pytest.raises(ValidationFailed) as wrong:
            service.submit_pin(CALLER, session.id, client_secret, "999999")
        assert wrong.value.details["attempts_remaining"] == remaining
    approved = service.submit_pin(CALLER, session.id, client_secret, "000042")
    assert approved.status is Status.APPROVED
    assert approved.email is None
    assert approved.pin_hash is None
    with pytest.raises(Conflict):
        service.submit_pin(CALLER, session.id, client_secret, "000042")


def test_a_pin_after_its_deadline_declines(world):
    service, provider, _, clock = world
    session, client_secret, _ = service.create_session(
        CALLER, {"provider": "fake", "email": "u@example.com", "options": {"two_factor": True}}
    )
    provider.answers = [Observation(Status.AWAITING_PIN, "OK", risk=True, second_factor_code="123456")]
    service.poll(state(session))
    clock.now += timedelta(minutes=10)
    with pytest.raises(Conflict) as late:
        service.submit_pin(CALLER, session.id, client_secret, "123456")
    assert late.value.code == "pin_expired"
    assert service.get_session(CALLER, session.id, None).status is Status.DECLINED


def test_every_session_is_followed_from_creation_on_its_providers_schedule(world):
    service, provider, outside, _ = world
    provider.first_wait = 30
    session = new_session(service)
    (started,) = outside.started
    assert (started.session_id, started.wait_seconds, started.attempt) == (session.id, 30, 0)
    assert started.execution_name == session.id


# ---- deadlines under faults (idgate.deadline) ------------------------------------------------------

UNREACHABLE = ProviderUnavailable("provider_unreachable", "down")


def final_of(service: Idgate, session: Session) -> tuple[Status, list[str]]:
    final = service.get_session(CALLER, session.id, None)
    return final.status, (final.result.reasons if final.result else [])


def test_a_fault_on_the_way_does_not_decide_the_deadline_once_the_provider_answers(world):
    service, provider, _, clock = world
    session = new_session(service)
    provider.answers = [UNREACHABLE, Observation(Status.PENDING, "pending")]
    with pytest.raises(ProviderUnavailable):
        service.poll(state(session))  # early on: the state machine retries
    clock.now = session.expires_at
    service.poll(state(session))
    assert final_of(service, session) == (Status.EXPIRED, ["verification_expired"])


def test_one_blip_on_the_last_look_is_retried_and_a_last_second_verdict_counts(world):
    service, provider, _, clock = world
    session = new_session(service)
    provider.answers = [UNREACHABLE, UNREACHABLE, Observation(Status.APPROVED, "verified")]
    clock.now = session.expires_at
    assert service.poll(state(session)).done is True
    assert final_of(service, session)[0] is Status.APPROVED
    assert provider.looks == 3


def test_an_outage_that_began_inside_the_final_stretch_is_not_an_error(world):
    service, provider, _, clock = world
    session = new_session(service)
    provider.answers = [UNREACHABLE]
    clock.now = session.expires_at - timedelta(seconds=10)  # the stretch is the last 30 s here
    with pytest.raises(ProviderUnavailable):
        service.poll(state(session))
    clock.now = session.expires_at
    service.poll(state(session))
    assert final_of(service, session) == (Status.EXPIRED, ["verification_expired"])
    assert provider.looks == 1 + 6  # the last look was tried six times


def test_an_outage_through_the_whole_final_stretch_is_an_error(world):
    service, provider, _, clock = world
    session = new_session(service)
    provider.answers = [UNREACHABLE]
    for seconds_before in (31, 20, 10):  # a step and the state machine's two retries, each time
        clock.now = session.expires_at - timedelta(seconds=seconds_before)
        with pytest.raises(ProviderUnavailable):
            service.poll(state(session))
    clock.now = session.expires_at
    service.poll(state(session))
    assert final_of(service, session) == (Status.ERROR, ["provider_unreachable"])
    assert service.get_session(CALLER, session.id, None).failed_looks == 3


def test_a_few_unlucky_failures_through_the_final_stretch_are_not_an_error(world):
    """A hang takes a look's whole time-out: two of them can span the final stretch. Seven looks that
    failed in a row are not enough to say the provider was down."""
    service, provider, _, clock = world
    session = new_session(service)
    provider.answers = [UNREACHABLE]
    clock.now = session.expires_at - timedelta(seconds=31)
    with pytest.raises(ProviderUnavailable):
        service.poll(state(session))
    clock.now = session.expires_at
    service.poll(state(session))  # six tries of the last look fail too: seven in a row
    assert final_of(service, session) == (Status.EXPIRED, ["verification_expired"])


def test_a_recovered_provider_starts_the_outage_clock_again(world):
    service, provider, _, clock = world
    session = new_session(service)
    provider.answers = [UNREACHABLE, Observation(Status.PENDING, "pending"), UNREACHABLE]
    with pytest.raises(ProviderUnavailable):
        service.poll(state(session))
    assert service.get_session(CALLER, session.id, None).unreachable_since == clock.now
    clock.now = session.expires_at - timedelta(seconds=20)
    service.poll(state(session))
    assert service.get_session(CALLER, session.id, None).unreachable_since is None
    clock.now = session.expires_at
    service.poll(state(session))  # every try of the last look fails, but the outage is 0 s old
    assert final_of(service, session) == (Status.EXPIRED, ["verification_expired"])


@pytest.mark.parametrize("seconds_before", [0, 5, 14])
def test_the_provider_saying_it_is_over_near_our_deadline_is_expiry(world, seconds_before: int):
    service, provider, _, clock = world
    session = new_session(service)
    provider.answers = [ProviderRejected("provider_token_rejected", "Invalid Token")]
    clock.now = session.expires_at - timedelta(seconds=seconds_before)  # clock skew
    service.poll(state(session))
    assert final_of(service, session) == (Status.EXPIRED, ["verification_expired"])


def test_the_provider_saying_it_is_over_long_before_our_deadline_is_an_error(world):
    service, provider, _, clock = world
    session = new_session(service)
    provider.answers = [ProviderRejected("provider_token_rejected", "Invalid Token")]
    clock.now = session.expires_at - timedelta(seconds=60)
    service.poll(state(session))
    assert final_of(service, session) == (Status.ERROR, ["provider_token_rejected"])


@pytest.mark.parametrize("reason", ["provider_auth_failed", "provider_access_denied"])
def test_a_refusal_that_is_ours_at_the_deadline_is_an_error(world, reason: str):
    service, provider, _, clock = world
    session = new_session(service)
    provider.answers = [ProviderRejected(reason, "no")]
    clock.now = session.expires_at
    service.poll(state(session))
    assert final_of(service, session) == (Status.ERROR, [reason])


def test_a_review_that_begins_at_the_last_look_is_followed_on(world):
    service, provider, _, clock = world
    session = new_session(service)
    provider.answers = [Observation(Status.REVIEW, "needs_manual_review")]
    clock.now = session.expires_at
    step = service.poll(state(session))
    assert step.done is False
    in_review = service.get_session(CALLER, session.id, None)
    assert in_review.status is Status.REVIEW
    assert in_review.expires_at == clock.now + timedelta(hours=1)


# ---- PIN tries in parallel ---------------------------------------------------------------------------


def parallel_tries(service: Idgate, session: Session, client_secret: str, pins: list[str]) -> list[Any]:
    barrier = threading.Barrier(len(pins))

    def attempt(pin: str) -> Any:
        barrier.wait()
        try:
            return service.submit_pin(CALLER, session.id, client_secret, pin)
        except (ValidationFailed, Conflict) as exc:
            return exc

    with ThreadPoolExecutor(len(pins)) as pool:
        return list(pool.map(attempt, pins))


def test_the_right_pin_within_the_tries_always_approves_whatever_runs_in_parallel(world):
    service, provider, outside, _ = world
    for round_number in range(20):
        session, client_secret = awaiting_pin(service, provider, "000042")
        pins = ["999999"] * 4 + ["000042"]  # five tries: the right one is within the limit
        random.Random(round_number).shuffle(pins)
        answers = dict(zip(pins, parallel_tries(service, session, client_secret, pins), strict=False))
        right = answers["000042"]
        assert isinstance(right, Session), f"round {round_number}: {right!r}"
        assert right.status is Status.APPROVED
        assert final_of(service, session)[0] is Status.APPROVED
        service.publish_final(session.id)
    assert len(outside.published) == 20


def test_a_right_pin_past_the_tries_is_never_answered_as_a_success_with_a_decline(world):
    service, provider, outside, _ = world
    for round_number in range(20):
        session, client_secret = awaiting_pin(service, provider, "000042")
        pins = ["999999"] * 5 + ["000042"]  # six tries for five: who is counted first decides
        random.Random(round_number).shuffle(pins)
        answers = parallel_tries(service, session, client_secret, pins)
        right = answers[pins.index("000042")]
        status = final_of(service, session)[0]
        if isinstance(right, Session):
            assert right.status is Status.APPROVED
            assert status is Status.APPROVED
        else:
            assert right.code in ("pin_attempts_exceeded", "session_final")
            assert status is Status.DECLINED
        service.publish_final(session.id)
    assert len(outside.published) == 20


# ---- creating sessions safely: Idempotency-Key and the open-session limit ---------------------------------


@pytest.fixture
def guarded(world):
    service, provider, outside, clock = world
    deps = dataclasses.replace(service.deps, idempotency=InMemoryIdempotencyKeys(), max_open_sessions=3)
    return Idgate(deps), provider, outside, clock


def test_the_same_key_and_body_answer_the_same_session_once_created(guarded):
    service, _, _, _ = guarded
    body = {"provider": "fake", "reference": "order-7"}
    first = service.create_session(CALLER, body, idempotency_key="order-7-try")
    reordered = {"reference": "order-7", "provider": "fake"}
    again = service.create_session(CALLER, reordered, idempotency_key="order-7-try")
    assert again[0].id == first[0].id
    assert again[1] == first[1]  # the client secret, shown again
    assert again[0].status is Status.PENDING
    other = service.create_session(CALLER, body, idempotency_key="another-key")
    assert other[0].id != first[0].id


def test_the_same_key_with_another_body_is_a_409(guarded):
    service, _, _, _ = guarded
    service.create_session(CALLER, {"provider": "fake"}, idempotency_key="k1")
    with pytest.raises(Conflict) as raised:
        service.create_session(CALLER, {"provider": "fake", "reference": "x"}, idempotency_key="k1")
    assert raised.value.code == "idempotency_key_reused"


def test_a_failed_creation_frees_its_key(guarded):
    service, provider, _, _ = guarded
    provider_start = provider.start

    def down(request: StartRequest) -> NewVerification:
        raise ProviderUnavailable("provider_unreachable", "down")

    provider.start = down  # type: ignore[method-assign]
    with pytest.raises(ProviderFailed):
        service.create_session(CALLER, {"provider": "fake"}, idempotency_key="k1")
    provider.start = provider_start  # type: ignore[method-assign]
    session, _, _ = service.create_session(CALLER, {"provider": "fake"}, idempotency_key="k1")
    assert session.status is Status.PENDING


def test_a_key_whose_session_is_final_answers_409_with_the_session(guarded):
    service, provider, _, _ = guarded
    session, _, _ = service.create_session(CALLER, {"provider": "fake"}, idempotency_key="k1")
    provider.answers = [Observation(Status.APPROVED, "verified")]
    service.poll(state(session))
    with pytest.raises(Conflict) as raised:
        service.create_session(CALLER, {"provider": "fake"}, idempotency_key="k1")
    assert (raised.value.code, raised.value.details["session_id"]) == ("session_final", session.id)


@pytest.mark.parametrize("key", ["", " spaced key", "é", "x" * 256])
def test_a_malformed_key_is_a_422(guarded, key: str):
    service, _, _, _ = guarded
    with pytest.raises(ValidationFailed) as raised:
        service.create_session(CALLER, {"provider": "fake"}, idempotency_key=key)
    assert raised.value.code == "invalid_idempotency_key"
    assert raised.value.message  # some explanation for the integrator


def test_concurrent_requests_with_one_key_create_one_session(guarded):
    service, _, _, _ = guarded
    barrier = threading.Barrier(8)

    def create(_: int) -> Any:
        barrier.wait()
        try:
            return service.create_session(CALLER, {"provider": "fake"}, idempotency_key="burst")[0].id
        except Conflict as exc:
            return exc.code

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(create, range(8)))
    created = {answer for answer in answers if answer.startswith("ses_")}
    assert len(created) == 1
    assert set(answers) - created <= {"idempotency_key_in_use"}


def test_a_client_may_not_hold_more_open_sessions_than_the_limit(guarded):
    service, provider, _, _ = guarded
    sessions = [service.create_session(CALLER, {"provider": "fake"})[0] for _ in range(3)]
    with pytest.raises(TooManyRequests) as raised:
        service.create_session(CALLER, {"provider": "fake"})
    assert (raised.value.status, raised.value.code) == (429, "too_many_open_sessions")
    other_client = Caller(kind="publishable", client_id="another-shop")
    assert service.create_session(other_client, {"provider": "fake"})[0].status is Status.PENDING
    provider.answers = [Observation(Status.DECLINED, "KO")]
    service.poll(state(sessions[0]))  # a final session frees its place
    assert service.create_session(CALLER, {"provider": "fake"})[0].status is Status.PENDING


def test_what_happens_to_a_session_is_counted_by_provider_and_status(world, capsys):
    service, provider, _, clock = world
    session = new_session(service)
    provider.answers = [UNREACHABLE, Observation(Status.DECLINED, "KO")]
    with pytest.raises(ProviderUnavailable):
        service.poll(state(session))
    clock.now += timedelta(seconds=30)
    service.poll(state(session))
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    counted = {
        (name, line.get("provider"), line.get("status") or line.get("reason"))
        for line in lines
        for name in (m["Name"] for m in line["_aws"]["CloudWatchMetrics"][0]["Metrics"])
    }
    assert ("SessionsCreated", "fake", None) in counted
    assert ("ProviderCallFailures", "fake", "provider_unreachable") in counted
    assert ("SessionsFinalized", "fake", "declined") in counted
    [took] = [line["TimeToVerdict"] for line in lines if "TimeToVerdict" in line]
    assert took == [30.0]
    assert not any(session.id in json.dumps(line) for line in lines)  # never a dimension
