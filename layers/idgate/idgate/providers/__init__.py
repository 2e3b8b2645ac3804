"""The provider registry: adding a provider is adding its module and one line here."""

from __future__ import annotations

import requests

from idgate.providers.base import CredentialsReader, Provider
from idgate.providers.jekimo import JekimoProvider
from idgate.settings import Settings


def build_providers(
    settings: Settings, credentials: CredentialsReader, http: requests.Session
) -> dict[str, Provider]:
    providers: list[Provider] = [
        JekimoProvider(base_url=settings.jekimo_base_url, credentials=credentials, http=http),
    ]
    return {provider.name: provider for provider in providers}


def secret_names(settings: Settings) -> dict[str, str]:
    """Provider name → its Secrets Manager secret."""
    return {"jekimo": settings.jekimo_secret_name}
