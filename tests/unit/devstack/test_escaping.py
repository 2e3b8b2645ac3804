"""What a caller sends reaches the console escaped: one line, no terminal controls, no faked escapes."""

from __future__ import annotations

from urllib.parse import unquote

import pytest

from devstack.escaping import escaped_path, escaped_text
from devstack.mail import SentMail

NASTY = "a\nb\r\x1b[2J\u202eé %0A\\x1b\\"


def test_a_path_is_percent_encoded_again_and_decodes_back() -> None:
    escaped = escaped_path("/v1/" + NASTY)

    assert escaped == "/v1/a%0Ab%0D%1B[2J%E2%80%AE%C3%A9%20%250A\\x1b\\"
    assert unquote(escaped) == "/v1/" + NASTY


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("plain, with spaces: é", "plain, with spaces: é"),
        ("a\nb", "a\\nb"),
        ("\x1b[31mred", "\\x1b[31mred"),
        ("\u202eevil", "\\u202eevil"),
        ("not\\nan escape", "not\\\\nan escape"),
    ],
)
def test_text_keeps_printable_characters_and_escapes_the_rest(text: str, shown: str) -> None:
    assert escaped_text(text) == shown


def test_a_printed_mail_keeps_a_callers_address_on_its_line() -> None:
    mail = SentMail("m1", "idgate@example.com", ("ana@ex\nSubject: forged\x1b.com",), "Your code", "PIN 1")

    head = mail.render().splitlines()[1:4]

    assert head == ["From: idgate@example.com", "To: ana@ex\\nSubject: forged\\x1b.com", "Subject: Your code"]
