"""What the Datakeen client's tests share: the account's credentials and a client of a server's URL."""

from __future__ import annotations

from idgate.providers.base import SharedToken
from idgate.providers.datakeen import DatakeenProvider
from tests.support.http_server import json_answer
from tests.support.providers import provider_context

USERNAME, PASSWORD = "shop@example.com", "datakeen-test-password"
#: The hosts a return URL may name.
HOSTS = frozenset({"shop.example.com"})
#: Datakeen's answer to a login.
LOGIN = json_answer({"status": 200, "data": {"token": "tok-1"}})


def provider_for(
    url: str, password: str = PASSWORD, token: SharedToken | None = None, **variables: str
) -> DatakeenProvider:
    return DatakeenProvider.from_context(
        provider_context(
            "datakeen",
            {"username": USERNAME, "password": password},
            variables={"BASE_URL": f"{url}/backend", **variables},
            return_url_hosts=HOSTS,
            token=token,
        )
    )
