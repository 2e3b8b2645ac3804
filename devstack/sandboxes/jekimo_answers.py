"""The shapes of the Jekimo sandbox's answers, where Jekimo's document allows more than one.

``seeds/jekimo.txt`` says ``qrcode`` is "either a Base64 image or a link", gives ``timestamp`` as "the
token creation time" with a unix-seconds example, and shows every field of both answers without
saying which are always there. ``AnswerShapes`` picks one reading of each, so that a client can be
tried against all of them:

``qrcode``     ``image`` (a bare base64 PNG of the login URL, the default) or ``link`` (the login URL)
``timestamp``  ``seconds`` (an integer, the default), ``milliseconds`` (an integer) or ``string``
               (the seconds as a string of digits)
``with_url``   whether ``gettoken`` answers ``url`` (default true)
``with_risk``  whether ``check`` answers ``risk`` (default true)
"""

from __future__ import annotations

from dataclasses import dataclass

from devstack.sandboxes.base import qr_png_base64

__all__ = ["QRCODE_FORMS", "TIMESTAMP_FORMS", "AnswerShapes"]

QRCODE_FORMS = ("image", "link")
TIMESTAMP_FORMS = ("seconds", "milliseconds", "string")


@dataclass(frozen=True)
class AnswerShapes:
    qrcode: str = "image"
    timestamp: str = "seconds"
    with_url: bool = True
    with_risk: bool = True

    def __post_init__(self) -> None:
        if self.qrcode not in QRCODE_FORMS:
            raise ValueError("qrcode must be one of " + ", ".join(QRCODE_FORMS))
        if self.timestamp not in TIMESTAMP_FORMS:
            raise ValueError("timestamp must be one of " + ", ".join(TIMESTAMP_FORMS))

    def token_answer(self, token: str, timestamp: int, login_url: str) -> dict[str, object]:
        """``gettoken``'s answer for a token created at ``timestamp`` (unix seconds)."""
        stamp: object = timestamp
        if self.timestamp == "milliseconds":
            stamp = timestamp * 1000
        elif self.timestamp == "string":
            stamp = str(timestamp)
        qrcode = login_url if self.qrcode == "link" else qr_png_base64(login_url)
        answer: dict[str, object] = {"token": token, "timestamp": stamp, "qrcode": qrcode}
        if self.with_url:
            answer["url"] = login_url
        return answer

    def check_answer(self, status: str, risk: bool, pin: int) -> dict[str, object]:
        """``check``'s answer for a token in ``status``."""
        if self.with_risk:
            return {"status": status, "risk": risk, "pin": pin}
        return {"status": status, "pin": pin}
