"""Jekimo: passwordless login and age check by QR code (seeds/jekimo.txt).

Two form-encoded POSTs: `auth/gettoken` starts a login, `auth/check` is polled every 5 s until
`OK`/`KO` or until the token's 120 s validity runs out. No webhooks exist, so sessions are polled.
Header names are those of the document's curl examples (`x-api-key`, `min-age`, `two-af`), where its
prose and PHP sample spell them otherwise; the answers are read in every shape the document allows
(`jekimo_answers`). README's Jekimo notes say which reading is followed where the document disagrees
with itself.
Settings: `JEKIMO_BASE_URL`, `JEKIMO_TOKEN_TTL_SECONDS`; secret `{"api_key"}`.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, ClassVar, Self

import requests
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, ValidationError, model_validator

from idgate.domain import Reason, Session, Status
from idgate.errors import ProviderFailed, ProviderRejected, ProviderUnavailable, ValidationFailed
from idgate.providers.base import (
    CheckOptions,
    NewVerification,
    Observation,
    ProviderContext,
    StartRequest,
    passing,
)
from idgate.providers.http import json_object, send
from idgate.providers.jekimo_answers import CheckAnswer, TokenAnswer
from idgate.validation import validation_failed

TOKEN_VALIDITY = timedelta(seconds=120)  # documented: a token is valid 120 s from its timestamp
_FORM = {"Content-Type": "application/x-www-form-urlencoded"}


class JekimoOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_age: StrictInt | None = Field(
        default=None, ge=1, le=99, description="Approve only a user at least this old."
    )
    two_factor: StrictBool = Field(
        default=False, description="When Jekimo flags a risk, email the user a PIN to prove (needs email)."
    )


class JekimoSettings(BaseModel):
    base_url: str = "https://www.jekimo.com/app.php/v1.1"
    #: Jekimo documents 120 s; a setting only so that the local stack can shorten it in tests.
    token_ttl_seconds: int = Field(default=120, ge=1)


class _Options(JekimoOptions):
    email: str | None = None

    @model_validator(mode="after")
    def _email_for_two_factor(self) -> _Options:
        if self.two_factor and not self.email:
            raise ValueError("two_factor needs the session's email, to send the PIN to")
        return self


class JekimoProvider:
    name: ClassVar[str] = "jekimo"
    title: ClassVar[str] = "Jekimo (QR code login and age check)"
    options_model: ClassVar[type[BaseModel]] = JekimoOptions
    #: idgate.checks: Jekimo checks an age (its own `min_age`).
    checks: ClassVar[Mapping[str, CheckOptions]] = {"age": passing("min_age")}

    def __init__(
        self,
        *,
        context: ProviderContext,
        base_url: str,
        http: requests.Session,
        token_validity: timedelta = TOKEN_VALIDITY,
    ) -> None:
        self._context = context
        self._base_url = base_url.rstrip("/")
        self._token_validity = token_validity
        self._http = http

    @classmethod
    def from_context(cls, context: ProviderContext) -> Self:
        settings = context.settings(JekimoSettings)
        return cls(
            context=context,
            base_url=settings.base_url,
            http=context.http,
            token_validity=timedelta(seconds=settings.token_ttl_seconds),
        )

    def parse_options(self, options: Mapping[str, Any], *, email: str | None) -> JekimoOptions:
        try:
            parsed = _Options.model_validate({**options, "email": email})
        except ValidationError as exc:
            raise validation_failed(exc, prefix=("options",)) from exc
        if "email" in options:
            raise ValidationFailed("email belongs at the top level of the body, not in options")
        return JekimoOptions(min_age=parsed.min_age, two_factor=parsed.two_factor)

    def second_factor_requested(self, options: BaseModel) -> bool:
        return isinstance(options, JekimoOptions) and options.two_factor

    def start(self, request: StartRequest) -> NewVerification:
        options = request.options
        assert isinstance(options, JekimoOptions)
        headers = {**_FORM, "x-api-key": self._api_key(), "two-af": "true" if options.two_factor else "false"}
        if options.min_age is not None:
            headers["min-age"] = str(options.min_age)
        body = json_object(
            send(self._http, "POST", f"{self._base_url}/auth/gettoken", provider=self.name, headers=headers)
        )
        if "error" in body:
            raise ProviderFailed(
                "Jekimo refused to start a verification", code=_reason_for_error(body["error"]).value
            )
        # An answer we cannot read is Jekimo's doing, not the network's: said as such (a 502 with
        # provider_bad_response), and the caller may start again, which asks for a new token.
        try:
            token = TokenAnswer.model_validate(body)
        except ValidationError as exc:
            raise ProviderFailed(
                "Jekimo's token answer is unreadable (token, timestamp, qrcode or url)",
                code=Reason.PROVIDER_BAD_RESPONSE.value,
            ) from exc
        link = token.login_link
        if link is None:
            raise ProviderFailed(
                "Jekimo's answer has no link for the user", code=Reason.PROVIDER_BAD_RESPONSE.value
            )
        return NewVerification(
            verification_url=link,
            expires_at=token.timestamp + self._token_validity,
            provider_ref=hashlib.sha256(token.token.encode()).hexdigest(),
            provider_token=token.token,
            # None when `qrcode` is a link: the API then draws the QR code of `verification_url`.
            qr_image=token.qr_image,
        )

    def observe(self, session: Session) -> Observation:
        if not session.provider_token:
            raise ProviderRejected(Reason.INTERNAL_ERROR, "session has no Jekimo token")
        headers = {**_FORM, "x-api-key": self._api_key(), "token": session.provider_token}
        body = json_object(
            send(self._http, "POST", f"{self._base_url}/auth/check", provider=self.name, headers=headers)
        )
        if "error" in body:
            raise ProviderRejected(_reason_for_error(body["error"]), "Jekimo refused the check")
        try:
            check = CheckAnswer.model_validate(body)
        except ValidationError as exc:
            raise ProviderUnavailable(Reason.PROVIDER_BAD_RESPONSE, "unreadable Jekimo check answer") from exc
        return _observation(check, session)

    def next_wait_seconds(self, session: Session, *, attempt: int, base_interval: int) -> int:
        return base_interval

    def fast_follow_seconds(self, session: Session, *, base_interval: int) -> int:
        """The token's whole life: Jekimo sends no webhook, and a user scans within it or never."""
        return math.ceil((session.expires_at - session.created_at).total_seconds())

    def follow_limit(self, status: Status) -> timedelta | None:
        return None

    def _api_key(self) -> str:
        return self._context.secret("api_key")


