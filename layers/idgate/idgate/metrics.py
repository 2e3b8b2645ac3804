"""What idgate counts, as CloudWatch embedded-metric-format lines (EMF) in the functions' logs, which
CloudWatch turns into metrics: namespace `idgate` (POWERTOOLS_METRICS_NAMESPACE), dimensions kept
low-cardinality (provider, status, reason, outcome, and Powertools' `service`; never a session or a
client id). The template's alarms and dashboard read these names.

Each metric is written at once (Powertools' `single_metric`) rather than collected until the end of the
invocation, so that nothing is lost when an invocation fails and concurrent invocations never share a
metric set.
"""

from __future__ import annotations

from typing import Any

NAMESPACE = "idgate"

SESSIONS_CREATED = "SessionsCreated"  # provider
SESSIONS_FINALIZED = "SessionsFinalized"  # provider, status
TIME_TO_VERDICT = "TimeToVerdict"  # provider, status; seconds from creation to the final status
PROVIDER_CALL_FAILURES = "ProviderCallFailures"  # provider, reason
WEBHOOKS_RECEIVED = "WebhooksReceived"  # provider, outcome: applied, ignored, refused
ROUTING_TRIES = "RoutingTries"  # check, provider, outcome: chosen, or why it was passed over


def count(name: str, **dimensions: str) -> None:
    _emit(name, 1.0, "Count", dimensions)


def seconds(name: str, value: float, **dimensions: str) -> None:
    _emit(name, value, "Seconds", dimensions)


def _emit(name: str, value: float, unit: str, dimensions: dict[str, str]) -> None:
    # Imported on first use: the cold path of a request that counts nothing stays lighter.
    from aws_lambda_powertools.metrics import MetricUnit, single_metric

    metric: Any
    with single_metric(name=name, unit=MetricUnit(unit), value=value, namespace=NAMESPACE) as metric:
        for key, dimension in dimensions.items():
            metric.add_dimension(name=key, value=dimension)
