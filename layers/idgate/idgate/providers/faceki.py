"""FACEKI (KYC V2): the user verifies a document and a selfie at a KYC link (seeds/faceki.txt).

`GET /auth/api/access-token?clientId=&clientSecret=` gives a bearer token valid `expires_in` seconds;
token requests may be billed, so the token is the deployment's shared one (`ProviderContext.token`).
`POST /kycverify/api/kycverify/kyc-verify-link` makes the session's link (`applicationId` = our session
id); the records of that link (`GET /kycverify/api/kycverify/link?linkId=`) are the state. FACEKI's
dashboard webhook names a record (`requestId`) and carries personal data (`fullName`, `kycData`): only
the id is read, the record is re-read with our token, and its link's records decide. The follow-up
re-reads on a sparse schedule in case a webhook is lost.
Settings: `FACEKI_BASE_URL` (and `FACEKI_LINK_MINUTE_SECONDS`, for the local stack); secret
`{"client_id", "client_secret"}`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Self

import requests
from aws_lambda_powertools import Logger
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, ValidationError

from idgate.domain import Reason, Session, Status
from idgate.errors import ProviderFailed, ProviderRejected, ProviderUnavailable
from idgate.providers import faceki_result
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
from idgate.validation import validation_failed

logger = Logger(service="idgate", child=True)

_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")  # FACEKI's link and request ids
LINK_PATH = "/kycverify/api/kycverify/kyc-verify-link"
RECORDS_OF_LINK_PATH = "/kycverify/api/kycverify/link"
RECORD_PATH = "/kycverify/api/kycverify/records"


class FacekiOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    expiry_minutes: StrictInt = Field(
        default=60, ge=5, le=1440, description="How long the KYC link (and so the session) stays open."
    )
    document_optional: StrictBool = Field(
        default=False, description="Let the user finish without a document (FACEKI's rules permitting)."
    )
    return_url: StrictStr | None = Field(
        default=None, max_length=2048, description="Where FACEKI sends the user at the end (https)."
    )


class FacekiSettings(BaseModel):
    base_url: str = "https://sdk.faceki.com"
    #: Seconds in a minute of `expiry_minutes`: always 60 on AWS; the local stack shortens it (with its
    #: sandbox's) to try expiry in seconds.
    link_minute_seconds: int = Field(default=60, ge=1, le=60)


class FacekiProvider:
    name: ClassVar[str] = "faceki"
    title: ClassVar[str] = "FACEKI (KYC link)"
    options_model: ClassVar[type[BaseModel]] = FacekiOptions
    #: idgate.checks: a document and a selfie. FACEKI takes no name or birth date to compare.
    checks: ClassVar[Mapping[str, CheckOptions]] = {"identity": passing("return_url")}

    def __init__(self, context: ProviderContext, settings: FacekiSettings) -> None:
        self._context = context
        self._base = settings.base_url.rstrip("/")
        self._minute = timedelta(seconds=settings.link_minute_seconds)

    @classmethod
    def from_context(cls, context: ProviderContext) -> Self:
        return cls(context, context.settings(FacekiSettings))

    # ---- starting ----------------------------------------------------------------------------

    def parse_options(self, options: Mapping[str, Any], *, email: str | None) -> FacekiOptions:
        try:
            parsed = FacekiOptions.model_validate(options)
        except ValidationError as exc:
            raise validation_failed(exc, prefix=("options",)) from exc
        self._context.check_return_url(parsed.return_url)
        return parsed

    def start(self, request: StartRequest) -> NewVerification:
        options = request.options
        assert isinstance(options, FacekiOptions)
        body: dict[str, Any] = {
            "expiryTime": options.expiry_minutes,
            "applicationId": request.session_id,
            "document_optional": options.document_optional,
        }
        if options.return_url is not None:
            body["redirect_url"] = options.return_url
        try:
            answer = self._call("POST", LINK_PATH, json=body)
        except ProviderRejected as exc:
            raise ProviderFailed(f"FACEKI refused the request: {exc}", code=exc.reason) from exc
        code = faceki_result.response_code(answer)
        if code != 0:
            raise _creation_refused(code)
        link_id, url = answer.get("data"), answer.get("url")
        if not isinstance(link_id, str) or not _ID.match(link_id) or not _is_http_url(url):
            raise ProviderFailed("FACEKI's answer lacks a link", code=Reason.PROVIDER_BAD_RESPONSE.value)
        assert isinstance(url, str)
        return NewVerification(
            verification_url=url,
            expires_at=datetime.now(UTC) + options.expiry_minutes * self._minute,
            provider_ref=link_id,
        )

    # ---- following ---------------------------------------------------------------------------

    def observe(self, session: Session) -> Observation:
        answer = self._call("GET", RECORDS_OF_LINK_PATH, params={"linkId": session.provider_ref or ""})
        code = faceki_result.response_code(answer)
        if code == faceki_result.NO_RECORD_YET:
            return Observation(Status.PENDING, "NO_RECORD")
        if code == faceki_result.EXPIRED_LINK:
            return Observation(
                Status.EXPIRED, "VERIFICATION_LINK_EXPIRED", reasons=(faceki_result.LINK_EXPIRED,)
            )
        if code != 0:
            raise _refusal(code, "reading the link's records")
        try:
            return faceki_result.observation(faceki_result.records_of(answer.get("data")))
        except faceki_result.UnknownShape as exc:
            # Never a verdict from what we cannot read: the session stays as it is and is looked at again.
            logger.warning("unknown FACEKI record shape; still open", session_id=session.id, problem=str(exc))
            return Observation(session.status, "unknown")

    def next_wait_seconds(self, session: Session, *, attempt: int, base_interval: int) -> int:
        """Webhooks carry the news, so the cadence is slow: 3 base intervals (15 s) before a first look,
        then 6 (30 s), the start of a review's backing off (idgate.schedule)."""
        return 3 * base_interval if attempt == 0 else 6 * base_interval

    def fast_follow_seconds(self, session: Session, *, base_interval: int) -> int:
        return 0  # its webhooks carry the news; the long phase is the safety net for a lost one

    def follow_limit(self, status: Status) -> timedelta | None:
        return self._context.review_follow if status is Status.REVIEW else None

    def webhook_references(self, request: WebhookRequest) -> list[str]:
        """The link of the record a webhook names. Only `requestId` is read (the body also carries the
        user's name and document data); the record is read with our token to learn its link."""
        body = request.json()
        request_id = body.get("requestId") if isinstance(body, dict) else None
        if not isinstance(request_id, str) or not _ID.match(request_id):
            return []
        answer = self._call("GET", RECORD_PATH, params={"requestId": request_id})
        code = faceki_result.response_code(answer)
        if code == faceki_result.NO_RECORD_YET:
            return []
        if code != 0:
            raise _refusal(code, "reading a record")
        record = answer.get("data")
        link_id = record.get("linkId") if isinstance(record, dict) else None
        return [link_id] if isinstance(link_id, str) and _ID.match(link_id) else []

    # ---- calls with our token ----------------------------------------------------------------

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """A call with the shared token; on a 401 the token is renewed once and the call retried once.
        A refusal is final (ProviderRejected); the answer is FACEKI's JSON object."""
        token = self._context.token.get(self._login)
        answer = self._send(method, path, token, **kwargs)
        if answer.status_code == 401:
            token = self._context.token.get(self._login, rejected=token)
            answer = self._send(method, path, token, **kwargs)
        _refuse(answer)
        return json_object(answer)

    def _send(self, method: str, path: str, token: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"}
        url = f"{self._base}{path}"
        return send(self._context.http, method, url, provider=self.name, headers=headers, **kwargs)

    def _login(self) -> IssuedToken:
        credentials = {
            "clientId": self._context.secret("client_id"),
            "clientSecret": self._context.secret("client_secret"),
        }
        answer = send(
            self._context.http,
            "GET",
            f"{self._base}/auth/api/access-token",
            provider=self.name,
            params=credentials,
        )
        if answer.status_code in (400, 401, 403, 422):
            raise ProviderRejected(Reason.PROVIDER_AUTH_FAILED, "FACEKI refused our client id and secret")
        body = json_object(answer)
        data = body.get("data")
        token = data.get("access_token") if isinstance(data, dict) else None
        lifetime = data.get("expires_in") if isinstance(data, dict) else None
        if faceki_result.response_code(body) != 0 or not isinstance(token, str) or not token:
            raise ProviderUnavailable(Reason.PROVIDER_BAD_RESPONSE, "FACEKI's token answer has no token")
        if not isinstance(lifetime, int | float) or isinstance(lifetime, bool) or lifetime <= 0:
            lifetime = 3600  # the documented validity
        return IssuedToken(token, float(lifetime))


def _refuse(answer: requests.Response) -> None:
    status = answer.status_code
    if status == 429 or status >= 500:
        raise ProviderUnavailable(Reason.PROVIDER_UNREACHABLE, f"FACEKI answered HTTP {status}")
    if status >= 400:
        reason = {
            401: Reason.PROVIDER_AUTH_FAILED,
            403: Reason.PROVIDER_ACCESS_DENIED,
            404: Reason.PROVIDER_NOT_FOUND,
        }.get(status, Reason.PROVIDER_ERROR)
        raise ProviderRejected(reason, f"FACEKI answered HTTP {status}")


def _refusal(code: int | None, doing: str) -> Exception:
    """A response code other than success while following: transient ones are retried."""
    meaning = faceki_result.CODES.get(code) if code is not None else None
    if meaning is None:
        return ProviderUnavailable(Reason.PROVIDER_BAD_RESPONSE, f"FACEKI answered code {code} {doing}")
    if meaning.transient:
        return ProviderUnavailable(Reason.PROVIDER_UNREACHABLE, f"FACEKI said {meaning.name} {doing}")
    return ProviderRejected(meaning.reason or Reason.PROVIDER_ERROR, f"FACEKI said {meaning.name} {doing}")


def _creation_refused(code: int | None) -> Exception:
    """Why FACEKI made no link: our account's state (502 with the code README lists), or transient."""
    meaning = faceki_result.CODES.get(code) if code is not None else None
    if meaning is not None and meaning.transient:
        return ProviderUnavailable(Reason.PROVIDER_UNREACHABLE, f"FACEKI said {meaning.name}")
    if meaning is not None and code in faceki_result.ACCOUNT_CODES:
        assert meaning.reason is not None
        return ProviderFailed(f"FACEKI refused to make a link: {meaning.name}", code=meaning.reason)
    name = meaning.name if meaning is not None else f"code {code}"
    return ProviderFailed(f"FACEKI refused to make a link: {name}", code=Reason.PROVIDER_ERROR.value)


def _is_http_url(value: Any) -> bool:
    return isinstance(value, str) and len(value) <= 2048 and value.startswith(("https://", "http://"))
