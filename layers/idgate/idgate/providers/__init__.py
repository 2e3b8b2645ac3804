"""The provider registry: adding a provider is adding its module and one line here."""

from __future__ import annotations

from datetime import timedelta

import requests

from idgate.providers.base import CredentialsReader, Provider
from idgate.providers.jekimo import JekimoProvider
from idgate.providers.okid import OkidProvider
from idgate.settings import Settings


def build_providers(
    settings: Settings, credentials: CredentialsReader, http: requests.Session
) -> dict[str, Provider]:
    providers: list[Provider] = [
        JekimoProvider(
            base_url=settings.jekimo_base_url,
            credentials=credentials,
            http=http,
            token_validity=timedelta(seconds=settings.jekimo_token_ttl_seconds),
        ),
        OkidProvider(
            portal_url=settings.okid_portal_url,
            credentials=credentials,
            http=http,
            return_url_hosts=settings.return_url_hosts,
            review_follow=timedelta(hours=settings.review_follow_hours),
        ),
    ]
    return {provider.name: provider for provider in providers}


def secret_names(settings: Settings) -> dict[str, str]:
    """Provider name → its Secrets Manager secret (JSON)."""
    return {"jekimo": settings.jekimo_secret_name, "okid": settings.okid_secret_name}
