"""Every setting of idgate, read once from the environment (the only place that reads os.environ).

A provider's settings follow a naming convention instead of a field here each: every variable
`<PROVIDER>_<KEY>` (`JEKIMO_BASE_URL`, `OKID_BASE_URL`, `DATAKEEN_TOKEN_TTL_SECONDS`, ...) is handed to
that provider, which validates it with its own model; its secret is `PROVIDER_SECRET_PREFIX` + name.

A frozen dataclass with its own parsing, not a pydantic model (nor pydantic-settings, environs, ...): every
function reads its settings at its first invocation, and pydantic's import with a first model cost 0.25 of the
floor of a cold start (README, "cold starts"), which the authorizer and the keys function need for nothing
else. What is parsed is three kinds of values (text, integers within bounds, booleans), read as pydantic read
them (`parse_integer`, `parse_flag`); every variable's problem is reported at once (`SettingsError`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, field, fields
from functools import lru_cache
from typing import Any

from idgate.public_url import checked_public_api_url

#: Variables that are never a provider's, whatever their prefix.
_NOT_PROVIDER_VARIABLES = re.compile(r"^(AWS|POWERTOOLS|LAMBDA|_)")
#: An integer as pydantic's lax mode reads one from text: ASCII digits, a sign, underscores between digits, a
#: zero fraction, spaces around.
_INTEGER = re.compile(r"\s*[+-]?[0-9](?:_?[0-9])*(?:\.0+)?\s*")
#: A boolean as pydantic reads one from text (any case, no spaces).
_FLAGS = {
    **dict.fromkeys(("1", "on", "t", "true", "y", "yes"), True),
    **dict.fromkeys(("0", "off", "f", "false", "n", "no"), False),
}


class SettingsError(ValueError):
    """The environment's settings are invalid: every wrong variable, by name, with its problem."""

    def __init__(self, problems: Mapping[str, str]) -> None:
        self.problems = dict(problems)
        lines = "".join(f"\n  {variable}: {problem}" for variable, problem in self.problems.items())
        super().__init__(f"{len(self.problems)} invalid setting(s) in the environment:{lines}")


def parse_integer(text: str, *, low: int | None = None, high: int | None = None) -> int:
    if not _INTEGER.fullmatch(text):
        raise ValueError(f"must be an integer, not {text!r}")
    number = int(text.strip().split(".")[0])
    if low is not None and number < low:
        raise ValueError(f"must be at least {low}, not {number}")
    if high is not None and number > high:
        raise ValueError(f"must be at most {high}, not {number}")
    return number


def parse_fraction(text: str) -> float:
    """A factor above 0, at most 1 (the webhook retry schedule's multiplier)."""
    try:
        number = float(text)
    except ValueError as exc:
        raise ValueError(f"must be a number, not {text!r}") from exc
    if not 0 < number <= 1:
        raise ValueError(f"must be above 0 and at most 1, not {number}")
    return number


def parse_flag(text: str) -> bool:
    flag = _FLAGS.get(text.lower())
    if flag is None:
        raise ValueError(f"must be one of true, false (or 1, 0, yes, no, on, off), not {text!r}")
    return flag


def _text(variable: str) -> dict[str, Any]:
    return {"variable": variable, "parse": str}


def _integer(variable: str, *, low: int | None = None, high: int | None = None) -> dict[str, Any]:
    return {"variable": variable, "parse": lambda text: parse_integer(text, low=low, high=high)}


def _flag(variable: str) -> dict[str, Any]:
    return {"variable": variable, "parse": parse_flag}


