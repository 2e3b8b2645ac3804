"""The webhooks table: a client's endpoints, each endpoint's deliveries (payload included) and the events
already fanned out. Deliveries and fan-out marks expire with the sessions' retention (TTL `expires_ttl`).

Keys: an endpoint is (`client#<client>`, `endpoint#<id>`); a delivery (`endpoint#<id>`,
`delivery#<occurred_at>#<event id>`), so that an endpoint's latest deliveries and those since a time are one
query; a fanned-out event (`event#<event id>`, `event`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from idgate.dynamo import AttributeValues, from_dynamo, is_condition_failure, new_client
from idgate.hooks.model import Delivery, Endpoint, EndpointStatus, SealedSecret

_NEW = "attribute_not_exists(pk)"
_EXISTS = "attribute_exists(pk)"


def _time(moment: datetime) -> str:
    return moment.isoformat()


def delivery_sort_key(occurred_at: datetime, event_id: str) -> str:
    return f"delivery#{_time(occurred_at)}#{event_id}"


def _plain_model(model: Endpoint | Delivery) -> dict[str, Any]:
    return model.model_dump(mode="json", exclude_none=True)


class HookStore:
    """`client`: a DynamoDB client shared with the container's other users (idgate.wiring)."""

    def __init__(self, table_name: str, *, retention: timedelta, client: Any = None) -> None:
        self._client = client or new_client()
        self._table = table_name
        self._values = AttributeValues()
        self._retention = retention

    # ---- endpoints -----------------------------------------------------------------------------------------

    def add_endpoint(self, endpoint: Endpoint) -> None:
        item = {
            "pk": f"client#{endpoint.client_id}",
            "sk": f"endpoint#{endpoint.id}",
            **_plain_model(endpoint),
        }
        self._client.put_item(TableName=self._table, Item=self._values.typed(item), ConditionExpression=_NEW)

    def endpoint(self, client_id: str, endpoint_id: str) -> Endpoint | None:
        answer = self._client.get_item(
            TableName=self._table, Key=self._endpoint_key(client_id, endpoint_id), ConsistentRead=True
        )
        item = answer.get("Item")
        return Endpoint.model_validate(from_dynamo(self._values.plain(item))) if item else None

    def endpoints(self, client_id: str) -> list[Endpoint]:
        found: list[Endpoint] = []
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": self._values.typed(
                {":pk": f"client#{client_id}", ":prefix": "endpoint#"}
            ),
            "ConsistentRead": True,
        }
        while True:
            answer = self._client.query(**request)
            found += [
                Endpoint.model_validate(from_dynamo(self._values.plain(i))) for i in answer.get("Items", [])
            ]
            if "LastEvaluatedKey" not in answer:
                return found
            request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def delete_endpoint(self, client_id: str, endpoint_id: str) -> bool:
        try:
            self._client.delete_item(
                TableName=self._table,
                Key=self._endpoint_key(client_id, endpoint_id),
                ConditionExpression=_EXISTS,
            )
        except ClientError as exc:
            if is_condition_failure(exc):
                return False
            raise
        return True

    def set_secrets(self, client_id: str, endpoint_id: str, secrets: list[SealedSecret]) -> bool:
        values = {":secrets": [s.model_dump(mode="json", exclude_none=True) for s in secrets]}
        return self._update(
            self._endpoint_key(client_id, endpoint_id), "SET secrets = :secrets", values, condition=_EXISTS
        )

    def set_health(
        self, client_id: str, endpoint_id: str, status: EndpointStatus, failing_since: datetime | None
    ) -> bool:
        if failing_since is None:
            expression, values = "SET #status = :status REMOVE failing_since", {":status": status.value}
        else:
            expression = "SET #status = :status, failing_since = :since"
            values = {":status": status.value, ":since": _time(failing_since)}
        return self._update(
            self._endpoint_key(client_id, endpoint_id),
            expression,
            values,
            condition=_EXISTS,
            status_name=True,
        )

    # ---- deliveries ----------------------------------------------------------------------------------------

    def add_delivery(self, delivery: Delivery) -> bool:
        """Stores a new delivery; False when the event's delivery to that endpoint exists already."""
        item = {
            "pk": f"endpoint#{delivery.endpoint_id}",
            "sk": delivery_sort_key(delivery.occurred_at, delivery.event_id),
            "expires_ttl": int((delivery.occurred_at + self._retention).timestamp()),
            **_plain_model(delivery),
        }
        try:
            self._client.put_item(
                TableName=self._table, Item=self._values.typed(item), ConditionExpression=_NEW
            )
        except ClientError as exc:
            if is_condition_failure(exc):
                return False
            raise
        return True

    def delivery(self, endpoint_id: str, occurred_at: datetime, event_id: str) -> Delivery | None:
        key = self._delivery_key(endpoint_id, occurred_at, event_id)
        answer = self._client.get_item(TableName=self._table, Key=key, ConsistentRead=True)
        item = answer.get("Item")
        return _delivery(self._values.plain(item)) if item else None

    def deliveries(
        self, endpoint_id: str, *, since: datetime | None = None, limit: int = 50
    ) -> list[Delivery]:
        """The endpoint's deliveries, the latest first; only those of events since `since` when given."""
        return self.delivery_page(endpoint_id, since=since, limit=limit)[0]

    def delivery_page(
        self, endpoint_id: str, *, limit: int, since: datetime | None = None, after: str | None = None
    ) -> tuple[list[Delivery], str | None]:
        """Up to `limit` deliveries, the latest first, from after the one whose sort key is `after`; and the
        sort key to go on from while DynamoDB says there may be more."""
        pk = f"endpoint#{endpoint_id}"
        low = f"delivery#{_time(since)}" if since else "delivery#"
        query: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :low AND :high",
            "ExpressionAttributeValues": self._values.typed({":pk": pk, ":low": low, ":high": "delivery#~"}),
            "ScanIndexForward": False,
            "Limit": limit,
            "ConsistentRead": True,
        }
        if after is not None:
            query["ExclusiveStartKey"] = self._values.typed({"pk": pk, "sk": after})
        answer = self._client.query(**query)
        last = answer.get("LastEvaluatedKey")
        page = [_delivery(self._values.plain(item)) for item in answer.get("Items", [])]
        return page, (str(self._values.plain(last)["sk"]) if last else None)

    def mark_enqueued(self, delivery: Delivery) -> None:
        self._update(self._key_of(delivery), "SET enqueued = :true", {":true": True}, condition=_EXISTS)

    def claim_attempt(
        self, delivery: Delivery, *, series: int, attempt: int, now: datetime, stale_after: timedelta
    ) -> bool:
        """Takes try `attempt` of `series`: once, however many copies of its message arrive; again only when
        the try was taken `stale_after` ago and never recorded (its invocation died; SQS offers it again)."""
        return self._update(
            self._key_of(delivery),
            "SET attempts = :attempt, claimed_at = :now",
            {
                ":attempt": attempt,
                ":before": attempt - 1,
                ":series": series,
                ":pending": "pending",
                ":now": _time(now),
                ":stale": _time(now - stale_after),
            },
            condition=(
                "series = :series AND #status = :pending AND (attempts = :before OR (attempts = :attempt"
                " AND (attribute_not_exists(done_attempts) OR done_attempts < :attempt)"
                " AND claimed_at < :stale))"
            ),
            status_name=True,
        )

    def record_attempt(self, delivery: Delivery, *, series: int, fields: Mapping[str, Any]) -> bool:
        """What a try found (status, status code, latency, error, next try), for its series only."""
        names = {f"#f{i}": name for i, name in enumerate(fields)}
        sets = [f"#f{i} = :f{i}" for i, value in enumerate(fields.values()) if value is not None]
        removes = [f"#f{i}" for i, value in enumerate(fields.values()) if value is None]
        values: dict[str, Any] = {
            f":f{i}": value for i, value in enumerate(fields.values()) if value is not None
        }
        expression = ("SET " + ", ".join(sets) if sets else "") + (
            " REMOVE " + ", ".join(removes) if removes else ""
        )
        return self._update(
            self._key_of(delivery),
            expression.strip(),
            {**values, ":series": series},
            condition="series = :series",
            names={n: f for n, f in names.items() if n in expression},
        )

    def restart(self, delivery: Delivery, *, next_try_at: datetime) -> int | None:
        """A new series of tries (a replay): the series number, or None when the delivery is gone."""
        answer_series = delivery.series + 1
        ok = self._update(
            self._key_of(delivery),
            "SET series = :new, attempts = :zero, #status = :pending, next_try_at = :next",
            {
                ":new": answer_series,
                ":old": delivery.series,
                ":zero": 0,
                ":pending": "pending",
                ":next": _time(next_try_at),
            },
            condition="series = :old",
            status_name=True,
        )
        return answer_series if ok else None

    # ---- events --------------------------------------------------------------------------------------------

    def fanned_out(self, event_id: str) -> bool:
        answer = self._client.get_item(
            TableName=self._table, Key=self._event_key(event_id), ConsistentRead=True
        )
        return "Item" in answer

    def mark_fanned_out(self, event_id: str, occurred_at: datetime, deliveries: list[Delivery]) -> None:
        """The event is fanned out, to these deliveries (which a redaction of its session finds here)."""
        item = {
            **self._plain_key(self._event_key(event_id)),
            "expires_ttl": int((occurred_at + self._retention).timestamp()),
            "deliveries": [
                {"endpoint_id": d.endpoint_id, "sk": delivery_sort_key(d.occurred_at, d.event_id)}
                for d in deliveries
            ],
        }
        self._client.put_item(TableName=self._table, Item=self._values.typed(item))

    def forget_payloads(self, event_id: str) -> int:
        """Removes the payloads of the event's deliveries (its session was redacted); how many there were."""
        answer = self._client.get_item(
            TableName=self._table, Key=self._event_key(event_id), ConsistentRead=True
        )
        made = self._values.plain(answer["Item"]).get("deliveries", []) if "Item" in answer else []
        for delivery in made:
            key = self._values.typed({"pk": f"endpoint#{delivery['endpoint_id']}", "sk": delivery["sk"]})
            self._update(
                key, "SET payload_redacted = :true REMOVE payload", {":true": True}, condition=_EXISTS
            )
        return len(made)

    # ---- keys and writes -----------------------------------------------------------------------------------

    def _endpoint_key(self, client_id: str, endpoint_id: str) -> dict[str, Any]:
        return self._values.typed({"pk": f"client#{client_id}", "sk": f"endpoint#{endpoint_id}"})

    def _delivery_key(self, endpoint_id: str, occurred_at: datetime, event_id: str) -> dict[str, Any]:
        return self._values.typed(
            {"pk": f"endpoint#{endpoint_id}", "sk": delivery_sort_key(occurred_at, event_id)}
        )

    def _key_of(self, delivery: Delivery) -> dict[str, Any]:
        return self._delivery_key(delivery.endpoint_id, delivery.occurred_at, delivery.event_id)

    def _event_key(self, event_id: str) -> dict[str, Any]:
        return self._values.typed({"pk": f"event#{event_id}", "sk": "event"})

    def _plain_key(self, key: dict[str, Any]) -> dict[str, Any]:
        return self._values.plain(key)

    def _update(
        self,
        key: dict[str, Any],
        expression: str,
        values: Mapping[str, Any],
        *,
        condition: str,
        status_name: bool = False,
        names: Mapping[str, str] | None = None,
    ) -> bool:
        request: dict[str, Any] = {
            "TableName": self._table,
            "Key": key,
            "UpdateExpression": expression,
            "ConditionExpression": condition,
            "ExpressionAttributeValues": self._values.typed(values),
        }
        all_names = {**(names or {}), **({"#status": "status"} if status_name else {})}
        if all_names:
            request["ExpressionAttributeNames"] = all_names
        try:
            self._client.update_item(**request)
        except ClientError as exc:
            if is_condition_failure(exc):
                return False
            raise
        return True


def _delivery(item: Mapping[str, Any]) -> Delivery:
    return Delivery.model_validate(from_dynamo(dict(item)))
