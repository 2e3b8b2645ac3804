"""What a request brings, made safe for one line of the console: nothing a caller sends can end the line
(a decoded `%0A` would start a forged one), move the cursor or recolour the terminal (ESC), or turn text
around (Unicode bidi controls)."""

from __future__ import annotations

from urllib.parse import quote

#: Printable ASCII but `%` (so that an escape cannot be faked) and the space (which separates fields).
_PATH_SAFE = "".join(chr(code) for code in range(0x21, 0x7F) if chr(code) != "%")


def escaped_path(path: str) -> str:
    """The (decoded) path percent-encoded again, UTF-8 as on the wire: it decodes back to the path."""
    return quote(path, safe=_PATH_SAFE)


def escaped_text(text: str) -> str:
    """`text` with every character that is not printable escaped as Python writes it (`\\n`, `\\x1b`,
    `\\u202e`), and backslashes doubled, so that an escape cannot be faked either."""
    return "".join(char if char.isprintable() and char != "\\" else repr(char)[1:-1] for char in text)
