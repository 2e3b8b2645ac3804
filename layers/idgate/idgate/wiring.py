"""Builds the default dependencies from the settings, lazily (nothing does I/O at import time).

Every handler imports this module at its cold start, before it knows what its invocations will need: so
what the dependencies are made of (the use cases, the provider clients and requests, boto3) is imported
when they are first built, not here. So is the tracing of their calls, when the deployment turns it on
(idgate.tracing): before the first client is made.

Each function builds only what it uses, since what is built is part of its cold start: the API, webhook and
poll functions the whole service; the publisher the sessions table and the event publisher
(`default_announcer`); the authorizer and the keys function the key store. The AWS clients are made once per
container and shared (idgate.aws_clients), each when first needed.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from idgate.settings import Settings, get_settings
from idgate.tracing import start_tracing

if TYPE_CHECKING:
    from idgate.announcing import Announcer
    from idgate.aws_clients import AwsClients
    from idgate.hooks.delivery import Deliverer
    from idgate.hooks.endpoints import WebhookEndpoints
    from idgate.hooks.fanout import Fanout
    from idgate.hooks.queue import DeliveryQueue
    from idgate.hooks.store import HookStore
    from idgate.keystore import KeyStore
    from idgate.providers.registry import SharedTokens
    from idgate.service import Idgate


def build_service(settings: Settings) -> Idgate:
    from idgate.aws_clients import AwsClients
    from idgate.breaker import BreakerSettings, TableBreakers
    from idgate.idempotency import TableIdempotencyKeys
    from idgate.notify import EventPublisher, Mailer, PollStarter
    from idgate.ports import Dependencies
    from idgate.providers.http import WEBHOOK_TIMEOUT, new_http_session
    from idgate.providers.registry import build_providers
    from idgate.routing_policy import RoutingPolicies, TableClientPolicies, default_policy
    from idgate.secrets import ProviderSecrets, WebhookTokens
    from idgate.service import Idgate
    from idgate.store import SessionStore

    start_tracing(settings.tracing)
    clients = AwsClients()
    credentials = ProviderSecrets(settings.secret_name_of, max_age_seconds=settings.secrets_max_age_seconds)
    # One cache per provider for the container, shared by its normal and its webhook client.
    caches: dict[str, Any] = {}
    tokens = shared_tokens(settings, clients)
    providers = build_providers(settings, credentials, new_http_session(), caches, tokens)
    return Idgate(
        Dependencies(
            sessions=SessionStore(
                settings.sessions_table,
                retention=timedelta(days=settings.retention_days),
                client=clients("dynamodb"),
            ),
            providers=providers,
            starter=PollStarter(settings.state_machine_arn, settings.fast_follow_state_machine_arn),
            publisher=EventPublisher(settings.event_bus_name),
            mailer=Mailer(settings.sender_email),
            poll_interval_seconds=settings.poll_interval_seconds,
            pin_ttl=timedelta(seconds=settings.pin_ttl_seconds),
            pin_max_attempts=settings.pin_max_attempts,
            checks_per_execution=settings.checks_per_execution,
            fast_phase_limit=timedelta(seconds=settings.fast_phase_limit_seconds),
            long_wait_limit_seconds=settings.long_wait_limit_seconds,
            webhook_tokens=WebhookTokens(
                settings.webhook_secret_name, max_age_seconds=settings.secrets_max_age_seconds
            ),
            webhook_providers=build_providers(
                settings,
                credentials,
                new_http_session(timeout=WEBHOOK_TIMEOUT, connect_retries=0),
                caches,
                tokens,
            ),
            allow_unredacted_images=settings.allow_unredacted_images,
            idempotency=(
                TableIdempotencyKeys(settings.sessions_table, settings.encryption_key_id, client=clients)
                if settings.encryption_key_id
                else None
            ),
            max_open_sessions=settings.max_open_sessions_per_client or None,
            routing=RoutingPolicies(
                default_policy(settings.routing_policy, providers),
                TableClientPolicies(settings.sessions_table, clients("dynamodb")),
                providers,
            ),
            breakers=TableBreakers(settings.sessions_table, clients("dynamodb")),
            breaker_settings=BreakerSettings(
                failures=settings.breaker_failures,
                cooldown=timedelta(seconds=settings.breaker_cooldown_seconds),
            ),
        )
    )


def shared_tokens(settings: Settings, clients: AwsClients) -> SharedTokens:
    """One shared token per provider for this container: kept in the sessions table (encrypted) when
    the deployment has its KMS key, else in this process only."""
    from idgate.providers.base import ProcessToken, SharedToken
    from idgate.shared_token import TableToken

    made: dict[str, SharedToken] = {}

    def token_of(provider: str) -> SharedToken:
        if provider not in made:
            made[provider] = (
                TableToken(settings.sessions_table, settings.encryption_key_id, provider, client=clients)
                if settings.encryption_key_id
                else ProcessToken()
            )
        return made[provider]

    return token_of


def freeze_long_lived() -> None:
    """Has the garbage collector leave alone, from now on, every object that exists now, then resumes
    collection. Each handler pauses the collector as its import begins (`gc.disable()`, its first line) and
    calls this once its imports are done: what exists then lives as long as the container (modules,
    classes, pydantic's validators). The `default_...` builders below freeze too once they have built
    (`built_long_lived`), the clients included.

    Why the pause: the young collections set off by the import's allocations traverse what it makes, all of
    it kept, and find next to no garbage: 0.01 to 0.09 of the floor of the first invocation, in the build's
    layout (README, "cold starts"); the few garbage cycles made meanwhile stay, frozen.

    Why: CPython's collector traverses every tracked object at each full collection (about 85,000 once the
    API's dependencies are built), and finds no garbage among these. The API's and webhook's first
    invocations reached their first full collection while building their dependencies: 30 to 50 ms, about
    0.2 of the floor; the other functions were a collection or two short of it when built, which their
    first invocations' own work may reach. Frozen objects are never traversed again, nor collected: the few
    garbage cycles alive at that moment stay (gc.freeze)."""
    gc.freeze()
    gc.enable()


@contextmanager
def built_long_lived() -> Iterator[None]:
    """What is built within lives as long as the container: the collector is paused while it is built, then
    it is frozen (as `freeze_long_lived` does) and collection resumes as it was.

    Why: the young collections that a build's allocations set off traverse what the build makes, all of it
    kept, and find next to no garbage (a few hundred objects, which then stay, frozen): in the build's
    layout they took 0.05 to 0.10 of the floor of the first invocation (README, "cold starts")."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


@lru_cache(maxsize=1)
def default_service() -> Idgate:
    with built_long_lived():
        return build_service(get_settings())


def build_announcer(settings: Settings) -> Announcer:
    """What the publisher function uses: the sessions table (without the session store's models: pydantic
    stays out of the publisher, idgate.announced says why) and the event publisher, nothing else."""
    from idgate.announcing import Announcer
    from idgate.notify import EventPublisher
    from idgate.session_table import SessionTable

    start_tracing(settings.tracing)
    return Announcer(SessionTable(settings.sessions_table), EventPublisher(settings.event_bus_name))


@lru_cache(maxsize=1)
def default_announcer() -> Announcer:
    with built_long_lived():
        return build_announcer(get_settings())


@lru_cache(maxsize=1)
def default_key_store() -> KeyStore:
    with built_long_lived():
        from idgate.keystore import KeyStore

        settings = get_settings()
        start_tracing(settings.tracing)
        return KeyStore(settings.keys_table)


# ---- signed webhooks (idgate.hooks): the API's endpoint routes, the fan-out, the deliveries ----------------


@lru_cache(maxsize=1)
def hook_clients() -> AwsClients:
    """The container's AWS clients for the webhooks (the API's session dependencies have their own)."""
    from idgate.aws_clients import AwsClients

    return AwsClients()


def _hook_store(settings: Settings, clients: AwsClients) -> HookStore:
    from idgate.hooks.store import HookStore

    return HookStore(
        settings.webhooks_table, retention=timedelta(days=settings.retention_days), client=clients("dynamodb")
    )


def _delivery_queue(settings: Settings, clients: AwsClients) -> DeliveryQueue:
    from idgate.hooks.queue import DeliveryQueue

    return DeliveryQueue(settings.webhook_queue_url, settings.webhook_dead_letter_url, client=clients)


def build_webhook_endpoints(settings: Settings, clients: AwsClients) -> WebhookEndpoints:
    from idgate.hooks.endpoints import WebhookEndpoints
    from idgate.hooks.sealing import KmsSealer

    return WebhookEndpoints(
        store=_hook_store(settings, clients),
        sealer=KmsSealer(settings.encryption_key_id, client=clients),
        queue=_delivery_queue(settings, clients),
        allow_insecure_urls=settings.allow_insecure_webhook_urls,
    )


@lru_cache(maxsize=1)
def default_webhook_endpoints() -> WebhookEndpoints:
    with built_long_lived():
        settings = get_settings()
        start_tracing(settings.tracing)
        return build_webhook_endpoints(settings, hook_clients())


def build_fanout(settings: Settings, clients: AwsClients) -> Fanout:
    from idgate.hooks.fanout import Fanout

    return Fanout(
        _hook_store(settings, clients),
        _delivery_queue(settings, clients),
    )


@lru_cache(maxsize=1)
def default_fanout() -> Fanout:
    with built_long_lived():
        settings = get_settings()
        start_tracing(settings.tracing)
        return build_fanout(settings, hook_clients())


def build_deliverer(settings: Settings, clients: AwsClients) -> Deliverer:
    from idgate.hooks.delivery import Deliverer
    from idgate.hooks.sealing import KmsSealer

    return Deliverer(
        store=_hook_store(settings, clients),
        unsealer=KmsSealer(settings.encryption_key_id, client=clients),
        queue=_delivery_queue(settings, clients),
        allow_insecure_urls=settings.allow_insecure_webhook_urls,
        backoff_scale=settings.webhook_backoff_scale,
    )


@lru_cache(maxsize=1)
def default_deliverer() -> Deliverer:
    with built_long_lived():
        settings = get_settings()
        start_tracing(settings.tracing)
        return build_deliverer(settings, hook_clients())
