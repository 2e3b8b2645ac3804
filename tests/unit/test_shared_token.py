"""A provider's login token shared through the sessions table (encrypted) and, without a table, by the
process: one login per token lifetime, whatever the number of containers asking at once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from idgate.errors import ProviderUnavailable
from idgate.providers.base import IssuedToken, ProcessToken, refresh_margin
from idgate.shared_token import ITEM_PREFIX, LEASE_SECONDS, WAIT_SECONDS, TableToken
from tests.support.messages import says
from tests.support.shared_token import Clock, Logins, container, stored, table_on_moto


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    with table_on_moto(monkeypatch) as aws:
        yield aws


# ---- the process-local token ------------------------------------------------------------------------


def test_a_process_token_is_reused_until_shortly_before_it_ends():
    clock, logins = Clock(), Logins(lifetime=100)
    token = ProcessToken(clock)
    assert token.get(logins) == token.get(logins) == "token-1"
    clock.now += 100 - refresh_margin(100) - 0.1
    assert token.get(logins) == "token-1"
    clock.now += 0.2
    assert token.get(logins) == "token-2"
    assert logins.count == 2


def test_a_rejected_process_token_is_renewed_once():
    logins = Logins()
    token = ProcessToken()
    first = token.get(logins)
    assert token.get(logins, rejected=first) == "token-2"
    assert token.get(logins, rejected=first) == "token-2"  # already renewed: not again
    assert logins.count == 2


def test_the_refresh_margin_is_five_minutes_or_a_fifth_of_a_short_lifetime():
    assert refresh_margin(3600) == 300
    assert refresh_margin(20) == 4


# ---- the table token ---------------------------------------------------------------------------------


def test_containers_starting_at_once_log_in_once(aws: dict[str, Any]):
    logins = Logins(delay=0.2)  # a login slow enough that every container asks while it runs
    containers = [container(aws) for _ in range(8)]
    barrier = threading.Barrier(len(containers))

    def first_call(token: TableToken) -> str:
        barrier.wait()
        return token.get(logins)

    with ThreadPoolExecutor(len(containers)) as pool:
        tokens = list(pool.map(first_call, containers))
    assert logins.count == 1
    assert set(tokens) == {"token-1"}
    assert container(aws).get(logins) == "token-1"  # a later cold start reads it too
    assert logins.count == 1


def test_the_token_is_stored_encrypted_and_bound_to_its_provider(aws: dict[str, Any]):
    container(aws).get(Logins())
    item = stored(aws)
    assert b"token-1" not in item["ciphertext"]["B"]
    assert "token-1" not in repr(item)
    assert "lease_until" not in item
    decrypted = aws["kms"].decrypt(
        CiphertextBlob=item["ciphertext"]["B"],
        EncryptionContext={"idgate:purpose": "provider-token", "idgate:provider": "faceki"},
    )
    assert decrypted["Plaintext"] == b"token-1"
    with pytest.raises(aws["kms"].exceptions.InvalidCiphertextException):
        aws["kms"].decrypt(
            CiphertextBlob=item["ciphertext"]["B"],
            EncryptionContext={"idgate:purpose": "provider-token", "idgate:provider": "other"},
        )
    # Kept a day after the token expires (a TTL compared with ">" would pass with any retention).
    assert int(item["expires_ttl"]["N"]) == int(float(item["expires_at"]["N"])) + 86_400


def test_providers_have_their_own_tokens(aws: dict[str, Any]):
    first, second = Logins(), Logins()
    assert container(aws, provider="faceki").get(first) == "token-1"
    assert container(aws, provider="other").get(second) == "token-1"
    assert first.count == second.count == 1


def test_a_rejected_token_is_renewed_once_for_every_container(aws: dict[str, Any]):
    logins = Logins(delay=0.1)
    containers = [container(aws) for _ in range(6)]
    first = containers[0].get(logins)
    for token in containers[1:]:
        assert token.get(logins) == first
    barrier = threading.Barrier(len(containers))

    def after_a_401(token: TableToken) -> str:
        barrier.wait()
        return token.get(logins, rejected=first)

    with ThreadPoolExecutor(len(containers)) as pool:
        renewed = set(pool.map(after_a_401, containers))
    assert renewed == {"token-2"}
    assert logins.count == 2


def test_near_its_end_one_caller_renews_while_the_others_keep_the_valid_token(aws: dict[str, Any]):
    clock, logins = Clock(), Logins(lifetime=100)
    renewing, waiting = container(aws, clock), container(aws, clock)
    assert renewing.get(logins) == waiting.get(logins) == "token-1"
    clock.now += 100 - refresh_margin(100) + 1  # inside the renewal window, still valid
    started, release = threading.Event(), threading.Event()

    def slow_login() -> IssuedToken:
        started.set()
        release.wait(5)
        return logins()

    with ThreadPoolExecutor(1) as pool:
        renewal = pool.submit(renewing.get, slow_login)
        assert started.wait(5)
        assert waiting.get(logins) == "token-1"  # does not wait, does not log in
        release.set()
        assert renewal.result(5) == "token-2"
    assert waiting.get(logins) == "token-2"
    assert logins.count == 2


def test_a_failed_login_frees_the_lease_at_once(aws: dict[str, Any]):
    clock = Clock()

    def failing() -> IssuedToken:
        raise ProviderUnavailable("provider_unreachable", "down")

    with pytest.raises(ProviderUnavailable):
        container(aws, clock).get(failing)
    assert "lease_until" not in stored(aws)
    logins = Logins()
    assert container(aws, clock).get(logins) == "token-1"
    assert clock.slept == 0


def test_a_lease_left_by_a_dead_container_is_taken_over_after_it_runs_out(aws: dict[str, Any]):
    clock, logins = Clock(), Logins()
    key = {"pk": {"S": ITEM_PREFIX + "faceki"}}
    aws["dynamodb"].put_item(
        TableName=aws["table"],
        Item={**key, "lease_until": {"N": str(clock.now + LEASE_SECONDS)}, "lease_owner": {"S": "gone"}},
    )
    assert container(aws, clock).get(logins) == "token-1"
    assert LEASE_SECONDS <= clock.slept < LEASE_SECONDS + 1
    assert logins.count == 1


def lease_held_by_a_slow_login(aws: dict[str, Any], clock: Clock) -> None:
    """Another caller's login holds the lease well past a waiter's deadline; there is no token yet."""
    key = {"pk": {"S": ITEM_PREFIX + "faceki"}}
    aws["dynamodb"].put_item(
        TableName=aws["table"],
        Item={**key, "lease_until": {"N": str(clock.now + 10 * WAIT_SECONDS)}, "lease_owner": {"S": "slow"}},
    )


def test_waiting_for_another_callers_login_is_bounded(aws: dict[str, Any]):
    clock = Clock()
    lease_held_by_a_slow_login(aws, clock)
    logins = Logins()
    with pytest.raises(ProviderUnavailable) as raised:
        container(aws, clock).get(logins)
    assert raised.value.reason == "provider_unreachable"
    says(str(raised.value), "another caller's login", "in time")  # the operator's log: why it gave up
    assert WAIT_SECONDS <= clock.slept < WAIT_SECONDS + 1
    assert logins.count == 0


def test_a_waiter_looks_again_soon_then_backs_off_to_half_a_second(aws: dict[str, Any]):
    # A login takes about a second: the first looks come soon (the new token is seen within 50 ms of a
    # quick login), then at most two a second (about 45 reads in the 20 s, not thousands).
    clock = Clock()
    lease_held_by_a_slow_login(aws, clock)
    with pytest.raises(ProviderUnavailable):
        container(aws, clock).get(Logins())
    assert clock.pauses[:6] == [0.05, 0.1, 0.2, 0.4, 0.5, 0.5]
    assert set(clock.pauses[4:]) == {0.5}
    assert len(clock.pauses) == 43  # 0.75 s, then 0.5 s each until the 20 s have passed


def test_a_waiter_gives_up_at_its_deadline_not_a_pause_later(aws: dict[str, Any]):
    # Each pause runs late, to 4 s: the look at 20 s finds the deadline reached and is the last.
    clock = Clock(oversleep=4.0)
    lease_held_by_a_slow_login(aws, clock)
    with pytest.raises(ProviderUnavailable):
        container(aws, clock).get(Logins())
    assert clock.slept == WAIT_SECONDS
    assert len(clock.pauses) == 5


def test_a_token_that_cannot_be_decrypted_is_renewed(aws: dict[str, Any]):
    container(aws).get(Logins())
    key = {"pk": {"S": ITEM_PREFIX + "faceki"}}
    aws["dynamodb"].update_item(
        TableName=aws["table"],
        Key=key,
        UpdateExpression="SET ciphertext = :garbage",
        ExpressionAttributeValues={":garbage": {"B": b"not a ciphertext of this key"}},
    )
    logins = Logins()
    assert container(aws).get(logins) == "token-1"
    assert logins.count == 1


def test_a_container_reads_the_table_once_per_token(aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch):
    token = container(aws)
    logins = Logins()
    token.get(logins)
    reads = []
    original = TableToken._read

    def counted(self: TableToken) -> Any:
        reads.append(1)
        return original(self)

    monkeypatch.setattr(TableToken, "_read", counted)
    for _ in range(5):
        assert token.get(logins) == "token-1"
    assert reads == []
