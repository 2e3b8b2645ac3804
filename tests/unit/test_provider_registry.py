"""The provider seam: settings and secrets by naming convention, one registry, derived webhook tokens."""

from __future__ import annotations

import re

from idgate.providers.base import SecondFactorProvider, WebhookProvider
from idgate.providers.datakeen import DatakeenProvider
from idgate.providers.http import new_http_session
from idgate.providers.registry import PROVIDERS, build_providers, provider_names
from idgate.secrets import derive_webhook_token
from idgate.settings import Settings

ENVIRON = {
    "SESSIONS_TABLE": "sessions",
    "KEYS_TABLE": "keys",
    "PROVIDER_SECRET_PREFIX": "idgate/providers/",
    "OKID_BASE_URL": "https://verify.test.okid.io",
    "DATAKEEN_SESSION_TTL_SECONDS": "600",
    "AWS_SESSION_TOKEN": "not-a-provider-setting",
}


def test_a_providers_variables_are_those_named_after_it():
    settings = Settings.from_environ(ENVIRON)
    assert settings.variables_of("okid") == {"BASE_URL": "https://verify.test.okid.io"}
    assert settings.variables_of("datakeen") == {"SESSION_TTL_SECONDS": "600"}
    assert settings.variables_of("aws") == {}
    assert "not-a-provider-setting" not in repr(settings)


def test_a_providers_secret_is_named_by_the_prefix():
    settings = Settings.from_environ(ENVIRON)
    assert settings.secret_name_of("datakeen") == "idgate/providers/datakeen"
    assert Settings.from_environ({"SESSIONS_TABLE": "s", "KEYS_TABLE": "k"}).secret_name_of("okid") == ""


def test_every_registered_provider_is_built_from_its_own_settings_and_secret():
    asked: list[str] = []

    def credentials(name: str) -> dict[str, str]:
        asked.append(name)
        return {"username": "u", "password": "p"}

    built = build_providers(Settings.from_environ(ENVIRON), credentials, new_http_session())
    assert list(built) == provider_names() == [provider.name for provider in PROVIDERS]
    assert len(set(provider_names())) == len(PROVIDERS)
    datakeen = built["datakeen"]
    assert isinstance(datakeen, DatakeenProvider)
    assert isinstance(built["okid"], WebhookProvider)
    assert isinstance(datakeen, WebhookProvider)
    assert not isinstance(built["jekimo"], WebhookProvider)
    assert isinstance(built["jekimo"], SecondFactorProvider)
    assert asked == []  # nothing is read before a provider is used


def test_webhook_tokens_are_derived_per_provider_from_one_secret():
    secret = "s" * 48
    okid, datakeen = derive_webhook_token(secret, "okid"), derive_webhook_token(secret, "datakeen")
    assert okid == derive_webhook_token(secret, "okid")
    assert okid != datakeen
    assert okid != derive_webhook_token("t" * 48, "okid")
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", okid)  # 256 bits, safe in a URL path
