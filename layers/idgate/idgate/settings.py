"""Every setting of idgate, read once from the environment (the only place that reads os.environ).

A provider's settings follow a naming convention instead of a field here each: every variable
`<PROVIDER>_<KEY>` (`JEKIMO_BASE_URL`, `OKID_BASE_URL`, `DATAKEEN_TOKEN_TTL_SECONDS`, ...) is handed to
that provider, which validates it with its own model; its secret is `PROVIDER_SECRET_PREFIX` + name.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field, field_validator

from idgate.public_url import checked_public_api_url

#: Variables that are never a provider's, whatever their prefix.
_NOT_PROVIDER_VARIABLES = re.compile(r"^(AWS|POWERTOOLS|LAMBDA|_)")


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True)

    sessions_table: str = Field(alias="SESSIONS_TABLE")
    keys_table: str = Field(alias="KEYS_TABLE")
    state_machine_arn: str = Field(default="", alias="STATE_MACHINE_ARN")
    #: The Express workflow of a session's fast phase (idgate.schedule); empty: the Standard one runs it.
    fast_follow_state_machine_arn: str = Field(default="", alias="FAST_FOLLOW_STATE_MACHINE_ARN")
    event_bus_name: str = Field(default="default", alias="EVENT_BUS_NAME")
    retention_days: int = Field(default=30, ge=1, alias="RETENTION_DAYS")
    poll_interval_seconds: int = Field(default=5, ge=1, le=60, alias="POLL_INTERVAL_SECONDS")
    #: Step Functions ends an execution at 25,000 history events; a check is about 9 (up to ~20 with
    #: retries), so a follow-up continues in a new execution after this many checks.
    checks_per_execution: int = Field(default=1000, ge=2, le=1200, alias="CHECKS_PER_EXECUTION")
    #: The longest fast phase (Express ends an execution at 300 s) and the longest wait between two looks
    #: of the long phase (idgate.schedule); lowered to shorten local runs.
    fast_phase_limit_seconds: int = Field(default=180, ge=1, le=200, alias="FAST_PHASE_LIMIT_SECONDS")
    long_wait_limit_seconds: int = Field(default=7200, ge=1, alias="LONG_WAIT_LIMIT_SECONDS")
    sender_email: str = Field(default="", alias="SENDER_EMAIL")
    pin_ttl_seconds: int = Field(default=600, ge=1, alias="PIN_TTL_SECONDS")
    pin_max_attempts: int = Field(default=5, ge=1, alias="PIN_MAX_ATTEMPTS")
    secrets_max_age_seconds: int = Field(default=300, ge=0, alias="SECRETS_MAX_AGE_SECONDS")
    #: Provider `name`'s credentials are the JSON secret named `<prefix><name>`.
    provider_secret_prefix: str = Field(default="", alias="PROVIDER_SECRET_PREFIX")
    #: The KMS key that encrypts what idgate keeps and must read again (providers' shared login tokens).
    encryption_key_id: str = Field(default="", alias="ENCRYPTION_KEY_ID")
    #: The generated secret every provider's webhook path token is derived from.
    webhook_secret_name: str = Field(default="", alias="WEBHOOK_SECRET_NAME")
    return_url_allowed_hosts: str = Field(default="", alias="RETURN_URL_ALLOWED_HOSTS")
    allow_unredacted_images: bool = Field(default=False, alias="ALLOW_UNREDACTED_IMAGES")
    #: The API's public base URL (a custom domain), checked here; empty: https on the domain API Gateway
    #: was called on (see idgate.public_url).
    public_api_url: str = Field(default="", alias="PUBLIC_API_URL")
    review_follow_hours: int = Field(default=168, ge=1, alias="REVIEW_FOLLOW_HOURS")
    #: How many open sessions one client may have at once; 0: no limit.
    max_open_sessions_per_client: int = Field(default=0, ge=0, alias="MAX_OPEN_SESSIONS_PER_CLIENT")
    #: The default routing policy of `"provider": "auto"` sessions, JSON (idgate.routing_policy); empty: every
    #: provider that declares a check, in the registry's order.
    routing_policy: str = Field(default="", alias="ROUTING_POLICY")
    #: A provider that failed this many starts in a row is passed over for the cool-down (idgate.breaker).
    breaker_failures: int = Field(default=3, ge=1, alias="BREAKER_FAILURES")
    breaker_cooldown_seconds: int = Field(default=60, ge=1, alias="BREAKER_COOLDOWN_SECONDS")
    #: Powertools' own switch, which template.yaml's `Tracing` parameter sets; tracing stays off (and X-Ray is
    #: never imported) unless it is "false" (see idgate.tracing).
    trace_disabled: bool = Field(default=True, alias="POWERTOOLS_TRACE_DISABLED")
    #: The environment's other variables, for the providers' own settings (never shown: see `repr`).
    other_variables: Mapping[str, str] = Field(default_factory=dict, repr=False, exclude=True)

    @field_validator("public_api_url")
    @classmethod
    def _public_api_url(cls, value: str) -> str:
        return checked_public_api_url(value)

    @property
    def return_url_hosts(self) -> frozenset[str]:
        return frozenset(
            host.strip().lower() for host in self.return_url_allowed_hosts.split(",") if host.strip()
        )

    @property
    def tracing(self) -> bool:
        return not self.trace_disabled

    def variables_of(self, provider: str) -> dict[str, str]:
        """Provider `provider`'s variables, without their `<PROVIDER>_` prefix."""
        prefix = provider.upper() + "_"
        return {
            name.removeprefix(prefix): value
            for name, value in self.other_variables.items()
            if name.startswith(prefix) and len(name) > len(prefix)
        }

    def secret_name_of(self, provider: str) -> str:
        return f"{self.provider_secret_prefix}{provider}" if self.provider_secret_prefix else ""

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        known = {field.alias for field in cls.model_fields.values() if field.alias}
        values: dict[str, object] = {name: value for name, value in environ.items() if name in known}
        values["other_variables"] = {
            name: value
            for name, value in environ.items()
            if name not in known and not _NOT_PROVIDER_VARIABLES.match(name)
        }
        return cls.model_validate(values)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process; validated on first use so a misconfigured function fails at once."""
    return Settings.from_environ(os.environ)