@dataclass(frozen=True, kw_only=True)
class Settings:
    sessions_table: str = field(metadata=_text("SESSIONS_TABLE"))
    keys_table: str = field(metadata=_text("KEYS_TABLE"))
    state_machine_arn: str = field(default="", metadata=_text("STATE_MACHINE_ARN"))
    #: The Express workflow of a session's fast phase (idgate.schedule); empty: the Standard one runs it.
    fast_follow_state_machine_arn: str = field(default="", metadata=_text("FAST_FOLLOW_STATE_MACHINE_ARN"))
    event_bus_name: str = field(default="default", metadata=_text("EVENT_BUS_NAME"))
    retention_days: int = field(default=30, metadata=_integer("RETENTION_DAYS", low=1))
    poll_interval_seconds: int = field(default=5, metadata=_integer("POLL_INTERVAL_SECONDS", low=1, high=60))
    #: Step Functions ends an execution at 25,000 history events; a check is about 9 (up to ~20 with
    #: retries), so a follow-up continues in a new execution after this many checks.
    checks_per_execution: int = field(
        default=1000, metadata=_integer("CHECKS_PER_EXECUTION", low=2, high=1200)
    )
    #: The longest fast phase (Express ends an execution at 300 s) and the longest wait between two looks
    #: of the long phase (idgate.schedule); lowered to shorten local runs.
    fast_phase_limit_seconds: int = field(
        default=180, metadata=_integer("FAST_PHASE_LIMIT_SECONDS", low=1, high=200)
    )
    long_wait_limit_seconds: int = field(default=7200, metadata=_integer("LONG_WAIT_LIMIT_SECONDS", low=1))
    sender_email: str = field(default="", metadata=_text("SENDER_EMAIL"))
    pin_ttl_seconds: int = field(default=600, metadata=_integer("PIN_TTL_SECONDS", low=1))
    pin_max_attempts: int = field(default=5, metadata=_integer("PIN_MAX_ATTEMPTS", low=1))
    secrets_max_age_seconds: int = field(default=300, metadata=_integer("SECRETS_MAX_AGE_SECONDS", low=0))
    #: Provider `name`'s credentials are the JSON secret named `<prefix><name>`.
    provider_secret_prefix: str = field(default="", metadata=_text("PROVIDER_SECRET_PREFIX"))
    #: The KMS key that encrypts what idgate keeps and must read again (providers' shared login tokens).
    encryption_key_id: str = field(default="", metadata=_text("ENCRYPTION_KEY_ID"))
    #: The generated secret every provider's webhook path token is derived from.
    webhook_secret_name: str = field(default="", metadata=_text("WEBHOOK_SECRET_NAME"))
    return_url_allowed_hosts: str = field(default="", metadata=_text("RETURN_URL_ALLOWED_HOSTS"))
    allow_unredacted_images: bool = field(default=False, metadata=_flag("ALLOW_UNREDACTED_IMAGES"))
    #: The API's public base URL (a custom domain), checked here (idgate.public_url); empty: https on the
    #: domain API Gateway was called on.
    public_api_url: str = field(
        default="", metadata={"variable": "PUBLIC_API_URL", "parse": checked_public_api_url}
    )
    review_follow_hours: int = field(default=168, metadata=_integer("REVIEW_FOLLOW_HOURS", low=1))
    #: How many open sessions one client may have at once; 0: no limit.
    max_open_sessions_per_client: int = field(
        default=0, metadata=_integer("MAX_OPEN_SESSIONS_PER_CLIENT", low=0)
    )
    #: Signed webhooks (idgate.hooks): the table of endpoints and deliveries, the delivery queue and its
    #: dead-letter queue; `http` to loopback allowed (the local stack only); the retry schedule's multiplier.
    webhooks_table: str = field(default="", metadata=_text("WEBHOOKS_TABLE"))
    webhook_queue_url: str = field(default="", metadata=_text("WEBHOOK_QUEUE_URL"))
    webhook_dead_letter_url: str = field(default="", metadata=_text("WEBHOOK_DEAD_LETTER_URL"))
    allow_insecure_webhook_urls: bool = field(default=False, metadata=_flag("ALLOW_INSECURE_WEBHOOK_URLS"))
    webhook_backoff_scale: float = field(
        default=1.0, metadata={"variable": "WEBHOOK_BACKOFF_SCALE", "parse": parse_fraction}
    )
    #: The default routing policy of `"provider": "auto"` sessions, JSON (idgate.routing_policy); empty: every
    #: provider that declares a check, in the registry's order.
    routing_policy: str = field(default="", metadata=_text("ROUTING_POLICY"))
    #: A provider that failed this many starts in a row is passed over for the cool-down (idgate.breaker).
    breaker_failures: int = field(default=3, metadata=_integer("BREAKER_FAILURES", low=1))
    breaker_cooldown_seconds: int = field(default=60, metadata=_integer("BREAKER_COOLDOWN_SECONDS", low=1))
    #: Powertools' own switch, which template.yaml's `Tracing` parameter sets; tracing stays off (and X-Ray is
    #: never imported) unless it is "false" (see idgate.tracing).
    trace_disabled: bool = field(default=True, metadata=_flag("POWERTOOLS_TRACE_DISABLED"))
    #: The environment's other variables, for the providers' own settings (never shown: see `repr`).
    other_variables: Mapping[str, str] = field(default_factory=dict, repr=False)

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
        """The settings `environ` holds; SettingsError naming every variable missing or invalid."""
        values: dict[str, Any] = {}
        problems: dict[str, str] = {}
        for variable, (name, parse) in _VARIABLES.items():
            if variable not in environ:
                if _REQUIRED[name]:
                    problems[variable] = "missing"
                continue
            try:
                values[name] = parse(environ[variable])
            except ValueError as exc:
                problems[variable] = str(exc)
        if problems:
            raise SettingsError(problems)
        values["other_variables"] = {
            name: value
            for name, value in environ.items()
            if name not in _VARIABLES and not _NOT_PROVIDER_VARIABLES.match(name)
        }
        return cls(**values)


#: Each setting's variable → the field it sets and how its text is read; and which settings have no default.
_VARIABLES: dict[str, tuple[str, Callable[[str], Any]]] = {
    f.metadata["variable"]: (f.name, f.metadata["parse"]) for f in fields(Settings) if f.metadata
}
_REQUIRED = {f.name: f.default is MISSING and f.default_factory is MISSING for f in fields(Settings)}


def variable_of(setting: str) -> str:
    """The environment variable that sets the field `setting` of Settings (KeyError for no such setting)."""
    return next(variable for variable, (name, _) in _VARIABLES.items() if name == setting)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process; checked on first use so a misconfigured function fails at once."""
    return Settings.from_environ(os.environ)
