"""The okID sandbox's document images: what each image endpoint serves, and the images themselves.

okID documents four endpoints and leaves two things open, which ``ImageReadings`` sets:

* ``get-verification-image`` is redacted "based on your API key settings" and has no side: it serves
  the front. ``get-verification-image-unredacted`` has no side either (the front, watermark only).
* ``-front`` and ``-back`` find "the accepted" image of their side; the document never says whether
  they are redacted. By default they are not (watermark only), the reading idgate follows.
* ``-unredacted``'s description says the key is mandatory; its code samples send none. By default
  the key is needed; without, the image is served to a request without a key (a key that is sent
  is still checked).

The images are made-up ID card sides as PNG, written without an imaging library. Each one's bytes
differ per side, redaction and image type, and a ``tEXt`` chunk says which it is (e.g.
``okID sandbox FRONT redacted original``), so tests can tell them apart.
"""

from __future__ import annotations

import re
import struct
import zlib
from dataclasses import dataclass
from functools import lru_cache

from werkzeug.wrappers import Request, Response

from devstack.sandboxes.base import SandboxError

__all__ = [
    "IMAGE_ENDPOINTS",
    "IMAGE_TYPES",
    "SIDE_IMAGES",
    "ImageReadings",
    "document_png",
    "image_query",
    "image_response",
]

REDACTED = "get-verification-image"
UNREDACTED = "get-verification-image-unredacted"
IMAGE_ENDPOINTS = (REDACTED, UNREDACTED, "get-verification-image-front", "get-verification-image-back")
IMAGE_TYPES = ("original", "cropped")
#: The readings of ``-front``/``-back`` the sandbox can serve.
SIDE_IMAGES = ("unredacted", "redacted")


@dataclass(frozen=True)
class ImageReadings:
    """How the sandbox reads what okID's document leaves open about its images."""

    side_images: str = "unredacted"
    unredacted_needs_key: bool = True

    def __post_init__(self) -> None:
        if self.side_images not in SIDE_IMAGES:
            raise ValueError("side_images must be one of " + ", ".join(SIDE_IMAGES))

    def serves(self, endpoint: str) -> tuple[str, bool]:
        """(side, redacted) of the image ``endpoint`` serves."""
        if endpoint == REDACTED:
            return "front", True
        if endpoint == UNREDACTED:
            return "front", False
        return endpoint.rsplit("-", 1)[1], self.side_images == "redacted"

    def needs_key(self, endpoint: str) -> bool:
        return endpoint != UNREDACTED or self.unredacted_needs_key


def image_query(request: Request) -> tuple[int, str]:
    """(attempt_index, image_type) of an image request, 0 and ``original`` by default; else a 400."""
    raw = request.args.get("attempt_index")
    if raw is not None and not re.fullmatch(r"[0-9]{1,6}", raw):
        raise SandboxError(400, "attempt_index must be a non-negative integer")
    image_type = request.args.get("image_type", "original")
    if image_type not in IMAGE_TYPES:
        raise SandboxError(400, "image_type must be one of " + ", ".join(IMAGE_TYPES))
    return int(raw or 0), image_type


def image_response(side: str, redacted: bool, image_type: str) -> Response:
    response = Response(document_png(side, redacted, image_type), mimetype="image/png")
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Disposition"] = f'inline; filename="{side}_document.png"'
    return response


_Colour = tuple[int, int, int]


class _Canvas:
    def __init__(self, width: int, height: int, colour: _Colour) -> None:
        self.width = width
        self.height = height
        self.pixels = bytearray(bytes(colour) * (width * height))

    def rect(self, x: int, y: int, width: int, height: int, colour: _Colour) -> None:
        x0, x1 = max(0, x), min(self.width, x + width)
        if x1 <= x0:
            return
        row = bytes(colour) * (x1 - x0)
        for line in range(max(0, y), min(self.height, y + height)):
            start = (line * self.width + x0) * 3
            self.pixels[start : start + len(row)] = row

    def paste(self, other: _Canvas, x: int, y: int) -> None:
        for line in range(other.height):
            source = other.pixels[line * other.width * 3 : (line + 1) * other.width * 3]
            start = ((y + line) * self.width + x) * 3
            self.pixels[start : start + len(source)] = source

    def png(self, description: str) -> bytes:
        def chunk(kind: bytes, data: bytes) -> bytes:
            return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

        stride = self.width * 3
        raw = b"".join(
            b"\x00" + bytes(self.pixels[line * stride : (line + 1) * stride]) for line in range(self.height)
        )
        header = struct.pack(">IIBBBBB", self.width, self.height, 8, 2, 0, 0, 0)
        return (
            b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", header)
            + chunk(b"tEXt", b"Description\x00" + description.encode("latin-1"))
            + chunk(b"IDAT", zlib.compress(raw, 9))
            + chunk(b"IEND", b"")
        )


_INK: _Colour = (55, 60, 70)
_BLACK: _Colour = (0, 0, 0)


@lru_cache(maxsize=16)
def document_png(side: str, redacted: bool, image_type: str) -> bytes:
    """A made-up ID card side: portrait and fields on the front, barcode and MRZ on the back."""
    card = _Canvas(172, 108, (219, 233, 246) if side == "front" else (226, 241, 224))
    if side == "front":
        card.rect(0, 0, 172, 14, (40, 90, 160))
        card.rect(10, 24, 40, 52, _BLACK if redacted else (150, 155, 165))  # portrait
        for line in range(5):
            card.rect(
                58, 26 + line * 12, 100 - line * 9, 5 if not redacted else 8, _BLACK if redacted else _INK
            )
    else:
        for stripe in range(0, 150, 4):
            card.rect(10 + stripe, 10, 2 + (stripe // 4) % 2, 34, _INK)  # barcode
        for line in range(3):
            card.rect(10, 66 + line * 12, 152, 6, _INK)  # MRZ
        if redacted:
            card.rect(6, 62, 160, 40, _BLACK)
    if not redacted:
        for y in range(card.height):  # the watermark: a red diagonal band
            centre = y * card.width // card.height
            card.rect(centre - 3, y, 6, 1, (205, 60, 60))
    if image_type == "cropped":
        canvas = card
    else:
        canvas = _Canvas(card.width + 32, card.height + 32, (96, 96, 96))
        canvas.paste(card, 16, 16)
    view = "redacted" if redacted else "unredacted"
    return canvas.png(f"okID sandbox {side.upper()} {view} {image_type}")
