"""Provider clients as the registry builds them, from a context a test fills in."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import requests

from idgate.providers.base import ProcessToken, ProviderContext, SharedToken
from idgate.providers.http import new_http_session


def provider_context(
    name: str,
    credentials: Mapping[str, Any],
    *,
    variables: Mapping[str, str] | None = None,
    http: requests.Session | None = None,
    return_url_hosts: frozenset[str] = frozenset(),
    review_follow: timedelta = timedelta(hours=1),
    cache: dict[str, Any] | None = None,
    token: SharedToken | None = None,
) -> ProviderContext:
    return ProviderContext(
        name=name,
        variables=dict(variables or {}),
        credentials=lambda: credentials,
        http=http or new_http_session(),
        cache={} if cache is None else cache,
        return_url_hosts=return_url_hosts,
        review_follow=review_follow,
        token=token or ProcessToken(),
    )
