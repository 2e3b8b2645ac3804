"""Provider credentials from Secrets Manager (one JSON secret per provider), cached by Powertools."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.utilities import parameters


class ProviderSecrets:
    def __init__(self, secret_names: Mapping[str, str], *, max_age_seconds: int) -> None:
        self._names = dict(secret_names)
        self._max_age = max_age_seconds

    def __call__(self, provider: str) -> Mapping[str, Any]:
        name = self._names.get(provider)
        if not name:
            return {}
        value = parameters.get_secret(name, transform="json", max_age=self._max_age)
        return value if isinstance(value, dict) else {}


class WebhookTokenSecret:
    """The per-deployment webhook tokens: one JSON secret, {"<provider>": "<token>"}."""

    def __init__(self, secret_name: str, *, max_age_seconds: int) -> None:
        self._name = secret_name
        self._max_age = max_age_seconds

    def __call__(self, provider: str) -> str:
        if not self._name:
            return ""
        value = parameters.get_secret(self._name, transform="json", max_age=self._max_age)
        token = value.get(provider) if isinstance(value, dict) else None
        return token if isinstance(token, str) else ""
