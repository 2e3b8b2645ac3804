"""The handlers run in the test process: forget the settings, services and secrets an earlier stack left."""

from __future__ import annotations

from aws_lambda_powertools.utilities import parameters

from idgate import settings, wiring


def reset_idgate_caches() -> None:
    settings.get_settings.cache_clear()
    wiring.default_service.cache_clear()
    wiring.default_announcer.cache_clear()
    wiring.default_key_store.cache_clear()
    wiring.default_webhook_endpoints.cache_clear()
    wiring.default_fanout.cache_clear()
    wiring.default_deliverer.cache_clear()
    wiring.hook_clients.cache_clear()
    parameters.clear_caches()
