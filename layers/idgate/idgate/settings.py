"""Every setting of idgate, read once from the environment (the only place that reads os.environ)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True)

    sessions_table: str = Field(alias="SESSIONS_TABLE")
    keys_table: str = Field(alias="KEYS_TABLE")
    state_machine_arn: str = Field(default="", alias="STATE_MACHINE_ARN")
    event_bus_name: str = Field(default="default", alias="EVENT_BUS_NAME")
    retention_days: int = Field(default=30, ge=1, alias="RETENTION_DAYS")
    poll_interval_seconds: int = Field(default=5, ge=1, le=60, alias="POLL_INTERVAL_SECONDS")
    #: Step Functions ends an execution at 25,000 history events; a check is about 9 (up to ~20 with
    #: retries), so a follow-up continues in a new execution after this many checks.
    checks_per_execution: int = Field(default=1000, ge=2, le=1200, alias="CHECKS_PER_EXECUTION")
    sender_email: str = Field(default="", alias="SENDER_EMAIL")
    pin_ttl_seconds: int = Field(default=600, ge=1, alias="PIN_TTL_SECONDS")
    pin_max_attempts: int = Field(default=5, ge=1, alias="PIN_MAX_ATTEMPTS")
    secrets_max_age_seconds: int = Field(default=300, ge=0, alias="SECRETS_MAX_AGE_SECONDS")
    jekimo_base_url: str = Field(default="https://www.jekimo.com/app.php/v1.1", alias="JEKIMO_BASE_URL")
    jekimo_secret_name: str = Field(default="", alias="JEKIMO_SECRET_NAME")
    #: Jekimo documents 120 s; a setting only so that the local stack can shorten it in tests.
    jekimo_token_ttl_seconds: int = Field(default=120, ge=1, alias="JEKIMO_TOKEN_TTL_SECONDS")
    okid_portal_url: str = Field(default="https://verify.prod.okid.io", alias="OKID_PORTAL_URL")
    okid_secret_name: str = Field(default="", alias="OKID_SECRET_NAME")
    webhook_secret_name: str = Field(default="", alias="WEBHOOK_SECRET_NAME")
    return_url_allowed_hosts: str = Field(default="", alias="RETURN_URL_ALLOWED_HOSTS")
    allow_unredacted_images: bool = Field(default=False, alias="ALLOW_UNREDACTED_IMAGES")
    #: The API's public base URL (a custom domain); empty: taken from the request (the execute-api host).
    public_api_url: str = Field(default="", alias="PUBLIC_API_URL")
    review_follow_hours: int = Field(default=168, ge=1, alias="REVIEW_FOLLOW_HOURS")

    @property
    def return_url_hosts(self) -> frozenset[str]:
        return frozenset(
            host.strip().lower() for host in self.return_url_allowed_hosts.split(",") if host.strip()
        )

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        known = {field.alias for field in cls.model_fields.values() if field.alias}
        return cls.model_validate({name: value for name, value in environ.items() if name in known})


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process; validated on first use so a misconfigured function fails at once."""
    return Settings.from_environ(os.environ)
