"""The one small interface every provider implements, and what a provider is built from.

A provider is a class with a `name` and a `from_context` constructor, registered by one line in
`idgate.providers.registry`. The core learns everything else from the interfaces below: what a provider can
do (webhooks, document images, a second factor, extra resources) is a capability it implements,
never a name the core knows.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, Self, runtime_checkable
from urllib.parse import urlsplit

from pydantic import BaseModel, ValidationError

from idgate.domain import Session, Status
from idgate.errors import InvalidJson, ProviderFailed, ValidationFailed

if TYPE_CHECKING:
    import requests  # the core uses this interface on every path; only the provider clients need requests


@dataclass(frozen=True)
class IssuedToken:
    """A login token as the provider issued it."""

    value: str
    #: Seconds it stays valid from now, as the provider says (`expires_in`).
    lifetime_seconds: float


def refresh_margin(lifetime_seconds: float) -> float:
    """How long before its end a token is renewed: 5 minutes, or a fifth of a short lifetime."""
    return min(300.0, lifetime_seconds / 5)


class SharedToken(Protocol):
    """A provider's login token, shared by every client that asks for it (on AWS: every container of
    the deployment), so that a provider that bills or limits logins is asked for a token once per
    lifetime, not once per container."""

    def get(self, issue: Callable[[], IssuedToken], *, rejected: str | None = None) -> str:
        """The current token; `issue` logs in when there is none usable (one caller at a time).
        `rejected`: the token the provider just refused, which is renewed unless someone already did."""
        ...


class ProcessToken:
    """A `SharedToken` shared by the clients of this process only: used where no table is configured
    (and by unit tests)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._token: tuple[str, float] | None = None  # (value, renew at)

    def get(self, issue: Callable[[], IssuedToken], *, rejected: str | None = None) -> str:
        with self._lock:
            if self._token is not None and self._token[0] != rejected and self._clock() < self._token[1]:
                return self._token[0]
            self._token = None
            issued = issue()
            lifetime = issued.lifetime_seconds
            self._token = (issued.value, self._clock() + lifetime - refresh_margin(lifetime))
            return issued.value


@dataclass(frozen=True)
class ProviderContext:
    """What a provider is built from. Its settings come by a naming convention: every environment
    variable `<NAME>_<KEY>` (e.g. `OKID_BASE_URL`) is `variables["<KEY>"]`; its credentials are the
    JSON secret `<prefix><name>`."""

    name: str
    variables: Mapping[str, str]
    credentials: Callable[[], Mapping[str, Any]]
    http: requests.Session
    #: Lives as long as the container and is shared by the provider's clients (e.g. a login token).
    cache: MutableMapping[str, Any]
    return_url_hosts: frozenset[str] = frozenset()
    review_follow: timedelta = timedelta(hours=168)
    #: The provider's login token, shared by the whole deployment (see `SharedToken`).
    token: SharedToken = field(default_factory=ProcessToken)

    def settings[M: BaseModel](self, model: type[M]) -> M:
        """The provider's own settings model, filled from its variables (`BASE_URL` → `base_url`)."""
        try:
            return model.model_validate({key.lower(): value for key, value in self.variables.items()})
        except ValidationError as exc:
            raise ValueError(f"invalid {self.name.upper()}_* settings: {exc}") from exc

    def check_return_url(self, url: str | None) -> None:
        """Refuses an `options.return_url` that is not https on one of the deployment's allowed hosts."""
        if url is not None and not allowed_return_url(url, self.return_url_hosts):
            raise ValidationFailed(
                "options.return_url must be an https URL on an allowed host", code="return_url_not_allowed"
            )

    def secret(self, key: str) -> str:
        """One string of the provider's credentials; a missing one is a refusal we cannot retry."""
        value = self.credentials().get(key)
        if not isinstance(value, str) or not value:
            raise ProviderFailed(f"the {self.name} secret has no {key}", code="provider_auth_failed")
        return value


def allowed_return_url(url: str, hosts: frozenset[str]) -> bool:
    """An https URL on one of the deployment's allowed hosts: an open redirect through our API would be
    a phishing tool."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    return parts.scheme == "https" and bool(host) and not parts.username and host in hosts


@dataclass(frozen=True)
class StartRequest:
    session_id: str
    reference: str | None
    options: BaseModel
    #: This deployment's webhook URL for the provider, for providers that take one per verification.
    webhook_url: str | None = None


@dataclass(frozen=True)
class NewVerification:
    """What a provider answers when a verification is started."""

    verification_url: str
    expires_at: datetime
    provider_ref: str  # the provider's id for it (webhooks look sessions up by it)
    provider_token: str | None = None  # a bearer secret for later calls: stored, never returned
    qr_image: str | None = None  # a data: URI when the provider gives its own QR image


@dataclass(frozen=True)
class Observation:
    """What one look at the provider's authoritative state says, in our terms."""

    status: Status
    provider_status: str
    risk: bool | None = None
    reasons: tuple[str, ...] = ()
    data: dict[str, Any] = field(default_factory=dict)
    #: With AWAITING_PIN: the code the user must prove, which idgate delivers (never stored in clear).
    second_factor_code: str | None = None


