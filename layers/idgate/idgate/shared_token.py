"""A provider's login token shared by every container of the deployment, through the sessions table.

Some providers bill or limit logins (FACEKI may bill token requests), and a burst of cold starts must
not each log in. The token lives in one item per provider (`provider-token#<name>`), encrypted with the
deployment's KMS key, since the table is readable by more people and tools than the provider's secret.
One caller at a time renews it, under a lease taken by a conditional write; while it does, the others
keep using the current token if it is still valid, or wait a bounded time for the new one.

Each container also keeps the token in memory until its renewal time, so the table and KMS are read
once per container and token lifetime.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from idgate.domain import Reason
from idgate.errors import ProviderUnavailable
from idgate.providers.base import IssuedToken, refresh_margin

logger = Logger(service="idgate", child=True)

ITEM_PREFIX = "provider-token#"
#: A renewal holds the lease this long at most: longer than a login call with its connection retries.
LEASE_SECONDS = 20.0
#: How long a caller waits for another caller's renewal before giving up (a transient failure).
WAIT_SECONDS = 20.0
#: The item outlives its token by this long, then DynamoDB's TTL removes it.
KEEP_AFTER_EXPIRY_SECONDS = 86_400


@dataclass(frozen=True)
class _Token:
    value: str
    version: int
    renew_at: float
    expires_at: float


def _new_client(service: str) -> Any:
    # boto3 is imported when the first client is made, not with this module (see idgate.wiring).
    import boto3

    return boto3.client(service)


class TableToken:
    """A `SharedToken` (idgate.providers.base) kept in the sessions table, encrypted with KMS."""

    def __init__(
        self,
        table_name: str,
        key_id: str,
        provider: str,
        *,
        client: Callable[[str], Any] = _new_client,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._table_name = table_name
        self._key_id = key_id
        self._key = {"pk": {"S": ITEM_PREFIX + provider}}
        # Binds a ciphertext to its purpose: it cannot be decrypted as anything else.
        self._context = {"idgate:purpose": "provider-token", "idgate:provider": provider}
        self._client = client
        self._clock = clock
        self._sleep = sleep
        self._owner = secrets.token_hex(8)  # tells this container's lease from another's
        self._lock = threading.Lock()  # one renewal per container; the lease makes it one per deployment
        self._held: _Token | None = None
        self._clients: dict[str, Any] = {}

    def get(self, issue: Callable[[], IssuedToken], *, rejected: str | None = None) -> str:
        with self._lock:
            held = self._held
            if held is not None and held.value != rejected and self._clock() < held.renew_at:
                return held.value
            deadline = self._clock() + WAIT_SECONDS
            pause = 0.05
            while True:
                current = self._read()
                now = self._clock()
                usable = current is not None and current.value != rejected and now < current.expires_at
                if current is not None and usable and now < current.renew_at:
                    self._held = current
                    return current.value
                if self._take_lease(current, now):
                    return self._renew(issue, current)
                if current is not None and usable:  # another caller renews it; this one still works
                    return current.value
                if now >= deadline:
                    raise ProviderUnavailable(
                        Reason.PROVIDER_UNREACHABLE, "another caller's login did not finish in time"
                    )
                self._sleep(pause)
                pause = min(pause * 2, 0.5)

    # ---- the item ----------------------------------------------------------------------------------

    def _aws(self, service: str) -> Any:
        if service not in self._clients:  # created on first use: no cost for providers that never log in
            self._clients[service] = self._client(service)
        return self._clients[service]

    def _read(self) -> _Token | None:
        item = (
            self._aws("dynamodb")
            .get_item(TableName=self._table_name, Key=self._key, ConsistentRead=True)
            .get("Item")
        )
        if not item or "ciphertext" not in item:
            return None
        version = int(item["version"]["N"])
        renew_at, expires_at = float(item["renew_at"]["N"]), float(item["expires_at"]["N"])
        if self._held is not None and self._held.version == version:
            return _Token(self._held.value, version, renew_at, expires_at)  # known: no need to decrypt
        kms = self._aws("kms")
        try:
            plaintext = kms.decrypt(
                CiphertextBlob=item["ciphertext"]["B"], KeyId=self._key_id, EncryptionContext=self._context
            )["Plaintext"]
        except kms.exceptions.InvalidCiphertextException:
            logger.warning("the shared provider token cannot be decrypted; renewing it")
            return _Token("", version, renew_at=0.0, expires_at=0.0)  # never usable: renewed
        return _Token(plaintext.decode("utf-8"), version, renew_at, expires_at)

    def _take_lease(self, seen: _Token | None, now: float) -> bool:
        """The right to renew, unless another caller holds it or the token changed since it was read."""
        unchanged = "attribute_not_exists(version)" if seen is None else "version = :version"
        values: dict[str, Any] = {
            ":now": {"N": _number(now)},
            ":until": {"N": _number(now + LEASE_SECONDS)},
            ":owner": {"S": self._owner},
        }
        if seen is not None:
            values[":version"] = {"N": str(seen.version)}
        try:
            self._aws("dynamodb").update_item(
                TableName=self._table_name,
                Key=self._key,
                UpdateExpression="SET lease_until = :until, lease_owner = :owner",
                ConditionExpression=(
                    f"(attribute_not_exists(lease_until) OR lease_until < :now) AND {unchanged}"
                ),
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if _is_condition_failure(exc):
                return False
            raise
        return True

    def _renew(self, issue: Callable[[], IssuedToken], seen: _Token | None) -> str:
        try:
            issued = issue()
        except BaseException:
            self._release()
            raise
        now = self._clock()
        lifetime = issued.lifetime_seconds
        token = _Token(
            value=issued.value,
            version=(seen.version if seen else 0) + 1,
            renew_at=now + lifetime - refresh_margin(lifetime),
            expires_at=now + lifetime,
        )
        try:
            self._store(token)
        except ClientError as exc:
            # The token works: this call goes on with it, and the next caller renews it again.
            logger.warning("could not share the provider token", error=exc.response["Error"]["Code"])
            self._release()
        self._held = token
        return token.value

    def _store(self, token: _Token) -> None:
        ciphertext = self._aws("kms").encrypt(
            KeyId=self._key_id, Plaintext=token.value.encode("utf-8"), EncryptionContext=self._context
        )["CiphertextBlob"]
        try:
            self._aws("dynamodb").update_item(
                TableName=self._table_name,
                Key=self._key,
                UpdateExpression=(
                    "SET ciphertext = :ciphertext, version = :version, renew_at = :renew_at, "
                    "expires_at = :expires_at, expires_ttl = :ttl REMOVE lease_until, lease_owner"
                ),
                ConditionExpression="lease_owner = :owner",
                ExpressionAttributeValues={
                    ":ciphertext": {"B": ciphertext},
                    ":version": {"N": str(token.version)},
                    ":renew_at": {"N": _number(token.renew_at)},
                    ":expires_at": {"N": _number(token.expires_at)},
                    ":ttl": {"N": str(int(token.expires_at) + KEEP_AFTER_EXPIRY_SECONDS)},
                    ":owner": {"S": self._owner},
                },
            )
        except ClientError as exc:
            if not _is_condition_failure(exc):
                raise
            # The lease ran out and another caller took it: its token will be the shared one.
            logger.warning("the token lease ran out before the login finished")

    def _release(self) -> None:
        with contextlib.suppress(ClientError):  # else the lease runs out by itself
            self._aws("dynamodb").update_item(
                TableName=self._table_name,
                Key=self._key,
                UpdateExpression="REMOVE lease_until, lease_owner",
                ConditionExpression="lease_owner = :owner",
                ExpressionAttributeValues={":owner": {"S": self._owner}},
            )


def _number(value: float) -> str:
    return str(Decimal(str(round(value, 3))))


def _is_condition_failure(exc: ClientError) -> bool:
    return bool(exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException")
