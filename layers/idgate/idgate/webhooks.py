"""Provider webhooks: the URL a provider is given, and what happens when it calls it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools import Logger

from idgate import metrics
from idgate.api import Caller
from idgate.domain import Cause
from idgate.errors import (
    Forbidden,
    NotFound,
    ProviderFailed,
    ProviderRejected,
    ProviderUnavailable,
    ServiceUnavailable,
    ValidationFailed,
)
from idgate.finalizing import Finalizer
from idgate.following import Following
from idgate.logs import label_lines
from idgate.ports import Dependencies
from idgate.providers.base import WebhookProvider, WebhookRequest
from idgate.secrets_util import same_secret, sha256_hex

logger = Logger(service="idgate", child=True)

#: At most this many sessions are looked up for one webhook (a body is the sender's).
MAX_REFERENCES = 5


def webhook_path(provider: str, token: str) -> str:
    return f"/v1/webhooks/{provider}/{token}"


class Webhooks:
    def __init__(self, deps: Dependencies, finalizer: Finalizer, following: Following) -> None:
        self._deps = deps
        self._finalizer = finalizer
        self._following = following
        # Webhooks must be answered fast: the same providers, with shorter time-outs.
        self._providers = deps.webhook_providers or deps.providers

    def url_for(self, provider_name: str, api_base_url: str) -> str | None:
        """This deployment's webhook URL for a provider that takes webhooks (it holds the path token)."""
        provider = self._deps.providers.get(provider_name)
        token = self._deps.webhook_tokens(provider_name) if isinstance(provider, WebhookProvider) else ""
        return f"{api_base_url.rstrip('/')}{webhook_path(provider_name, token)}" if token else None

    def dashboard_url(self, caller: Caller, provider_name: str, api_base_url: str) -> dict[str, str]:
        """The URL to paste into the provider's dashboard."""
        if not caller.is_secret_key:
            raise Forbidden("the webhook URL needs a secret key", code="secret_key_required")
        url = self.url_for(provider_name, api_base_url)
        if url is None:
            raise NotFound("that provider takes no webhook", code="webhook_not_found")
        return {"provider": provider_name, "url": url}

    def receive(
        self, provider_name: str, token: str, headers: Mapping[str, str], body: bytes
    ) -> dict[str, Any]:
        """A provider says something changed. The body is only a hint: we find the sessions it names,
        re-read the provider's state with our own credentials, and apply that. Nothing else is trusted."""
        # A name from the path is the caller's: only registered ones become a metric dimension.
        known = provider_name if provider_name in self._providers else "unknown"
        try:
            applied = self._receive(provider_name, token, headers, body)
        except Exception:
            metrics.count(metrics.WEBHOOKS_RECEIVED, provider=known, outcome="refused")
            raise
        outcome = "applied" if applied else "ignored"
        metrics.count(metrics.WEBHOOKS_RECEIVED, provider=known, outcome=outcome)
        return {"received": True}

    def _receive(self, provider_name: str, token: str, headers: Mapping[str, str], body: bytes) -> bool:
        """True when the webhook moved a session forward."""
        provider = self._providers.get(provider_name)
        expected = self._deps.webhook_tokens(provider_name) if isinstance(provider, WebhookProvider) else ""
        if (
            not isinstance(provider, WebhookProvider)
            or not expected
            or not same_secret(token, sha256_hex(expected))
        ):
            raise NotFound("no such webhook", code="webhook_not_found")
        request = WebhookRequest(headers={name.lower(): value for name, value in headers.items()}, body=body)
        try:
            named = provider.webhook_references(request)
        except ProviderUnavailable as exc:
            # Some providers name a record of theirs that must be looked up; the follow-up catches up.
            logger.warning("could not learn which verification a webhook means", reason=exc.reason)
            raise ServiceUnavailable(
                "the provider could not be reached", code="provider_unavailable"
            ) from exc
        except ProviderRejected as exc:
            logger.warning("provider refused the webhook's look-up", reason=exc.reason)
            raise ProviderFailed("the provider refused our look-up", code=exc.reason) from exc
        references = list(dict.fromkeys(named))[:MAX_REFERENCES]
        if not references:
            raise ValidationFailed("the body names no verification", code="verification_id_missing")
        found = [
            session
            for reference in references
            if (session := self._deps.sessions.find_by_provider_ref(provider.name, reference)) is not None
        ]
        if not found:
            logger.warning("webhook for an unknown verification", provider=provider.name)
            raise NotFound("no session for that verification", code="session_not_found")
        applied = False
        for session in found:
            label_lines(logger, session_id=session.id)
            if session.status.is_final:
                logger.info("webhook for a final session; nothing to do", status=session.status.value)
                continue
            try:
                observation = provider.observe(session)
            except ProviderUnavailable as exc:
                logger.warning("webhook re-read failed; the follow-up will catch up", reason=exc.reason)
                metrics.count(metrics.PROVIDER_CALL_FAILURES, provider=provider.name, reason=exc.reason)
                continue
            except ProviderRejected as exc:
                logger.warning("provider refused the re-read", reason=exc.reason)
                metrics.count(metrics.PROVIDER_CALL_FAILURES, provider=provider.name, reason=exc.reason)
                applied |= self._finalizer.error(session, exc.reason, cause=Cause.WEBHOOK)
                continue
            current = self._following.apply(session, observation, cause=Cause.WEBHOOK)
            applied |= current.status is not session.status
            logger.info("webhook applied", status=current.status.value)
        return applied
