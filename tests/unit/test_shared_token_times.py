"""The shared provider token (idgate.shared_token) at its edges: renewed from its renewal time, never handed
out from its end, kept by a container until its renewal time, read strongly consistent, and a login that
outlives its lease."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from idgate.errors import ProviderUnavailable
from idgate.providers.base import IssuedToken, refresh_margin
from idgate.shared_token import TableToken
from tests.support.recording import Recording
from tests.support.shared_token import Clock, Logins, container, lease_taken_over, stored, table_on_moto

LIFETIME = 100.0
RENEW_AFTER = LIFETIME - refresh_margin(LIFETIME)  # 80 s


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    with table_on_moto(monkeypatch) as aws:
        yield aws


@pytest.mark.parametrize("holder", [True, False], ids=["the container that holds it", "another container"])
def test_a_token_is_renewed_from_its_renewal_time(aws: dict[str, Any], holder: bool):
    clock, logins = Clock(), Logins(lifetime=LIFETIME)
    first = container(aws, clock)
    assert first.get(logins) == "token-1"
    asking = first if holder else container(aws, clock)
    clock.now += RENEW_AFTER - 0.5
    assert asking.get(logins) == "token-1"
    clock.now += 0.5  # its renewal time, to the millisecond the table keeps
    assert asking.get(logins) == "token-2"
    assert logins.count == 2


def test_from_its_end_a_token_is_not_handed_out_while_another_caller_renews_it(aws: dict[str, Any]):
    clock, logins = Clock(), Logins(lifetime=LIFETIME)
    assert container(aws, clock).get(logins) == "token-1"
    lease_taken_over(aws)  # another caller is renewing it
    clock.now += LIFETIME - 0.5
    assert container(aws, clock).get(logins) == "token-1"  # still valid: used meanwhile
    clock.now += 0.5  # its end
    with pytest.raises(ProviderUnavailable):  # waited for the renewal, which never came
        container(aws, clock).get(logins)
    assert logins.count == 1


def test_a_container_keeps_a_token_another_one_made_until_its_renewal_time(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
):
    clock, logins = Clock(), Logins(lifetime=LIFETIME)
    container(aws, clock).get(logins)
    reading = container(aws, clock)
    reads: list[int] = []
    original = TableToken._read

    def counted(self: TableToken) -> Any:
        reads.append(1)
        return original(self)

    monkeypatch.setattr(TableToken, "_read", counted)
    for _ in range(3):
        assert reading.get(logins) == "token-1"
    assert reads == [1]  # read (and decrypted) once, then kept in memory
    assert logins.count == 1


def test_the_token_is_read_strongly_consistent_and_opened_with_its_key(aws: dict[str, Any]):
    # moto answers the same either way: a stale read could miss the token another container just stored
    requests: list[tuple[str, dict[str, Any]]] = []

    def recording(service: str) -> Recording:
        return Recording(boto3.client(service), requests)

    container(aws, Clock()).get(Logins())
    container(aws, Clock(), client=recording).get(Logins())
    reads = [request for operation, request in requests if operation == "get_item"]
    assert reads
    assert all(read["ConsistentRead"] is True for read in reads)
    assert [request["KeyId"] for operation, request in requests if operation == "decrypt"] == [aws["key"]]


class FailingStore(Recording):
    """A DynamoDB client whose write of a new token fails (throttled), every other request passing."""

    def __getattr__(self, operation: str) -> Any:
        passed = super().__getattr__(operation)

        def call(**request: Any) -> Any:
            if operation == "update_item" and request["UpdateExpression"].startswith("SET ciphertext"):
                error = {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}}
                raise ClientError(error, "UpdateItem")
            return passed(**request)

        return call


def test_a_token_that_could_not_be_shared_is_used_and_its_lease_freed_for_the_next_caller(
    aws: dict[str, Any],
):
    requests: list[tuple[str, dict[str, Any]]] = []

    def failing(service: str) -> Recording:
        client = boto3.client(service)
        return FailingStore(client, requests) if service == "dynamodb" else Recording(client, requests)

    assert container(aws, Clock(), client=failing).get(Logins()) == "token-1"
    item = stored(aws)
    assert "lease_until" not in item
    assert "ciphertext" not in item


def test_a_login_that_outlived_its_lease_answers_its_token_and_leaves_the_table_to_the_new_holder(
    aws: dict[str, Any],
):
    def slow_login() -> IssuedToken:
        lease_taken_over(aws)  # the lease ran out while Jekimo or FACEKI took their time
        return IssuedToken("token-late", LIFETIME)

    assert container(aws, Clock()).get(slow_login) == "token-late"
    item = stored(aws)
    assert "ciphertext" not in item
    assert item["lease_owner"] == {"S": "another"}


def test_a_failed_login_whose_lease_was_taken_over_fails_with_its_own_error(aws: dict[str, Any]):
    def failing() -> IssuedToken:
        lease_taken_over(aws)
        raise ProviderUnavailable("provider_unreachable", "down")

    with pytest.raises(ProviderUnavailable):
        container(aws, Clock()).get(failing)
    assert stored(aws)["lease_owner"] == {"S": "another"}
