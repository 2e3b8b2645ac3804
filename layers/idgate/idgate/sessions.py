"""Starting a verification and reading it: sessions, their document images, the provider catalogue."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools import Logger
from pydantic import BaseModel, ValidationError

from idgate import metrics
from idgate.api import AutoSessionRequest, Caller, CreateSessionRequest
from idgate.checks import AUTO, Check
from idgate.checks import OPTIONS as CHECK_OPTIONS
from idgate.domain import Cause, Reason, Routing, Session, Status, StatusChange
from idgate.errors import (
    Conflict,
    Forbidden,
    NotFound,
    ProviderFailed,
    ProviderRejected,
    ProviderUnavailable,
    ServiceUnavailable,
    TooManyRequests,
    ValidationFailed,
)
from idgate.finalizing import Finalizer
from idgate.following import Following
from idgate.idempotency import Earlier, IdempotencyKeys
from idgate.logs import label_lines
from idgate.ports import Dependencies
from idgate.providers.base import (
    Image,
    ImageProvider,
    NewVerification,
    Provider,
    ResourceProvider,
    SecondFactorProvider,
    StartRequest,
)
from idgate.qr import qr_data_uri
from idgate.routing import Router
from idgate.routing_policy import RoutingPolicies, checks_of
from idgate.secrets_util import new_id, sha256_hex
from idgate.session_access import owned_session, readable_session
from idgate.validation import validation_failed
from idgate.webhooks import Webhooks

logger = Logger(service="idgate", child=True)


def _started(provider: Provider, request: StartRequest) -> NewVerification:
    """Starts the verification with the provider the client named: its failures are the answer."""
    try:
        return provider.start(request)
    except ProviderUnavailable as exc:
        logger.warning("provider unreachable at start", provider=provider.name, reason=exc.reason)
        metrics.count(metrics.PROVIDER_CALL_FAILURES, provider=provider.name, reason=exc.reason)
        raise ProviderFailed(f"{provider.name} could not be reached", code="provider_unavailable") from exc
    except ProviderFailed as exc:  # a refusal: our account, credentials or request
        metrics.count(metrics.PROVIDER_CALL_FAILURES, provider=provider.name, reason=exc.code)
        raise


class Sessions:
    def __init__(
        self, deps: Dependencies, finalizer: Finalizer, following: Following, webhooks: Webhooks
    ) -> None:
        self._deps = deps
        self._finalizer = finalizer
        self._following = following
        self._webhooks = webhooks

    def create(
        self,
        caller: Caller,
        body: Mapping[str, Any],
        *,
        api_base_url: str = "",
        idempotency_key: str | None = None,
    ) -> tuple[Session, str, str]:
        """Starts a verification. Returns the session, its client secret (shown once) and a QR code.
        With an idempotency key, a retry of the same request answers what the first one did."""
        deps = self._deps
        if caller.kind == "client_secret" or not caller.client_id:
            raise Forbidden("creating a session needs an API key", code="api_key_required")
        try:
            model = AutoSessionRequest if body.get("provider") == AUTO else CreateSessionRequest
            request = model.model_validate(body)
        except ValidationError as exc:
            raise validation_failed(exc) from exc
        if idempotency_key is None:
            return self._create(caller, request, api_base_url)
        keys = _idempotency(deps, idempotency_key)
        client_id = caller.client_id
        earlier = keys.claim(client_id, idempotency_key, _fingerprint(body), now=deps.clock())
        if earlier is not None:
            return self._replay(earlier)
        try:
            session, client_secret, qr_code = self._create(caller, request, api_base_url)
        except BaseException:
            keys.release(client_id, idempotency_key)
            raise
        keys.complete(client_id, idempotency_key, Earlier(session.id, client_secret), now=deps.clock())
        return session, client_secret, qr_code

    def _replay(self, earlier: Earlier) -> tuple[Session, str, str]:
        """The first request's answer, while its session is open; its link is gone once it is final."""
        label_lines(logger, session_id=earlier.session_id)
        session = self._deps.sessions.get(earlier.session_id)
        if session is None or session.status.is_final or not session.verification_url:
            raise Conflict(
                "the session this Idempotency-Key created is already final; read it by its id",
                code="session_final",
                session_id=earlier.session_id,
            )
        as_created = session.model_copy(update={"status": Status.PENDING})
        return as_created, earlier.client_secret, qr_data_uri(session.verification_url)

    def _create(
        self, caller: Caller, request: CreateSessionRequest | AutoSessionRequest, api_base_url: str
    ) -> tuple[Session, str, str]:
        deps = self._deps
        assert caller.client_id is not None
        named = None if isinstance(request, AutoSessionRequest) else self._named_provider(request.provider)
        options = named.parse_options(request.options, email=request.email) if named else None
        limit = deps.max_open_sessions
        if limit is not None and deps.sessions.count_open(caller.client_id, limit=limit) >= limit:
            raise TooManyRequests(
                f"this client already has {limit} open sessions; wait for some to end",
                code="too_many_open_sessions",
            )
        session_id = new_id("ses")
        # From here every line of the request names the session, the provider's failures and refusals too.
        label_lines(logger, session_id=session_id)

        def start_request(provider: Provider, provider_options: BaseModel) -> StartRequest:
            webhook_url = self._webhooks.url_for(provider.name, api_base_url) if api_base_url else None
            return StartRequest(session_id, request.reference, provider_options, webhook_url)

        routing: Routing | None = None
        if named is not None and options is not None:
            provider, started = named, _started(named, start_request(named, options))
        else:
            assert isinstance(request, AutoSessionRequest)
            routed = self._router().start(
                caller.client_id,
                Check(request.check),
                request.options,
                email=request.email,
                request=start_request,
            )
            provider, options, started = routed.provider, routed.options, routed.started
            routing = routed.routing
        now = deps.clock()
        client_secret = new_id("cs", 24)
        keeps_email = isinstance(provider, SecondFactorProvider) and provider.second_factor_requested(options)
        session = Session(
            id=session_id,
            client_id=caller.client_id,
            provider=provider.name,
            status=Status.PENDING,
            created_at=now,
            updated_at=now,
            expires_at=started.expires_at,
            client_secret_hash=sha256_hex(client_secret),
            reference=request.reference,
            # The email is personal data: kept only for the feature that needs it, until the verdict.
            email=request.email if keeps_email else None,
            # Options a provider marks `exclude` (personal data it only passes on) are never stored.
            options=options.model_dump(mode="json", exclude_none=True),
            provider_ref=started.provider_ref,
            provider_token=started.provider_token,
            verification_url=started.verification_url,
            history=[StatusChange(at=now, status=Status.PENDING, cause=Cause.CREATE)],
            routing=routing,
        )
        deps.sessions.add(session)
        metrics.count(metrics.SESSIONS_CREATED, provider=provider.name)
        logger.info(
            "session created", session_id=session.id, provider=provider.name, client_id=caller.client_id
        )
        try:
            self._following.start(session)
        except Exception as exc:
            logger.exception("could not start following the session", session_id=session.id)
            self._finalizer.error(session, Reason.INTERNAL_ERROR, cause=Cause.CREATE)
            raise ServiceUnavailable("the session could not be followed; try again") from exc
        return session, client_secret, started.qr_image or qr_data_uri(started.verification_url)

    def _named_provider(self, name: str) -> Provider:
        provider = self._deps.providers.get(name)
        if provider is None:
            raise ValidationFailed(
                f"unknown provider {name!r}; known: {', '.join(sorted(self._deps.providers))}, or {AUTO!r}"
                " with a check",
                code="unknown_provider",
            )
        return provider

    def routing_policies(self) -> RoutingPolicies:
        if self._deps.routing is None:
            raise NotFound("this deployment routes no checks", code="routing_unavailable")
        return self._deps.routing

    def _router(self) -> Router:
        deps = self._deps
        if deps.breakers is None:
            raise NotFound("this deployment routes no checks", code="routing_unavailable")
        return Router(
            deps.providers, self.routing_policies(), deps.breakers, deps.breaker_settings, deps.clock
        )

    def get(self, caller: Caller, session_id: str, client_secret: str | None) -> Session:
        return readable_session(self._deps.sessions, caller, session_id, client_secret)

    def image(self, caller: Caller, session_id: str, side: str, *, redacted: bool) -> Image:
        """A document image of the session, fetched from the provider and passed through, never stored."""
        session = owned_session(self._deps.sessions, caller, session_id, action="reading document images")
        provider = self._deps.providers.get(session.provider)
        if side not in ("front", "back") or not isinstance(provider, ImageProvider) or session.redacted_at:
            raise NotFound("no such image", code="image_not_found")
        if not redacted and not self._deps.allow_unredacted_images:
            raise Forbidden(
                "unredacted images are disabled (AllowUnredactedImages)", code="unredacted_images_disabled"
            )
        try:
            image = provider.image(session, side=side, redacted=redacted)
        except ProviderUnavailable as exc:
            raise ProviderFailed(
                f"{provider.name} could not be reached", code="provider_unavailable"
            ) from exc
        except ProviderRejected as exc:
            if exc.reason == Reason.PROVIDER_NOT_FOUND:
                raise NotFound("no such image", code="image_not_found") from exc
            raise ProviderFailed(f"{provider.name} refused the image", code=exc.reason) from exc
        if image is None:
            raise NotFound("no such image", code="image_not_found")
        logger.info("image passed through", session_id=session.id, side=side, redacted=redacted)
        return image

    def catalogue(self) -> dict[str, Any]:
        """The providers this deployment offers, with the JSON schema of each one's options."""
        return {
            "providers": [
                {
                    "name": provider.name,
                    "title": provider.title,
                    # The session's email is used (for a second factor) only by such providers.
                    "uses_email": isinstance(provider, SecondFactorProvider),
                    "options": provider.options_model.model_json_schema(),
                    # What it can do when idgate chooses the provider (`"provider": "auto"`).
                    "checks": sorted(checks_of(provider)),
                }
                for provider in self._deps.providers.values()
            ],
            "checks": {check.value: model.model_json_schema() for check, model in CHECK_OPTIONS.items()},
        }

    def resource(self, caller: Caller, provider_name: str, resource: str) -> Mapping[str, Any]:
        """A provider's own listing (e.g. Datakeen's templates), read with our credentials."""
        if not caller.is_secret_key:
            raise Forbidden("provider resources need a secret key", code="secret_key_required")
        provider = self._deps.providers.get(provider_name)
        if not isinstance(provider, ResourceProvider) or resource not in provider.resources:
            raise NotFound("no such provider resource", code="resource_not_found")
        try:
            return provider.resource(resource)
        except ProviderUnavailable as exc:
            raise ProviderFailed(
                f"{provider.name} could not be reached", code="provider_unavailable"
            ) from exc


#: An Idempotency-Key: 1 to 255 printable ASCII characters (as Stripe and the IETF draft allow).
_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


def _idempotency(deps: Dependencies, key: str) -> IdempotencyKeys:
    if not _IDEMPOTENCY_KEY.fullmatch(key):
        raise ValidationFailed(
            "Idempotency-Key must be 1 to 255 printable ASCII characters", code="invalid_idempotency_key"
        )
    if deps.idempotency is None:
        raise ValidationFailed("this deployment keeps no idempotency keys", code="invalid_idempotency_key")
    return deps.idempotency


def _fingerprint(body: Mapping[str, Any]) -> str:
    """The request, whatever its keys' order or spacing: the same key with another body is refused."""
    return sha256_hex(json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False))
