"""QR codes as data: URIs, and recognition of the images providers hand out."""

from __future__ import annotations

import base64
import binascii
import io

_IMAGE_SIGNATURES = {
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
    b"GIF8": "image/gif",
    b"<svg": "image/svg+xml",
    b"<?xml": "image/svg+xml",
}


def qr_data_uri(text: str) -> str:
    """A PNG QR code of `text`."""
    # segno is imported here, not with the module: only the API's session creation draws a QR code, and the
    # poll and webhook functions, which import this module with the provider clients, never do.
    import segno

    buffer = io.BytesIO()
    segno.make(text, error="m").save(buffer, kind="png", scale=6, border=2)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def image_data_uri(value: str | None) -> str | None:
    """`value` as an image data: URI when it is one (a data: URI or bare base64 of a known image format);
    None when it is anything else, such as a link."""
    if not value:
        return None
    value = value.strip()
    if value.startswith("data:image/") and ";base64," in value:
        return value
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    for signature, mime in _IMAGE_SIGNATURES.items():
        if raw.startswith(signature):
            return f"data:{mime};base64,{value}"
    return None
