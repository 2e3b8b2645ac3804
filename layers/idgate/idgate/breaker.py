"""The circuit breaker of provider starts, shared by every container through the sessions table: a provider
that failed `failures` starts in a row (whoever tried them) is passed over for `cooldown`, so that users do
not wait for a dead provider's time-outs; then it is tried again (half open), and one more failure opens it
again at once, while one success closes it.

Only the routing of `"provider": "auto"` sessions consults it (idgate.routing): a session that names its
provider is started with it, up or down.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from botocore.exceptions import ClientError

from idgate.dynamo import AttributeValues, is_condition_failure

#: The sessions table's key of a provider's breaker (session ids start with "ses_": no collision).
KEY_PREFIX = "breaker#"
#: A breaker nobody touched for this long is removed by the table's TTL (its count starts again).
KEPT_FOR = timedelta(days=1)


@dataclass(frozen=True)
class BreakerSettings:
    failures: int = 3
    cooldown: timedelta = timedelta(seconds=60)


@dataclass(frozen=True)
class BreakerState:
    #: Failed starts in a row (0 after a success).
    failures: int = 0
    open_until: datetime | None = None

    def is_open(self, now: datetime) -> bool:
        return self.open_until is not None and now < self.open_until


class Breakers(Protocol):
    def state(self, provider: str) -> BreakerState:
        """The provider's breaker as stored (closed and never failed when there is none)."""
        ...

    def failed(self, provider: str, *, now: datetime, settings: BreakerSettings) -> bool:
        """Counts a failed start; opens the breaker for `settings.cooldown` when the count reaches
        `settings.failures` and it is not open already. True when this failure opened it."""
        ...

    def succeeded(self, provider: str) -> None:
        """A start succeeded: the count starts again, the breaker is closed. (Callers skip it when the
        state they read had no failure: most starts then write nothing.)"""
        ...


class TableBreakers:
    """`Breakers` as items of the sessions table: one atomic counter per provider."""

    def __init__(self, table_name: str, client: Any) -> None:
        self._table = table_name
        self._client = client
        self._values = AttributeValues()

    def state(self, provider: str) -> BreakerState:
        answer = self._client.get_item(TableName=self._table, Key=self._key(provider))
        item = self._values.plain(answer.get("Item") or {})
        opened = item.get("open_until")
        return BreakerState(
            failures=int(item.get("failures", 0)),
            open_until=datetime.fromisoformat(opened) if isinstance(opened, str) else None,
        )

    def failed(self, provider: str, *, now: datetime, settings: BreakerSettings) -> bool:
        answer = self._client.update_item(
            TableName=self._table,
            Key=self._key(provider),
            UpdateExpression="ADD failures :one SET failed_at = :now, expires_ttl = :ttl",
            ExpressionAttributeValues=self._values.typed(
                {":one": 1, ":now": now.isoformat(), ":ttl": int((now + KEPT_FOR).timestamp())}
            ),
            ReturnValues="ALL_NEW",
        )
        if int(self._values.plain(answer["Attributes"])["failures"]) < settings.failures:
            return False
        try:
            # One container opens it; the others, failing at the same moment, find it open.
            self._client.update_item(
                TableName=self._table,
                Key=self._key(provider),
                UpdateExpression="SET open_until = :until",
                ConditionExpression="attribute_not_exists(open_until) OR open_until <= :now",
                ExpressionAttributeValues=self._values.typed(
                    {":until": (now + settings.cooldown).isoformat(), ":now": now.isoformat()}
                ),
            )
        except ClientError as exc:
            if is_condition_failure(exc):
                return False
            raise
        return True

    def succeeded(self, provider: str) -> None:
        try:
            self._client.update_item(
                TableName=self._table,
                Key=self._key(provider),
                UpdateExpression="SET failures = :zero REMOVE open_until",
                ConditionExpression="attribute_exists(pk)",  # nothing to close: create nothing
                ExpressionAttributeValues=self._values.typed({":zero": 0}),
            )
        except ClientError as exc:
            if not is_condition_failure(exc):
                raise

    def _key(self, provider: str) -> dict[str, Any]:
        return self._values.typed({"pk": KEY_PREFIX + provider})
