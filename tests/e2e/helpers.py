"""What several end-to-end test modules share besides conftest's fixtures: known PINs, unique email
addresses, the emails the stack printed."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from tests.e2e.stack import RunningStack

#: The rule devstack.mail.SentMail.render() prints above and below each email.
_MAIL_RULE = "-" * 60


def new_pin(*, unlike: str | None = None) -> str:
    """Six digits the Jekimo sandbox accepts as a PIN (100000-999999), different from `unlike`."""
    while True:
        pin = str(100_000 + secrets.randbelow(900_000))
        if pin != unlike:
            return pin


def unique_email(label: str) -> str:
    """An address no other test uses, so that the email sent to it can be told apart."""
    return f"{label}-{secrets.token_hex(6)}@example.com"


def mail_to(stack: RunningStack, address: str, timeout: float = 10.0) -> str:
    """The body of the email the application sent to `address`, as the stack printed it (the local
    inbox). Fails when none arrived within `timeout`."""
    pattern = re.compile(
        rf"^To: {re.escape(address)}\nSubject: [^\n]*\n\n(?P<body>.*?)\n{_MAIL_RULE}$",
        re.DOTALL | re.MULTILINE,
    )
    deadline = time.monotonic() + timeout
    while True:
        found = pattern.search(stack.output())
        if found:
            return found["body"]
        assert time.monotonic() < deadline, f"no email to {address} was printed within {timeout} s"
        time.sleep(0.2)


def jekimo_token(verification_url: str) -> str:
    """Jekimo's token: the last path segment of its login URL."""
    return urlsplit(verification_url).path.rstrip("/").rsplit("/", 1)[-1]


def strings_in(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every string inside a JSON value, with its path (`result.reasons.0`)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from strings_in(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from strings_in(item, f"{path}.{index}")
    elif isinstance(value, str):
        yield path, value
