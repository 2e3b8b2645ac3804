"""What announcing a session's events reads of it (idgate.announcing, idgate.notify): a plain projection of
the session's JSON form, built without pydantic.

Why: the publisher function reads nothing else of a session, and pydantic's import with the session's models
was about 0.25 of the floor of its cold start (README, "cold starts"). Both ways of reading a session go
through `announced_of`: the table's item as the publisher reads it (idgate.session_table), and a
`domain.Session` as the use cases hold it (`announced_session`), so the events' details cannot differ by the
way the session was read (tests/unit/test_announced.py also holds them to the model's).

The table stores a session as `Session.model_dump(mode="json", exclude_none=True)`, and its later writes as
given, models as `model_dump(mode="json")` (idgate.repository): what is stored differs from the model's JSON
form only by None fields left out, which the projection gives back as None.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from idgate.statuses import Status

if TYPE_CHECKING:  # a type only: the publisher function never builds that model
    from idgate.domain import Session


@dataclass(frozen=True)
class EventMarks:
    """The attributes of one kind of announced event: it is due once `due` exists, claimed by a publisher
    at `claimed`, and out once `published` is true."""

    due: str
    claimed: str
    published: str


#: The events published from the table's change stream (idgate.announcing), each once per session.
ANNOUNCED_EVENTS = {
    "finalized": EventMarks(due="finalized_at", claimed="event_claimed_at", published="event_published"),
    "redacted": EventMarks(
        due="redacted_at", claimed="redaction_claimed_at", published="redaction_published"
    ),
}


@dataclass(frozen=True)
class Announced:
    """A session as its events tell it, and whether they are out. `result` and `routing` are in the JSON
    form of `domain.Result` and `domain.Routing` (`model_dump(mode="json")`: every field, in its order)."""

    id: str
    provider: str
    status: Status
    reference: str | None
    result: dict[str, Any] | None
    finalized_at: datetime | None
    routing: dict[str, Any] | None
    event_published: bool
    redacted_at: datetime | None
    redaction_published: bool


def announced_of(stored: Mapping[str, Any]) -> Announced:
    """The session whose JSON form is `stored` (as the table holds it, numbers as ints and floats, or as
    the model dumps it). A field it lacks or cannot be raises, as the model's validation would."""
    result, routing = stored.get("result"), stored.get("routing")
    return Announced(
        id=str(stored["id"]),
        provider=str(stored["provider"]),
        status=Status(stored["status"]),
        reference=stored.get("reference"),
        result=None if result is None else _result(result),
        finalized_at=_moment(stored.get("finalized_at")),
        routing=None if routing is None else _routing(routing),
        event_published=bool(stored.get("event_published", False)),
        redacted_at=_moment(stored.get("redacted_at")),
        redaction_published=bool(stored.get("redaction_published", False)),
    )


def announced_session(session: Session) -> Announced:
    return announced_of(session.model_dump(mode="json"))


def _result(result: Mapping[str, Any]) -> dict[str, Any]:
    # domain.Result's fields, in its order; its None fields may have been left out of the item.
    return {
        "decision": Status(result["decision"]).value,
        "provider_status": result.get("provider_status"),
        "risk": result.get("risk"),
        "reasons": list(result.get("reasons", [])),
        "data": dict(result.get("data", {})),
    }


def _routing(routing: Mapping[str, Any]) -> dict[str, Any]:
    # domain.Routing's fields, in its order (none may be None); its tries' (domain.RoutingTry) too.
    tried = [{"provider": each["provider"], "reason": each["reason"]} for each in routing.get("tried", [])]
    return {"check": routing["check"], "tried": tried, "chosen": routing["chosen"]}


def _moment(value: str | None) -> datetime | None:
    # Stored as `datetime.isoformat()` wrote it; read back as the model reads it (aware, to the microsecond).
    return None if value is None else datetime.fromisoformat(value)
