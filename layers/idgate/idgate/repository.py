"""What the use cases need from session persistence, and what every implementation must guarantee.

`idgate.store.SessionStore` implements it on DynamoDB; tests/support/memory_store.py implements it in
memory for fast tests of the use cases. tests/unit/test_session_repository_*.py hold both to
this contract.

Errors are DynamoDB's, whatever the implementation, so that callers handle one kind:
`botocore.exceptions.ClientError` whose `response["Error"]["Code"]` is
`ConditionalCheckFailedException` (only from `add`: every other conditional method answers a refused
write with False or None) or `ValidationException` (a request DynamoDB refuses whatever the data: an
empty session id or provider reference, an empty `provider`/`provider_ref`, an attribute both set and
removed, a write to `pk`). A value DynamoDB cannot hold (a datetime, say: write its ISO string)
raises boto3's TypeError before anything is written.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

# The events' marks are announcing's, which reads them without the models (idgate.announced).
from idgate.announced import ANNOUNCED_EVENTS as ANNOUNCED_EVENTS
from idgate.announced import Announced
from idgate.announced import EventMarks as EventMarks
from idgate.domain import Cause, Session, Status

#: What only an open session needs: personal data or a secret (Jekimo's login URL holds its token), and
#: `open_client`, the key of the index of a client's open sessions. A final status removes them.
OPEN_ONLY_FIELDS = ("email", "provider_token", "verification_url", "pin_hash", "pin_deadline", "open_client")

#: What a redaction removes besides `result.data` (which it empties): what the client or the provider
#: could tie to a person. The status, decision, reason codes and times stay.
REDACTED_FIELDS = ("reference", "provider_ref", "provider_token", "verification_url", "email")


class SessionRepository(Protocol):
    """Sessions stored by id, each written under a condition on its current status, so that a status
    only moves forward and a final status is written once, whatever the order or number of writers.

    A session is stored as `Session.model_dump(mode="json", exclude_none=True)` plus `pk` (its id) and
    `expires_ttl` (epoch seconds after which the table may delete it); `get` parses what is stored
    again, so a caller never shares an object with the store. Attributes written by `advance` or
    `update_open` are stored as given (datetimes as ISO strings, models as `model_dump(mode="json")`),
    floats as decimals, which come back as an int when whole. `retention` is fixed per store.
    """

    def add(self, session: Session) -> None:
        """Stores a new session, with `expires_ttl` = its `expires_at` + retention, so that it is removed
        even if it never reaches a final status.

        An id already stored is refused: ClientError `ConditionalCheckFailedException`, and the stored
        session is unchanged. A session whose `provider_ref` is "" is refused with ClientError
        `ValidationException` (an empty index key)."""
        ...

    def get(self, session_id: str) -> Session | None:
        """The session as stored now (a strongly consistent read), or None when there is no such id.
        An empty id raises ClientError `ValidationException`."""
        ...

    def announced(self, session_id: str) -> Announced | None:
        """The session as `get` reads it, as its events tell it (idgate.announced: `announced_session` of
        what `get` answers), or None when there is no such id. Read without building the model."""
        ...

    def find_by_provider_ref(self, provider: str, provider_ref: str) -> Session | None:
        """The session that `provider` knows as `provider_ref` (read through `get`), or None. Sessions
        stored without a `provider_ref` are never found. If several sessions share the pair, which one
        is found is unspecified. On DynamoDB the index behind it is eventually consistent: a session
        added a moment ago may not be found yet. An empty `provider` or `provider_ref` raises
        ClientError `ValidationException`."""
        ...

    def advance(
        self,
        session_id: str,
        target: Status,
        *,
        now: datetime,
        cause: Cause,
        fields: Mapping[str, Any] | None = None,
        remove: Iterable[str] = (),
        pin_try_limit: int | None = None,
    ) -> bool:
        """Moves the session to `target`, with `fields` set and `remove` removed, if its current status
        may move there (`domain.can_move`). True when written.

        The same write appends the change to `history`: `{"at": now, "status": target, "reasons": the
        reasons of `fields["result"]` if any, "cause": cause}` (a `domain.StatusChange`), so that the
        history holds every change that was written and nothing else. `fields` or `remove` naming
        `history` is a ValueError.

        With `pin_try_limit`, the same write also counts a PIN try (`pin_attempts` + 1, a missing count
        being 0) and applies only if the session is `awaiting_pin` with fewer than `pin_try_limit` tries
        counted: the right PIN's approval and its count are one atomic write, so parallel wrong tries
        cannot decline the session between them. `fields` must not hold `pin_attempts` then
        (ValueError).

        False, and nothing changed, when it may not: the session is already there, further on, or final
        (so a second final write is refused), the target is `pending`, or there is no such id. The caller
        lost a race and must change nothing.

        Every write sets `status` and `updated_at` (now); `fields` are applied after them and override
        them. A non-final target whose `fields` hold `expires_at` (an ISO string) moves `expires_ttl` to
        that moment + retention, so a session followed for longer is not removed while open. A final
        target sets `finalized_at` (now) and `expires_ttl` (now + retention, over any given) and removes
        `OPEN_ONLY_FIELDS`. An attribute both in `fields` and removed (by `remove`, or as one of
        `OPEN_ONLY_FIELDS` by a final target) is a ClientError `ValidationException`, nothing written."""
        ...

    def update_open(self, session_id: str, *, now: datetime, fields: Mapping[str, Any]) -> bool:
        """Book-keeping on a session that is not final: sets `updated_at` (now) and then `fields`. True
        when written; False, and nothing changed, when the session is final or there is no such id.
        Does not touch `expires_ttl`, even when `fields` holds `expires_at`."""
        ...

    def count_open(self, client_id: str, *, limit: int) -> int:
        """How many of the client's sessions are open (not final), counting at most `limit`. A stored
        session carries `open_client` (its client id) until its final status. On DynamoDB the index
        behind it is eventually consistent: sessions added a moment ago may not be counted yet."""
        ...

    def count_pin_attempt(self, session_id: str, *, max_attempts: int) -> int | None:
        """Counts one PIN try atomically (`pin_attempts` + 1), before the PIN is compared, so that
        parallel guesses cannot exceed the limit. Returns the new count: 1 to `max_attempts`. None, and
        nothing counted, when the session is not `awaiting_pin`, has already `max_attempts` tries, or
        does not exist."""
        ...

    def claim_look(self, session_id: str, *, now: datetime, every: timedelta) -> bool:
        """Claims a look at the provider on behalf of someone reading the session (stores `looked_at` =
        now), so that readers make at most one look per `every`. True when claimed. False when the
        session is final (has `finalized_at`), was claimed less than `every` ago (a claim exactly that
        old may be taken again), or there is no such id. Times are compared as ISO strings, as stored:
        callers pass aware UTC datetimes."""
        ...

    def claim_event(
        self, session_id: str, *, now: datetime, stale_after: timedelta, event: str = "finalized"
    ) -> bool:
        """Claims the right to publish the session's `event`, a key of ANNOUNCED_EVENTS (stores its
        `claimed` attribute = now), so that two triggers cannot both publish. True when claimed. False
        when the event is not due (no `due` attribute: the session is not final, or not redacted), is
        published, is claimed and the claim is not older than `stale_after` (a claim exactly that old is
        still held), or there is no such id. Claim times are compared as ISO strings, as stored: callers
        pass aware UTC datetimes."""
        ...

    def release_event_claim(self, session_id: str, event: str = "finalized") -> None:
        """Removes the claim of `event` (after a publish that failed), so the next trigger may claim at
        once. No effect on an unclaimed session or an unknown id."""
        ...

    def mark_event_published(self, session_id: str, event: str = "finalized") -> None:
        """Records that `event` is published: it can never be claimed again. Unconditional: call it only
        for a stored session, since on an unknown id DynamoDB creates an item holding only `pk` and the
        flag, which `get` then fails to parse (pydantic ValidationError)."""
        ...

    def redact(self, session_id: str, *, status: Status, now: datetime) -> bool:
        """Erases the personal data of a final session whose status is `status`: removes REDACTED_FIELDS,
        empties `result.data`, sets `redacted_at` and `updated_at` (now) and appends `{"at": now,
        "status": status, "reasons": [], "cause": "redact"}` to `history`, in one conditional write. True
        when written; False, and nothing changed, when the session is not final, not in `status`, has no
        result, is already redacted, or there is no such id."""
        ...
