"""What every provider is built from (idgate.providers.base): its settings, credentials and allowed return
URLs, and a webhook's body read as JSON."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from idgate.errors import InvalidJson, ProviderFailed, ValidationFailed
from idgate.providers.base import IssuedToken, ProcessToken, WebhookRequest, allowed_return_url
from tests.support.providers import provider_context

HOSTS = frozenset({"shop.example.com"})


class Settings(BaseModel):
    base_url: str
    token_ttl_seconds: int = 120


def test_settings_come_from_the_providers_variables_by_their_lower_case_names():
    context = provider_context("jekimo", {}, variables={"BASE_URL": "https://x", "TOKEN_TTL_SECONDS": "30"})
    assert context.settings(Settings) == Settings(base_url="https://x", token_ttl_seconds=30)


def test_invalid_settings_fail_the_cold_start():
    context = provider_context("jekimo", {}, variables={"TOKEN_TTL_SECONDS": "soon"})
    with pytest.raises(ValueError) as raised:  # noqa: PT011 - a configuration error at start, no API code
        context.settings(Settings)
    assert not isinstance(raised.value, ValidationFailed)


@pytest.mark.parametrize("credentials", [{}, {"api_key": ""}, {"api_key": 42}])
def test_a_missing_credential_is_an_auth_failure_we_cannot_retry(credentials: dict[str, Any]):
    with pytest.raises(ProviderFailed) as raised:
        provider_context("jekimo", credentials).secret("api_key")
    assert (raised.value.status, raised.value.code) == (502, "provider_auth_failed")
    assert raised.value.message


def test_a_credential_is_read_by_its_key():
    assert provider_context("jekimo", {"api_key": "k-1", "other": "x"}).secret("api_key") == "k-1"


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://shop.example.com/done", True),
        ("https://SHOP.example.com/done", True),  # host names have no case
        ("http://shop.example.com/done", False),
        ("https://evil.example.com/done", False),
        ("https://someone@shop.example.com/done", False),
        ("https:///done", False),
    ],
)
def test_a_return_url_is_https_on_an_allowed_host(url: str, allowed: bool):
    assert allowed_return_url(url, HOSTS) is allowed
    context = provider_context("datakeen", {}, return_url_hosts=HOSTS)
    if allowed:
        context.check_return_url(url)
    else:
        with pytest.raises(ValidationFailed) as raised:
            context.check_return_url(url)
        assert (raised.value.status, raised.value.code) == (422, "return_url_not_allowed")
        assert raised.value.message


def test_no_return_url_is_no_return_url_to_check():
    provider_context("datakeen", {}).check_return_url(None)


@pytest.mark.parametrize(("body", "parsed"), [(b"", None), (b" \n", None), (b'{"a": [1]}', {"a": [1]})])
def test_a_webhook_body_is_its_json_or_none_when_empty(body: bytes, parsed: Any):
    assert WebhookRequest(headers={}, body=body).json() == parsed


@pytest.mark.parametrize("body", [b"{", b"\xff\xfe", b"[" * 100_000])
def test_a_webhook_body_that_is_not_json_is_invalid_json(body: bytes):
    with pytest.raises(InvalidJson) as raised:
        WebhookRequest(headers={}, body=body).json()
    assert (raised.value.status, raised.value.code) == (400, "invalid_json")
    assert raised.value.message


def test_a_process_token_is_renewed_at_its_renewal_time_and_after_a_failed_login():
    now = [0.0]
    token = ProcessToken(lambda: now[0])
    issued = iter(["t1", "t2", "t3"])

    def login() -> IssuedToken:
        return IssuedToken(next(issued), 600.0)  # renewed 120 s (a fifth) before its end: at 480 s

    def refused() -> IssuedToken:
        raise ProviderFailed("no", code="provider_auth_failed")

    assert token.get(login) == "t1"
    now[0] = 479.9
    assert token.get(login) == "t1"
    now[0] = 480.0
    assert token.get(login) == "t2"
    with pytest.raises(ProviderFailed):
        token.get(refused, rejected="t2")
    assert token.get(login) == "t3"
