"""The provider registry: adding a provider is adding its module and one line in PROVIDERS."""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping
from datetime import timedelta
from functools import partial
from typing import Any

import requests

from idgate.providers.base import ProcessToken, Provider, ProviderContext, SharedToken
from idgate.providers.datakeen import DatakeenProvider
from idgate.providers.faceki import FacekiProvider
from idgate.providers.jekimo import JekimoProvider
from idgate.providers.okid import OkidProvider
from idgate.settings import Settings

PROVIDERS: tuple[type[Provider], ...] = (
    JekimoProvider,
    OkidProvider,
    DatakeenProvider,
    FacekiProvider,
)

#: Reads a provider's credentials (its JSON secret) by provider name.
CredentialsReader = Callable[[str], Mapping[str, Any]]
#: A provider's shared login token, by provider name.
SharedTokens = Callable[[str], SharedToken]


def provider_names() -> list[str]:
    return [provider.name for provider in PROVIDERS]


def build_providers(
    settings: Settings,
    credentials: CredentialsReader,
    http: requests.Session,
    caches: MutableMapping[str, MutableMapping[str, Any]] | None = None,
    tokens: SharedTokens | None = None,
) -> dict[str, Provider]:
    """One client per registered provider. Clients built with the same `caches` share them, and those
    built with the same `tokens` share a login token (without `tokens`: one per client)."""
    caches = {} if caches is None else caches
    built: dict[str, Provider] = {}
    for provider in PROVIDERS:
        name = provider.name
        context = ProviderContext(
            name=name,
            variables=settings.variables_of(name),
            credentials=partial(credentials, name),
            http=http,
            cache=caches.setdefault(name, {}),
            return_url_hosts=settings.return_url_hosts,
            review_follow=timedelta(hours=settings.review_follow_hours),
            token=tokens(name) if tokens is not None else ProcessToken(),
        )
        built[name] = provider.from_context(context)
    return built
