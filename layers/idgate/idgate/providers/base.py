"""The one small interface every provider client implements."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel

from idgate.domain import Session, Status

#: Reads a provider's credentials (a JSON secret) by provider name.
CredentialsReader = Callable[[str], Mapping[str, Any]]


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
    pin: int | None = None  # a second factor to email (Jekimo two-factor); never stored in clear


@dataclass(frozen=True)
class Image:
    content: bytes
    content_type: str


class Provider(Protocol):
    name: str
    #: True when the poll state machine must follow its sessions.
    polled: bool

    def parse_options(self, options: Mapping[str, Any], *, email: str | None) -> BaseModel:
        """Validates the provider's `options` (raises ValidationFailed)."""
        ...

    def start(self, *, session_id: str, reference: str | None, options: BaseModel) -> NewVerification:
        """Starts a verification (raises ProviderFailed or ProviderUnavailable)."""
        ...

    def observe(self, session: Session) -> Observation:
        """Reads the provider's state once (raises ProviderRejected or ProviderUnavailable)."""
        ...

    def next_wait_seconds(self, session: Session, *, attempt: int, base_interval: int) -> int:
        """How long the state machine waits before the next look."""
        ...

    def follow_limit(self, status: Status) -> timedelta | None:
        """How long a session that reached `status` (processing, review) is still followed; None: until
        the verification's own expiry."""
        ...


@runtime_checkable
class WebhookProvider(Provider, Protocol):
    def webhook_reference(self, body: Any) -> str | None:
        """The provider reference a webhook body names (a hint: the state is re-read with our key)."""
        ...


@runtime_checkable
class ImageProvider(Provider, Protocol):
    def image(self, session: Session, *, side: str, redacted: bool) -> Image | None:
        """The accepted document image of `side`, or None."""
        ...
