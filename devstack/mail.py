"""The emails the application sends through SES, read from moto's SES backend in this process.

Locally nothing is delivered: the console is the inbox (two-factor PINs show up there).
"""

from __future__ import annotations

import email
import email.policy
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from devstack.escaping import escaped_text
from devstack.template import LOCAL_REGION

log = logging.getLogger("devstack.mail")


@dataclass(frozen=True)
class SentMail:
    id: str
    sender: str
    to: tuple[str, ...]
    subject: str
    body: str

    def render(self) -> str:
        rule = "-" * 60
        # The address is a caller's: one line each, whatever it holds.
        to = ", ".join(escaped_text(address) for address in self.to)
        head = f"From: {escaped_text(self.sender)}\nTo: {to}\nSubject: {escaped_text(self.subject)}"
        return f"{rule}\n{head}\n\n{self.body}\n{rule}"


def _from_raw(message_id: str, sender: str, destinations: list[str], raw: str) -> SentMail:
    parsed = email.message_from_string(raw, policy=email.policy.default)
    part = parsed.get_body(preferencelist=("plain", "html"))
    body = part.get_content() if part is not None else ""
    sender = sender or str(parsed["From"])
    return SentMail(message_id, sender, tuple(destinations), str(parsed["Subject"]), body)


def sent_messages(region: str = LOCAL_REGION, account_id: str = DEFAULT_ACCOUNT_ID) -> list[SentMail]:
    """Every message sent so far (SES v1 and v2 share this store in moto), oldest first."""
    result = []
    for message in list(ses_backends[account_id][region].sent_messages):
        if hasattr(message, "raw_data"):
            result.append(_from_raw(message.id, message.source, message.destinations, message.raw_data))
        elif hasattr(message, "subject"):
            to = [
                a
                for kind in ("ToAddresses", "CcAddresses", "BccAddresses")
                for a in message.destinations.get(kind, [])
            ]
            result.append(SentMail(message.id, message.source, tuple(to), message.subject, message.body))
        else:  # templated: moto does not render templates
            subject = f"(template {message.template})"
            result.append(SentMail(message.id, message.source, (), subject, str(message.template_data)))
    return result


class MailPrinter:
    """Prints each new message once, checking every `interval` seconds."""

    def __init__(self, interval: float = 0.5, output: Callable[[str], None] = print) -> None:
        self.interval, self.output = interval, output
        self._seen: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> MailPrinter:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self.check()  # what arrived since the last turn

    def check(self) -> None:
        for mail in sent_messages():
            if mail.id not in self._seen:
                self._seen.add(mail.id)
                self.output(mail.render())

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.check()
            except Exception:  # keep printing later mail whatever one message did
                log.exception("could not read sent mail")
