"""Datakeen IDify: ID document and selfie in Datakeen's hosted screens (seeds/datakeen-idify.txt).

`POST /auth` gives a token valid 24 h, sent as `Authorization: Basic {token}`: the deployment's shared one
(`ProviderContext.token`), so that a burst of cold starts does not each log in; `POST /api/v1/session`
starts a session (its link lives 1 h) with our per-session `webhookURL`; `GET /api/v1/session/{id}`
is the result. Datakeen's webhooks carry no signature, so a webhook only says which session to re-read
with our token; the follow-up re-reads on a sparse schedule in case a webhook is lost.
Settings: `DATAKEEN_BASE_URL`, `DATAKEEN_TOKEN_TTL_SECONDS`, `DATAKEEN_SESSION_TTL_SECONDS`;
secret `{"username", "password"}`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar, Self
from urllib.parse import quote

import requests
from aws_lambda_powertools import Logger
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError, field_validator

from idgate.domain import Reason, Session, Status
from idgate.errors import ProviderFailed, ProviderRejected, ProviderUnavailable, ValidationFailed
from idgate.providers import datakeen_result
from idgate.providers.base import (
    CheckOptions,
    IssuedToken,
    NewVerification,
    Observation,
    ProviderContext,
    StartRequest,
    WebhookRequest,
    passing,
)
from idgate.providers.http import json_object, send
from idgate.qr import image_data_uri
from idgate.validation import validation_failed

logger = Logger(service="idgate", child=True)

_NAME = re.compile(r"^[^\x00-\x1f\x7f]{1,100}$")  # printable: no control characters
_SESSION_ID = re.compile(r"^[A-Za-z0-9]{1,64}$")
#: The template list changes rarely; a new template is usable within this time.
TEMPLATES_MAX_AGE = 300.0


class DatakeenOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    template_id: StrictStr | None = Field(
        default=None, pattern=r"^[A-Za-z0-9]{1,64}$", description="One of the account's active templates."
    )
    # Personal data, sent to Datakeen to match against the document and never stored (exclude=True).
    first_name: StrictStr | None = Field(
        default=None, exclude=True, description="To match the document; never stored."
    )
    last_name: StrictStr | None = Field(
        default=None, exclude=True, description="To match the document; never stored."
    )
    birth_date: StrictStr | None = Field(
        default=None,
        exclude=True,
        json_schema_extra={"format": "date"},
        description="To match the document; never stored.",
    )
    min_age: StrictInt | None = Field(
        default=None, ge=1, le=99, description="Approve only a user at least this old."
    )
    return_url: StrictStr | None = Field(
        default=None, max_length=2048, description="Where Datakeen sends the user at the end (https)."
    )

    @field_validator("first_name", "last_name")
    @classmethod
    def _printable(cls, value: str | None) -> str | None:
        if value is not None and (not _NAME.fullmatch(value) or not value.strip()):
            raise ValueError("must be 1 to 100 printable characters")
        return value

    @field_validator("birth_date")
    @classmethod
    def _past_date(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            raise ValueError("must be a date as YYYY-MM-DD")
        try:
            born = date.fromisoformat(value)
        except ValueError as exc:
            raise ValueError("is not a real date") from exc
        if born >= datetime.now(UTC).date():
            raise ValueError("must be in the past")
        return value


class DatakeenSettings(BaseModel):
    base_url: str = "https://app.datakeen.co/backend"
    token_ttl_seconds: int = Field(default=86_400, ge=1)
    session_ttl_seconds: int = Field(default=3_600, ge=1)


class DatakeenProvider:
    name: ClassVar[str] = "datakeen"
    title: ClassVar[str] = "Datakeen IDify (ID document and selfie)"
    options_model: ClassVar[type[BaseModel]] = DatakeenOptions
    #: idgate.checks: the birth date read from the document answers an age; the document is an identity.
    checks: ClassVar[Mapping[str, CheckOptions]] = {
        "age": passing("min_age"),
        "identity": passing("return_url", "first_name", "last_name", "birth_date"),
    }
    resources: ClassVar[tuple[str, ...]] = ("templates",)

    def __init__(self, context: ProviderContext, settings: DatakeenSettings) -> None:
        self._context = context
        self._base = settings.base_url.rstrip("/")
        self._token_ttl = float(settings.token_ttl_seconds)
        self._session_ttl = timedelta(seconds=settings.session_ttl_seconds)
        self._cache = context.cache

    @classmethod
    def from_context(cls, context: ProviderContext) -> Self:
        return cls(context, context.settings(DatakeenSettings))

    # ---- starting ----------------------------------------------------------------------------

    def parse_options(self, options: Mapping[str, Any], *, email: str | None) -> DatakeenOptions:
        try:
            parsed = DatakeenOptions.model_validate(options)
        except ValidationError as exc:
            raise validation_failed(exc, prefix=("options",)) from exc
        self._context.check_return_url(parsed.return_url)
        if parsed.template_id is not None and parsed.template_id not in self._active_template_ids():
            raise ValidationFailed("options.template_id is not an active template", code="unknown_template")
        return parsed

    def start(self, request: StartRequest) -> NewVerification:
        options = request.options
        assert isinstance(options, DatakeenOptions)
        body: dict[str, Any] = {"QR": True}
        if request.webhook_url:
            body["webhookURL"] = request.webhook_url
        optional = {
            "templateId": options.template_id,
            "firstName": options.first_name,
            "lastName": options.last_name,
            "birthDate": _datakeen_date(options.birth_date),
            "callbackURL": options.return_url,
        }
        body.update({key: value for key, value in optional.items() if value is not None})
        answer = self._call("POST", "/api/v1/session", json=body, at_start=True)
        data = json_object(answer).get("data")
        link = data.get("link") if isinstance(data, dict) else None
        session_id = data.get("sessionId") if isinstance(data, dict) else None
        if not isinstance(link, str) or not isinstance(session_id, str) or not _SESSION_ID.match(session_id):
            raise ProviderFailed("Datakeen's answer lacks a session", code=Reason.PROVIDER_BAD_RESPONSE.value)
        qr = data.get("QRCode") if isinstance(data, dict) else None
        return NewVerification(
            verification_url=link,
            expires_at=datetime.now(UTC) + self._session_ttl,
            provider_ref=session_id,
            qr_image=image_data_uri(qr if isinstance(qr, str) else None),
        )

    # ---- following ---------------------------------------------------------------------------

    def observe(self, session: Session) -> Observation:
        reference = quote(session.provider_ref or "", safe="")
        body = json_object(self._call("GET", f"/api/v1/session/{reference}"))
        min_age = session.options.get("min_age")
        try:
            return datakeen_result.observation(
                body, min_age=min_age if isinstance(min_age, int) else None, today=datetime.now(UTC).date()
            )
        except datakeen_result.UnknownShape as exc:
            # Never a verdict from what we cannot read: the session stays as it is and is looked at again.
            logger.warning(
                "unknown Datakeen result shape; still open", session_id=session.id, problem=str(exc)
            )
            return Observation(session.status, "unknown")

    def next_wait_seconds(self, session: Session, *, attempt: int, base_interval: int) -> int:
        """Webhooks carry the news, so the cadence is slow: 6 base intervals (30 s) before a first look,
        then 12 (60 s), the start of a review's backing off (idgate.schedule)."""
        return 6 * base_interval if attempt == 0 else 12 * base_interval

    def fast_follow_seconds(self, session: Session, *, base_interval: int) -> int:
        return 0  # its webhooks carry the news; the long phase is the safety net for a lost one

    def follow_limit(self, status: Status) -> timedelta | None:
        return self._context.review_follow if status in (Status.REVIEW, Status.PROCESSING) else None

    def webhook_references(self, request: WebhookRequest) -> list[str]:
        """Each of Datakeen's three bodies names the session as `sessionId`; `newStatus` is ignored."""
        body = request.json()
        session_id = body.get("sessionId") if isinstance(body, dict) else None
        return [session_id] if isinstance(session_id, str) and _SESSION_ID.match(session_id) else []

    # ---- the account's templates -------------------------------------------------------------

    def resource(self, name: str) -> Mapping[str, Any]:
        if name != "templates":
            raise ValueError(name)
        return {
            "templates": [
                {
                    "id": t["_id"],
                    "name": t.get("name"),
                    "default": t.get("default"),
                    "status": t.get("status"),
                }
                for t in self._templates(max_age=0)
            ]
        }

    def _active_template_ids(self) -> set[str]:
        return {t["_id"] for t in self._templates(max_age=TEMPLATES_MAX_AGE) if t.get("status") == "active"}

    def _templates(self, *, max_age: float) -> list[dict[str, Any]]:
        cached = self._cache.get("templates")
        if cached is not None and max_age and time.monotonic() - cached[0] < max_age:
            return list(cached[1])
        answer = self._call("GET", "/admin/templates", at_start=True)
        try:
            listed = answer.json()
        except ValueError as exc:
            raise ProviderUnavailable(
                Reason.PROVIDER_BAD_RESPONSE, "Datakeen templates are not JSON"
            ) from exc
        if not isinstance(listed, list):
            raise ProviderUnavailable(Reason.PROVIDER_BAD_RESPONSE, "Datakeen templates are not a list")
        templates = [t for t in listed if isinstance(t, dict) and isinstance(t.get("_id"), str)]
        self._cache["templates"] = (time.monotonic(), templates)
        return templates

    # ---- calls with our token ----------------------------------------------------------------

    def _call(self, method: str, path: str, *, at_start: bool = False, **kwargs: Any) -> requests.Response:
        """A call with the shared token; on a 401 the token is renewed once and the call retried once.
        Refusals are final (ProviderRejected), or, when starting a session, a ProviderFailed for the
        caller."""
        try:
            token = self._context.token.get(self._login)
            answer = self._send(method, path, token, **kwargs)
            if answer.status_code == 401:
                token = self._context.token.get(self._login, rejected=token)
                answer = self._send(method, path, token, **kwargs)
            _refuse(answer)
        except ProviderRejected as exc:
            if at_start:
                raise ProviderFailed(f"Datakeen refused the request: {exc}", code=exc.reason) from exc
            raise
        return answer

    def _send(self, method: str, path: str, token: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Basic {token}", "Content-Type": "application/json"}
        url = f"{self._base}{path}"
        return send(self._context.http, method, url, provider=self.name, headers=headers, **kwargs)

    def _login(self) -> IssuedToken:
        """A new token, valid `token_ttl_seconds` (Datakeen's answer does not say; its document says 24 h)."""
        credentials = {
            "username": self._context.secret("username"),
            "password": self._context.secret("password"),
        }
        answer = send(self._context.http, "POST", f"{self._base}/auth", provider=self.name, json=credentials)
        if answer.status_code in (400, 401, 403):
            raise ProviderRejected(Reason.PROVIDER_AUTH_FAILED, "Datakeen refused our login")
        data = json_object(answer).get("data")
        token = data.get("token") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token:
            raise ProviderUnavailable(Reason.PROVIDER_BAD_RESPONSE, "Datakeen's login gave no token")
        return IssuedToken(token, self._token_ttl)


def _refuse(answer: requests.Response) -> None:
    status = answer.status_code
    if status == 429 or status >= 500:
        raise ProviderUnavailable(Reason.PROVIDER_UNREACHABLE, f"Datakeen answered HTTP {status}")
    if status >= 400:
        reason = {
            401: Reason.PROVIDER_AUTH_FAILED,
            403: Reason.PROVIDER_ACCESS_DENIED,
            404: Reason.PROVIDER_NOT_FOUND,
        }.get(status, Reason.PROVIDER_ERROR)
        raise ProviderRejected(reason, f"Datakeen answered HTTP {status}")


def _datakeen_date(iso: str | None) -> str | None:
    """YYYY-MM-DD as Datakeen's dd/mm/yyyy."""
    return None if iso is None else date.fromisoformat(iso).strftime("%d/%m/%Y")
