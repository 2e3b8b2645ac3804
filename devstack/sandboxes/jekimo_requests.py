"""What the Jekimo sandbox reads from a request: ``gettoken``'s optional headers and the login page's
outcome. Each reader raises ``SandboxError`` (a 400) and leaves state alone."""

from __future__ import annotations

import re

from devstack.sandboxes.base import SandboxError

__all__ = [
    "MIN_AGE_RANGE",
    "PIN_RANGE",
    "STATUS_KO",
    "STATUS_OK",
    "parse_min_age",
    "parse_outcome",
    "parse_two_factor",
]

STATUS_OK = "OK"
STATUS_KO = "KO"
MIN_AGE_RANGE = (1, 99)
PIN_RANGE = (100_000, 999_999)
_PIN_TEXT = re.compile(r"[1-9][0-9]{5}")


def parse_min_age(raw: str | None) -> int | None:
    if raw is None or not raw.strip():
        return None
    text = raw.strip()
    if not text.isdigit() or not MIN_AGE_RANGE[0] <= int(text) <= MIN_AGE_RANGE[1]:
        raise SandboxError(400, "Invalid min-age")
    return int(text)


def parse_two_factor(raw: str | None) -> bool:
    if raw is None or not raw.strip():
        return False
    text = raw.strip().lower()
    if text not in ("true", "false"):
        raise SandboxError(400, "Invalid two-af")
    return text == "true"


def _parse_pin(raw: object) -> int | None:
    """A PIN given on the login page: an int or a string of 6 digits (100000-999999), or None."""
    if raw is None:
        return None
    if isinstance(raw, str) and _PIN_TEXT.fullmatch(raw.strip()):
        return int(raw.strip())
    if isinstance(raw, int) and not isinstance(raw, bool) and PIN_RANGE[0] <= raw <= PIN_RANGE[1]:
        return raw
    raise SandboxError(400, "pin must be a 6-digit number (100000-999999)")


def parse_outcome(body: object) -> tuple[str, bool, int | None]:
    """Validate a login-page outcome: (status, risk, pin or None)."""
    if not isinstance(body, dict):
        raise SandboxError(400, "body must be a JSON object")
    outcome = body.get("outcome")
    risk = body.get("risk", None)
    if risk is not None and not isinstance(risk, bool):
        raise SandboxError(400, "risk must be true or false")
    pin = _parse_pin(body.get("pin"))
    if outcome == "approved":
        return STATUS_OK, bool(risk), pin
    if outcome == "declined":
        if risk is False:
            raise SandboxError(400, "a declined outcome always has risk true")
        return STATUS_KO, True, pin
    raise SandboxError(400, 'outcome must be "approved" or "declined"')
