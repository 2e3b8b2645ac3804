"""What an error's message must say, without freezing its sentence.

A message is prose for a person ("for a human; may change", openapi.yaml), but it must tell that person
what went wrong: the field, the status, the action refused, the provider's code. `says` checks that each
of those is in the message as words of their own (not glued to other text), in the case written, so a
message that lost them, or whose words were changed, fails; rewording the rest of the sentence does not.
"""

from __future__ import annotations

import re


def says(message: object, *words: str) -> None:
    """`message` is text that holds each of `words` as whole words."""
    assert isinstance(message, str), f"no message: {message!r}"
    for word in words:
        found = re.search(rf"(?<!\w){re.escape(word)}(?!\w)", message)
        assert found, f"{message!r} does not say {word!r}"