@dataclass(frozen=True)
class Image:
    content: bytes
    content_type: str


@dataclass(frozen=True)
class WebhookRequest:
    """A webhook as it arrived: header names in lower case, the body as sent (for signatures)."""

    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        """The body as JSON (None when empty); InvalidJson when it is not JSON."""
        try:
            text = self.body.decode("utf-8")
            return json.loads(text) if text.strip() else None
        except (ValueError, RecursionError) as exc:  # deep nesting is a RecursionError
            raise InvalidJson("the body is not valid JSON") from exc


class Provider(Protocol):
    name: ClassVar[str]
    #: A human name, for the demo page and listings.
    title: ClassVar[str]
    #: The model of the provider's `options` (its JSON schema is published by GET /v1/providers).
    options_model: ClassVar[type[BaseModel]]

    @classmethod
    def from_context(cls, context: ProviderContext) -> Self: ...

    def parse_options(self, options: Mapping[str, Any], *, email: str | None) -> BaseModel:
        """Validates the provider's `options` (raises ValidationFailed)."""
        ...

    def start(self, request: StartRequest) -> NewVerification:
        """Starts a verification (raises ProviderFailed or ProviderUnavailable)."""
        ...

    def observe(self, session: Session) -> Observation:
        """Reads the provider's state once (raises ProviderRejected or ProviderUnavailable)."""
        ...

    def next_wait_seconds(self, session: Session, *, attempt: int, base_interval: int) -> int:
        """The provider's cadence: how long the follow-up waits before the next look (attempt 0: before
        the first). The fast phase follows it as it is; the long phase spaces it out (idgate.schedule)."""
        ...

    def fast_follow_seconds(self, session: Session, *, base_interval: int) -> int:
        """How long after its creation a session is followed closely, at the provider's cadence (the
        fast phase, idgate.schedule); 0 when the provider's webhooks carry the news."""
        ...

    def follow_limit(self, status: Status) -> timedelta | None:
        """How long a session that reached `status` (processing, review) is still followed; None: until
        the verification's own expiry."""
        ...


@runtime_checkable
class WebhookProvider(Provider, Protocol):
    def webhook_references(self, request: WebhookRequest) -> list[str]:
        """The provider references a webhook names (a hint: the state is re-read with our credentials).
        Empty when it names none; raises ValidationFailed for a body the provider never sends. A
        provider whose webhook names something else (a record) may look the reference up, and then
        raises ProviderUnavailable or ProviderRejected when it cannot."""
        ...


@runtime_checkable
class ImageProvider(Provider, Protocol):
    def image(self, session: Session, *, side: str, redacted: bool) -> Image | None:
        """The accepted document image of `side`, or None."""
        ...


@runtime_checkable
class SecondFactorProvider(Provider, Protocol):
    def second_factor_requested(self, options: BaseModel) -> bool:
        """Whether a session with these options may ask for a code idgate delivers by email (so the
        session's email is kept until its verdict)."""
        ...


@runtime_checkable
class CancelableProvider(Provider, Protocol):
    def cancel(self, session: Session) -> None:
        """Ends the verification at the provider, where its API has a way to (raises ProviderRejected or
        ProviderUnavailable). None of the four providers documents one yet."""
        ...


#: How a check's options (idgate.checks, validated, unset ones left out) become a provider's own `options`.
CheckOptions = Callable[[Mapping[str, Any]], dict[str, Any]]


def passing(*names: str) -> CheckOptions:
    """A check's options named `names` passed on as the provider's options of the same names."""

    def translate(options: Mapping[str, Any]) -> dict[str, Any]:
        return {name: options[name] for name in names if name in options}

    return translate


@runtime_checkable
class CheckingProvider(Provider, Protocol):
    #: The checks ("age", "identity": idgate.checks.Check) the provider can do when idgate chooses it
    #: (`"provider": "auto"`), each with how the check's options become the provider's own.
    checks: ClassVar[Mapping[str, CheckOptions]]


@runtime_checkable
class ResourceProvider(Provider, Protocol):
    #: The names served at GET /v1/providers/{name}/{resource} (secret key).
    resources: ClassVar[tuple[str, ...]]

    def resource(self, name: str) -> Mapping[str, Any]:
        """One of `resources`, read from the provider (raises ProviderFailed or ProviderUnavailable)."""
        ...
