"""Jekimo's two answers as idgate reads them, every shape the document allows (seeds/jekimo.txt).

The document is loose about shapes: `qrcode` is "either a Base64 image or a link", its sample answer
is not even valid JSON, and nothing says which unit `timestamp` is in beyond "the token creation
time". Each reading below accepts what the document allows and refuses the rest with ValueError, which
the client turns into a typed error; nothing here raises anything else.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, field_validator

from idgate.qr import image_data_uri

#: A timestamp this large in seconds would be in the year 5138: it is in milliseconds.
_MILLISECONDS_FROM = 10**11
#: Token creation times idgate believes: anything outside is a unit or a clock we cannot read.
_EARLIEST = datetime(2020, 1, 1, tzinfo=UTC)
_LATEST = datetime(2100, 1, 1, tzinfo=UTC)
_NUMBER = re.compile(r"[0-9]{1,20}(\.[0-9]{1,9})?")
_PIN = re.compile(r"[0-9]{1,6}")
_MAX_URL = 2048


def issued_at(value: object) -> datetime:
    """The token's creation time from Jekimo's `timestamp`: unix seconds as documented, milliseconds,
    either as a string, or an ISO 8601 time with its offset."""
    if isinstance(value, bool):
        raise ValueError("timestamp is a boolean")
    if isinstance(value, str):
        text = value.strip()
        if not _NUMBER.fullmatch(text):
            moment = datetime.fromisoformat(text)  # ValueError when it is not one
            if moment.tzinfo is None:
                raise ValueError("timestamp has no time zone")
            return _plausible(moment.astimezone(UTC))
        value = float(text)
    if not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise ValueError("timestamp is not a time")
    seconds = value / 1000 if value >= _MILLISECONDS_FROM else value
    if not _EARLIEST.timestamp() <= seconds < _LATEST.timestamp():
        raise ValueError("timestamp is out of range")
    return datetime.fromtimestamp(seconds, UTC)


def _plausible(moment: datetime) -> datetime:
    if not _EARLIEST <= moment < _LATEST:
        raise ValueError("timestamp is out of range")
    return moment


def http_url(value: str | None) -> str | None:
    """`value` when it is an absolute http(s) URL (a link idgate may show to a user), else None."""
    if not value or len(value) > _MAX_URL:
        return None
    text = value.strip()
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or " " in text:
        return None
    return text


class TokenAnswer(BaseModel):
    """`auth/gettoken`'s answer. `url` and `qrcode` are both optional here: one link is enough (see
    `login_link`)."""

    token: str = Field(min_length=1)
    timestamp: datetime
    qrcode: str | None = None
    url: str | None = None

    @field_validator("timestamp", mode="before")
    @classmethod
    def _issued_at(cls, value: Any) -> datetime:
        return issued_at(value)

    @property
    def qr_image(self) -> str | None:
        """Jekimo's QR code as a data: URI, when `qrcode` is an image."""
        return image_data_uri(self.qrcode)

    @property
    def login_link(self) -> str | None:
        """The link the user opens: `url`, else `qrcode` when it is a link; None when there is neither."""
        return http_url(self.url) or (None if self.qr_image else http_url(self.qrcode))


class CheckAnswer(BaseModel):
    """`auth/check`'s answer. A field Jekimo leaves out is None: unknown, never a default verdict."""

    status: str
    risk: bool | None = None
    pin: int | None = None

    @field_validator("pin", mode="before")
    @classmethod
    def _pin(cls, value: Any) -> int | None:
        """0 (no second factor) or a number of at most 6 digits, as a number or a string of digits."""
        if value is None:
            return None
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 999_999:
            return value
        if isinstance(value, str) and _PIN.fullmatch(value.strip()):
            return int(value.strip())
        raise ValueError("pin is not a number of at most 6 digits")