def _reason_for_error(error: object) -> Reason:
    text = str(error).lower()
    if "api key" in text:
        return Reason.PROVIDER_AUTH_FAILED
    if "token" in text:
        return Reason.PROVIDER_TOKEN_REJECTED
    return Reason.PROVIDER_ERROR


def _observation(check: CheckAnswer, session: Session) -> Observation:
    if check.status == "created":
        return Observation(Status.PENDING, check.status)
    if check.status == "KO":
        return Observation(Status.DECLINED, check.status, check.risk, (Reason.PROVIDER_DECLINED.value,))
    if check.status != "OK":
        raise ProviderUnavailable(Reason.PROVIDER_BAD_RESPONSE, "unknown Jekimo status")
    data: dict[str, Any] = {}
    min_age = session.options.get("min_age")
    if min_age is not None:
        data["min_age_verified"] = min_age
    reasons = (Reason.RISK_FLAGGED.value,) if check.risk else ()
    if session.options.get("two_factor"):
        # Jekimo gives a PIN exactly when it wants the second factor, so the PIN decides, not `risk`
        # (which may be missing): an approval never skips a PIN Jekimo gave.
        if check.pin:
            code = f"{check.pin:06d}"
            return Observation(Status.AWAITING_PIN, check.status, check.risk, reasons, data, code)
        if check.pin is None and check.risk is not False:
            # A flagged or unknown risk and no word on the PIN: whether a second factor is owed is
            # unknown, so nothing is approved; a later check may be whole (else the deadline ends it).
            raise ProviderUnavailable(Reason.PROVIDER_BAD_RESPONSE, "Jekimo's OK says nothing of the PIN")
    return Observation(Status.APPROVED, check.status, check.risk, reasons, data)
