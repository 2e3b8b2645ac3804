"""What the Datakeen sandbox reads from a request: the template a session names, its optional fields and
the page's outcome.

Each reader raises ``SandboxError`` (a 400) and leaves state alone, so a handler parses first and changes
state after. Separate from ``datakeen``, which keeps the routes and what they change.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from devstack.sandboxes.base import SandboxError, is_http_url
from devstack.sandboxes.datakeen_state import USER_OUTCOMES

__all__ = [
    "MAX_NAME_LENGTH",
    "TEMPLATES",
    "declared_birth_date",
    "optional_text",
    "optional_url",
    "page_outcome",
    "template_id",
]

#: Datakeen's two sample templates (the first ``_id`` made hex) and a retired one.
TEMPLATES: tuple[dict[str, object], ...] = (
    {
        "name": "Vérification Identité avec selfie",
        "default": True,
        "status": "active",
        "_id": "6747253f954e810012b37a0e",
        "createdAt": "2024-11-27T13:57:19.752Z",
    },
    {
        "name": "Vérification Identité et Justificatif de domicile",
        "default": False,
        "status": "active",
        "_id": "6745fcdf34177200112cc345",
        "createdAt": "2024-11-26T16:52:47.731Z",
    },
    {
        "name": "Vérification Identité (ancien parcours)",
        "default": False,
        "status": "inactive",
        "_id": "65f1c2a8e4b0a10012d4c7f0",
        "createdAt": "2024-03-13T15:21:12.408Z",
    },
)
MAX_NAME_LENGTH = 100
_BIRTH_DATE = re.compile(r"([0-9]{2})/([0-9]{2})/([0-9]{4})")


def template_id(body: dict[str, Any]) -> str:
    """The ``templateId`` of a new session: an active template's, the default one's when none is named."""
    wanted = body.get("templateId")
    if wanted is None or wanted == "":
        wanted = next(t["_id"] for t in TEMPLATES if t["default"])
    template = next((t for t in TEMPLATES if t["_id"] == wanted), None)
    if template is None:
        raise SandboxError(400, "Template not found")
    if template["status"] != "active":
        raise SandboxError(400, "Template is not active")
    return str(wanted)


def optional_text(body: dict[str, Any], name: str, limit: int = MAX_NAME_LENGTH) -> str | None:
    value = body.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise SandboxError(400, f"{name} must be a string of at most {limit} characters")
    return value.strip() or None


def optional_url(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None or value == "":
        return None
    if not is_http_url(value):
        raise SandboxError(400, f"{name} must be an http(s) URL")
    return str(value)


def declared_birth_date(body: dict[str, Any]) -> date | None:
    value = body.get("birthDate")
    if value is None or value == "":
        return None
    match = _BIRTH_DATE.fullmatch(value) if isinstance(value, str) else None
    try:
        if match is None:
            raise ValueError(value)
        day, month, year = (int(part) for part in match.groups())
        return date(year, month, day)
    except ValueError as exc:
        raise SandboxError(400, "birthDate must be a date as dd/mm/yyyy") from exc


def page_outcome(body: object, today: date) -> tuple[str, bool, date | None]:
    """(outcome, webhook, birth date or None) from the page's JSON POST."""
    if not isinstance(body, dict):
        raise SandboxError(400, "The body must be a JSON object")
    outcome = body.get("outcome")
    if outcome not in USER_OUTCOMES:
        raise SandboxError(400, "outcome must be one of " + ", ".join(USER_OUTCOMES))
    webhook = body.get("webhook", True)
    if not isinstance(webhook, bool):
        raise SandboxError(400, "webhook must be true or false")
    raw = body.get("birth_date")
    if raw is None:
        return str(outcome), webhook, None
    try:
        if not isinstance(raw, str) or not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", raw):
            raise ValueError(raw)
        birth_date = date.fromisoformat(raw)
        if not date(1900, 1, 1) <= birth_date <= today:
            raise ValueError(raw)
    except ValueError as exc:
        raise SandboxError(400, "birth_date must be a past date as YYYY-MM-DD") from exc
    return str(outcome), webhook, birth_date
