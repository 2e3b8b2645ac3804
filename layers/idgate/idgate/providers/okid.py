"""okID v2client: document + liveness verification portal (seeds/okid-v2client.txt).

`generate-verification` starts one; the user completes it in okID's portal. okID's state is then
read with `get-verification-details`, both on a schedule (the poll state machine) and whenever okID's
dashboard webhook says something changed. The webhook's payload is undocumented, so it is only a hint:
we look the verification up with our own key and trust nothing else it says.
Settings: `OKID_BASE_URL` (the portal); secret `{"sdk_key"}`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, ClassVar, Literal, Self
from urllib.parse import quote

import requests
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from idgate.domain import Reason, Session, Status
from idgate.errors import ProviderFailed, ProviderRejected, ProviderUnavailable
from idgate.providers.base import (
    CheckOptions,
    Image,
    NewVerification,
    Observation,
    ProviderContext,
    StartRequest,
    WebhookRequest,
    passing,
)
from idgate.providers.http import json_object, send
from idgate.validation import validation_failed

#: okID's `status.current` → our status. Anything else (pending, in progress, ...) waits for the user.
_STATUSES = {
    "verified": Status.APPROVED,
    "rejected": Status.DECLINED,
    "expired": Status.EXPIRED,
    "needs_manual_review": Status.REVIEW,
    "processing": Status.PROCESSING,
}
_REASONS = {
    Status.DECLINED: (Reason.PROVIDER_DECLINED.value,),
    Status.EXPIRED: (Reason.VERIFICATION_EXPIRED.value,),
}
#: Where a webhook body may name the verification (its payload is undocumented).
_ID_KEYS = ("verification_id", "verificationId", "verificationID")
#: How many objects and arrays of a webhook body are searched for the verification id.
_MAX_WEBHOOK_NODES = 200
#: Image types passed through to callers: never one a browser would run script from (SVG).
_IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/webp"})
#: Lambda answers are at most 6 MB, base64 included.
MAX_IMAGE_BYTES = 4 * 1024 * 1024


class OkidOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Literal["direct", "select"] = Field(
        default="direct", description="select: the user chooses between a QR code and this device."
    )
    return_url: str | None = Field(
        default=None,
        max_length=2048,
        description="Where okID sends the user at the end (https, allowed host).",
    )


class OkidSettings(BaseModel):
    base_url: str = "https://verify.prod.okid.io"


class _Generated(BaseModel):
    verificationId: str = Field(min_length=1, max_length=200)  # okID's field name
    expiresAt: datetime  # okID's field name

    @field_validator("expiresAt")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("expiresAt has no time zone")
        return value


class _Details(BaseModel):
    class _Status(BaseModel):
        current: str

    status: _Status


class OkidProvider:
    name: ClassVar[str] = "okid"
    title: ClassVar[str] = "okID (ID document and liveness)"
    options_model: ClassVar[type[BaseModel]] = OkidOptions
    #: idgate.checks: a document and liveness. okID takes no name or birth date to compare.
    checks: ClassVar[Mapping[str, CheckOptions]] = {"identity": passing("return_url")}

    def __init__(self, *, context: ProviderContext, portal_url: str) -> None:
        self._context = context
        self._portal = portal_url.rstrip("/")
        self._http = context.http
        self._review_follow = context.review_follow

    @classmethod
    def from_context(cls, context: ProviderContext) -> Self:
        return cls(context=context, portal_url=context.settings(OkidSettings).base_url)

    # ---- starting ----------------------------------------------------------------------------

    def parse_options(self, options: Mapping[str, Any], *, email: str | None) -> OkidOptions:
        try:
            parsed = OkidOptions.model_validate(options)
        except ValidationError as exc:
            raise validation_failed(exc, prefix=("options",)) from exc
        self._context.check_return_url(parsed.return_url)
        return parsed

    def start(self, request: StartRequest) -> NewVerification:
        options = request.options
        assert isinstance(options, OkidOptions)
        body: dict[str, Any] = {
            "extra_data": {"session_id": request.session_id, "reference": request.reference}
        }
        if options.return_url:
            body["return_url"] = options.return_url
        answer = send(
            self._http,
            "POST",
            f"{self._portal}/api/generate-verification",
            provider=self.name,
            headers={**self._key(), "Content-Type": "application/json"},
            json=body,
        )
        if answer.status_code in (401, 403):
            raise ProviderFailed("okID refused our key", code=Reason.PROVIDER_AUTH_FAILED.value)
        if 400 <= answer.status_code < 500:
            raise ProviderFailed(f"okID refused the request (HTTP {answer.status_code})")
        try:
            generated = _Generated.model_validate(json_object(answer))
        except ValidationError as exc:
            raise ProviderFailed(
                "okID's answer lacks a verification", code=Reason.PROVIDER_BAD_RESPONSE.value
            ) from exc
        url = f"{self._portal}/?verification_id={quote(generated.verificationId, safe='')}"
        if options.mode == "select":
            url += "&mode=select"
        return NewVerification(
            verification_url=url, expires_at=generated.expiresAt, provider_ref=generated.verificationId
        )

    # ---- following ---------------------------------------------------------------------------

    def observe(self, session: Session) -> Observation:
        answer = send(
            self._http,
            "GET",
            self._url("get-verification-details", session),
            provider=self.name,
            headers=self._key(),
        )
        self._refuse(answer)
        try:
            details = _Details.model_validate(json_object(answer))
        except ValidationError as exc:
            raise ProviderUnavailable(Reason.PROVIDER_BAD_RESPONSE, "unreadable okID details") from exc
        current = details.status.current
        status = _STATUSES.get(current, Status.PENDING)
        return Observation(status, current, reasons=_REASONS.get(status, ()))

    def next_wait_seconds(self, session: Session, *, attempt: int, base_interval: int) -> int:
        """The documented schedule: six checks at the base interval (5 s), then the interval doubles
        every six checks up to 12 x base (60 s); a session in review (or processing) is checked every
        12 x base."""
        if session.status in (Status.REVIEW, Status.PROCESSING):
            return 12 * base_interval
        return int(min(base_interval * 2 ** (attempt // 6), 12 * base_interval))

    def fast_follow_seconds(self, session: Session, *, base_interval: int) -> int:
        """The documented schedule's first checks (a minute at the default interval); okID's webhook
        and the sparse long phase cover the rest of the half hour."""
        return 12 * base_interval

    def follow_limit(self, status: Status) -> timedelta | None:
        """How long a session in `status` is followed before it ends (review: a documented limit)."""
        return self._review_follow if status in (Status.REVIEW, Status.PROCESSING) else None

    # ---- webhooks and images -----------------------------------------------------------------

    def webhook_references(self, request: WebhookRequest) -> list[str]:
        """The verification id a webhook body names, wherever it names it (breadth first, so the
        shallowest wins); none if it names none. The search is bounded: a body is the sender's."""
        reference = self.webhook_reference(request.json())
        return [reference] if reference else []

    def webhook_reference(self, body: Any) -> str | None:
        """The verification id named in a parsed webhook body, or None."""
        pending: deque[Any] = deque([body])
        for _ in range(_MAX_WEBHOOK_NODES):
            if not pending:
                return None
            node = pending.popleft()
            if isinstance(node, Mapping):
                for key in _ID_KEYS:
                    value = node.get(key)
                    if isinstance(value, str) and 0 < len(value) <= 200:
                        return value
                pending.extend(value for value in node.values() if isinstance(value, Mapping | list))
            elif isinstance(node, list):
                pending.extend(value for value in node if isinstance(value, Mapping | list))
        return None

    def image(self, session: Session, *, side: str, redacted: bool) -> Image | None:
        """The accepted document image of `side`; None when okID has none.

        Redacted, it is okID's redacted endpoint, the only one documented as redacted; it has no side
        and serves the front, so there is no redacted back. Unredacted, it is the side's own endpoint
        (`-front`, `-back`): okID does not say those are redacted, so they are not treated as such."""
        if redacted and side != "front":
            return None
        endpoint = "get-verification-image" if redacted else f"get-verification-image-{side}"
        answer = send(
            self._http, "GET", self._url(endpoint, session), provider=self.name, headers=self._key()
        )
        if answer.status_code == 404:
            return None
        self._refuse(answer)
        content_type = answer.headers.get("Content-Type", "image/jpeg").split(";")[0].strip().lower()
        if content_type not in _IMAGE_TYPES:
            raise ProviderUnavailable(
                Reason.PROVIDER_BAD_RESPONSE, "okID's image answer is not a known image type"
            )
        if len(answer.content) > MAX_IMAGE_BYTES:
            raise ProviderRejected(Reason.PROVIDER_ERROR, "okID's image is larger than an API answer may be")
        return Image(content=answer.content, content_type=content_type)

    # ---- internals ---------------------------------------------------------------------------

    def _url(self, endpoint: str, session: Session) -> str:
        return f"{self._portal}/api/{endpoint}/{quote(session.provider_ref or '', safe='')}"

    def _key(self) -> dict[str, str]:
        """The one header okID documents for every call (and sends `Content-Type` with a body only)."""
        return {"X-SDK-Key": self._context.secret("sdk_key")}

    @staticmethod
    def _refuse(answer: requests.Response) -> None:
        if answer.status_code == 429 or answer.status_code >= 500:
            raise ProviderUnavailable(Reason.PROVIDER_UNREACHABLE, f"okID answered HTTP {answer.status_code}")
        if 400 <= answer.status_code < 500:
            reason = {
                401: Reason.PROVIDER_AUTH_FAILED,
                403: Reason.PROVIDER_ACCESS_DENIED,
                404: Reason.PROVIDER_NOT_FOUND,
            }.get(answer.status_code, Reason.PROVIDER_ERROR)
            raise ProviderRejected(reason, f"okID answered HTTP {answer.status_code}")
