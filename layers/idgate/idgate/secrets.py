"""Provider credentials and webhook tokens from Secrets Manager, cached by Powertools."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Mapping
from typing import Any


def _get_secret(name: str, **options: Any) -> Any:
    # Powertools' parameters import boto3: at the first secret read, not with this module (see idgate.wiring).
    from aws_lambda_powertools.utilities import parameters

    return parameters.get_secret(name, **options)


class ProviderSecrets:
    """Provider `name`'s credentials: the JSON secret `secret_name(name)` ({} when it has none)."""

    def __init__(self, secret_name: Callable[[str], str], *, max_age_seconds: int) -> None:
        self._secret_name = secret_name
        self._max_age = max_age_seconds

    def __call__(self, provider: str) -> Mapping[str, Any]:
        name = self._secret_name(provider)
        if not name:
            return {}
        value = _get_secret(name, transform="json", max_age=self._max_age)
        return value if isinstance(value, dict) else {}


def derive_webhook_token(deployment_secret: str, provider: str) -> str:
    """A provider's webhook path token: an HMAC of its name under the deployment's one generated secret,
    so a new webhook provider needs no new secret, and one provider's token says nothing of another's."""
    digest = hmac.new(deployment_secret.encode(), f"webhook:{provider}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


class WebhookTokens:
    """Provider name → its webhook path token ("" when the deployment has no webhook secret)."""

    def __init__(self, secret_name: str, *, max_age_seconds: int) -> None:
        self._name = secret_name
        self._max_age = max_age_seconds

    def __call__(self, provider: str) -> str:
        if not self._name:
            return ""
        secret = _get_secret(self._name, max_age=self._max_age)
        if not isinstance(secret, str) or len(secret) < 32:
            raise RuntimeError("the webhook secret is missing or too short")
        return derive_webhook_token(secret, provider)
