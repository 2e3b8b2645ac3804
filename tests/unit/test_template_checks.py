"""What template.yaml promises an operator, read through the SAM transform as CloudFormation gets it: CORS
origins, logs and their retention, data kept on deletion, alarms on the metrics idgate emits, a dashboard."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from functools import cache
from typing import Any

import pytest
from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

from devstack.template import Resolver, Template, load_template
from idgate.domain import Reason, Status
from idgate.providers.registry import PROVIDERS
from idgate.routing import PASSED_OVER

ORIGINS = "https://shop.example,https://admin.shop.example"


@cache
def template() -> Template:
    return load_template()


@cache
def resolver() -> Resolver:
    return template().resolver()


def resources(resource_type: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for logical_id, resource in resolver().resources.items():
        if resource["Type"] == resource_type:
            yield logical_id, resource


# ---- CORS --------------------------------------------------------------------------------------------------


def test_each_cors_origin_in_the_parameter_is_one_allowed_origin_after_the_transform() -> None:
    # Given two origins in the comma-delimited parameter
    r = template().resolver(parameters={"CorsAllowedOrigins": ORIGINS})
    cors = r.properties("HttpApi")["Body"]["x-amazon-apigateway-cors"]

    # Then the transform leaves the list to CloudFormation (a Ref to a CommaDelimitedList is a list there),
    # rather than writing the comma-joined value as one origin
    assert cors["allowOrigins"] == {"Ref": "CorsAllowedOrigins"}
    assert template().parameters["CorsAllowedOrigins"].type == "CommaDelimitedList"
    assert r.resolve(cors["allowOrigins"]) == ["https://shop.example", "https://admin.shop.example"]
    api = template().http_api(r)
    assert api.cors is not None
    assert api.cors.allow_origins == ("https://shop.example", "https://admin.shop.example")


def test_the_default_cors_origin_is_any() -> None:
    cors = resolver().properties("HttpApi")["Body"]["x-amazon-apigateway-cors"]
    assert resolver().resolve(cors["allowOrigins"]) == ["*"]
    assert "allowCredentials" not in cors


# ---- logs --------------------------------------------------------------------------------------------------


def log_groups() -> dict[str, Mapping[str, Any]]:
    """Log groups by their resolved name."""
    return {
        resolver().resolve(props["Properties"]["LogGroupName"]): props
        for _, props in resources("AWS::Logs::LogGroup")
    }


def test_every_function_writes_to_a_log_group_of_the_template_with_the_retention_parameter() -> None:
    groups = log_groups()
    for function in template().functions().values():
        # Lambda and Powertools write to /aws/lambda/<function name>
        group = groups[f"/aws/lambda/{function.name}"]
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert template().parameters["LogRetentionDays"].default == "30"


def test_every_log_group_expires_and_goes_with_the_stack() -> None:
    for name, group in log_groups().items():
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}, name
        assert group.get("DeletionPolicy") == group.get("UpdateReplacePolicy") == "Delete", name


def test_the_api_logs_every_request_as_json_without_its_path() -> None:
    # Given the stage's access log settings
    [(_, stage)] = resources("AWS::ApiGatewayV2::Stage")
    settings = stage["Properties"]["AccessLogSettings"]
    assert settings["DestinationArn"] == {"Fn::GetAtt": ["HttpApiAccessLogGroup", "Arn"]}
    log_format = settings["Format"]

    # When API Gateway fills in its variables
    line = re.sub(r"\$context\.[A-Za-z.]+", "x", log_format)

    # Then each line is one JSON object naming what an operator needs, and never the path (a webhook's
    # path holds its secret token)
    fields = json.loads(line)
    variables = dict(re.findall(r'"(\w+)":"(\$context\.[A-Za-z.]+)"', log_format))
    assert set(fields) == set(variables)
    assert {
        "$context.requestId",
        "$context.identity.sourceIp",
        "$context.routeKey",
        "$context.status",
        "$context.responseLatency",
        "$context.authorizer.error",
        "$context.integrationErrorMessage",
    } <= set(variables.values())
    assert "$context.path" not in log_format
    assert "\n" not in log_format


def test_the_state_machine_logs_errors_without_execution_data() -> None:
    logging = resolver().properties("PollStateMachine")["LoggingConfiguration"]
    assert logging["Level"] == "ERROR"
    assert logging["IncludeExecutionData"] is False
    [destination] = logging["Destinations"]
    assert destination["CloudWatchLogsLogGroup"]["LogGroupArn"] == {
        "Fn::GetAtt": ["PollStateMachineLogGroup", "Arn"]
    }


# ---- tracing -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("tracing", "on"), [("Disabled", False), ("Active", True)])
def test_the_tracing_parameter_sets_the_functions_and_the_state_machines_tracing(
    tracing: str, on: bool
) -> None:
    # Given the template deployed with the parameter (Active is its default)
    r = template().resolver(parameters={"Tracing": tracing})

    # Then every function traces in Lambda's Active mode or not at all, and its code is told the same
    for logical_id, function in template().functions(r).items():
        mode = r.properties(logical_id).get("TracingConfig")
        assert (r.resolve(mode) if mode else None) == ({"Mode": "Active"} if on else None), logical_id
        assert function.environment["POWERTOOLS_TRACE_DISABLED"] == ("false" if on else "true"), logical_id

    # And so does the state machine
    machine = r.properties("PollStateMachine")
    assert r.resolve(machine["TracingConfiguration"]) == {"Enabled": on}


def test_tracing_is_off_by_default() -> None:
    assert template().parameters["Tracing"].default == "Disabled"


# ---- data kept ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "resource_type", ["AWS::DynamoDB::Table", "AWS::SecretsManager::Secret", "AWS::KMS::Key"]
)
def test_data_is_kept_when_the_stack_is_deleted_or_a_change_replaces_it(resource_type: str) -> None:
    found = list(resources(resource_type))
    assert found
    for logical_id, resource in found:
        assert resource.get("DeletionPolicy") == "Retain", logical_id
        assert resource.get("UpdateReplacePolicy") == "Retain", logical_id
        if resource_type == "AWS::DynamoDB::Table":
            assert resource["Properties"]["DeletionProtectionEnabled"] is True, logical_id


def test_secrets_are_encrypted_with_the_stacks_key() -> None:
    for logical_id, secret in resources("AWS::SecretsManager::Secret"):
        assert secret["Properties"]["KmsKeyId"] == {"Ref": "EncryptionKey"}, logical_id


# ---- alarms ------------------------------------------------------------------------------------------------


def alarms() -> dict[str, Mapping[str, Any]]:
    return {lid: resource["Properties"] for lid, resource in resources("AWS::CloudWatch::Alarm")}


def metrics_of(alarm: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Every metric an alarm reads: its own, or those of its metric math."""
    if "MetricName" in alarm:
        keys = ("Namespace", "MetricName", "Dimensions")
        return [{key: alarm.get(key) for key in keys}]
    return [query["MetricStat"]["Metric"] for query in alarm["Metrics"] if "MetricStat" in query]


def dimensions(metric: Mapping[str, Any]) -> dict[str, Any]:
    return {d["Name"]: d["Value"] for d in metric.get("Dimensions") or []}


def test_alarms_and_their_topic_exist_only_with_an_alarm_email() -> None:
    # Given no AlarmEmail (the default), the condition every alarm and the topic are made under is false
    assert resolver().condition("HasAlarmEmail") is False
    with_email = template().resolver(parameters={"AlarmEmail": "ops@example.com"})
    assert with_email.condition("HasAlarmEmail") is True
    topics = dict(resources("AWS::SNS::Topic"))
    assert set(topics) == {"AlarmTopic"}
    assert topics["AlarmTopic"]["Condition"] == "HasAlarmEmail"
    assert with_email.resolve(topics["AlarmTopic"]["Properties"]["Subscription"]) == [
        {"Protocol": "email", "Endpoint": "ops@example.com"}
    ]

    # Then every alarm exists under that condition, and notifies the topic
    found = dict(resources("AWS::CloudWatch::Alarm"))
    assert len(found) >= 10
    for logical_id, alarm in found.items():
        assert alarm["Condition"] == "HasAlarmEmail", logical_id
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}], logical_id
        assert alarm["Properties"]["OKActions"] == [{"Ref": "AlarmTopic"}], logical_id


def test_every_function_has_an_alarm_on_its_errors_and_throttles() -> None:
    watched: dict[str, set[str]] = {}
    for alarm in alarms().values():
        for metric in metrics_of(alarm):
            if metric["Namespace"] == "AWS/Lambda" and metric["MetricName"] in ("Errors", "Throttles"):
                function = dimensions(metric)["FunctionName"]["Ref"]
                watched.setdefault(function, set()).add(metric["MetricName"])
    assert watched == {function: {"Errors", "Throttles"} for function in template().functions()}


def test_both_follow_state_machines_and_the_api_have_their_failure_alarms() -> None:
    read = [
        (m["Namespace"], m["MetricName"], json.dumps(dimensions(m)))
        for a in alarms().values()
        for m in metrics_of(a)
    ]
    for logical_id in ("PollStateMachine", "FastFollowStateMachine"):
        machine = json.dumps({"StateMachineArn": {"Ref": logical_id}})
        assert ("AWS/States", "ExecutionsFailed", machine) in read
        assert ("AWS/States", "ExecutionsTimedOut", machine) in read
    api = json.dumps({"ApiId": {"Ref": "HttpApi"}, "Stage": "$default"})
    assert ("AWS/ApiGateway", "5xx", api) in read


def function_environment() -> Mapping[str, str]:
    return next(iter(template().functions().values())).environment


INSIGHTS_QUERY = re.compile(
    r"SELECT SUM\((?P<metric>\w+)\) FROM SCHEMA\((?P<schema>[^)]*)\)"
    r" WHERE (?P<where>.*) GROUP BY (?P<group>\w+)"
)


def insights_query(metric: str) -> dict[str, Any]:
    """The Metrics Insights query of the one alarm that reads this idgate metric, taken apart."""
    [expression] = [
        query["Expression"]
        for alarm in alarms().values()
        for query in alarm.get("Metrics", [])
        if "Expression" in query and f"SUM({metric})" in query["Expression"]
    ]
    match = INSIGHTS_QUERY.fullmatch(" ".join(expression.split()))
    assert match, expression
    namespace, *schema = (part.strip() for part in match["schema"].split(","))
    conditions = re.findall(r"(\w+) = '([^']*)'", match["where"])
    return {
        "namespace": namespace,
        "dimensions": set(schema),
        "conditions": conditions,
        "group_by": match["group"],
    }


def test_sessions_ending_in_error_have_one_alarm_with_each_provider_a_contributor() -> None:
    query = insights_query("SessionsFinalized")
    assert query["namespace"] == function_environment()["POWERTOOLS_METRICS_NAMESPACE"]
    assert query["dimensions"] == {"service", "provider", "status"}
    assert set(query["conditions"]) == {
        ("service", function_environment()["POWERTOOLS_SERVICE_NAME"]),
        ("status", Status.ERROR.value),
    }
    assert query["group_by"] == "provider"


def test_provider_failures_have_one_alarm_summing_the_reasons_that_are_ours_per_provider() -> None:
    query = insights_query("ProviderCallFailures")
    assert query["namespace"] == function_environment()["POWERTOOLS_METRICS_NAMESPACE"]
    assert query["dimensions"] == {"service", "provider", "reason"}
    assert ("service", function_environment()["POWERTOOLS_SERVICE_NAME"]) in query["conditions"]
    counted = {value for key, value in query["conditions"] if key == "reason"}
    # what makes the routing pass a provider over (it cannot serve us now, whatever the request), and a
    # provider's error; never a client's mistake (a refused return URL, an unknown template)
    passed_over = PASSED_OVER - {"provider_unavailable"}  # the API's answer, not a reason a call fails with
    assert counted == passed_over | {"provider_unreachable", "provider_error"}
    assert counted - {"provider_quota_exceeded"} <= {reason.value for reason in Reason}
    assert query["group_by"] == "provider"


def test_no_alarm_names_a_provider() -> None:
    # A provider added to the registry is watched by the alarms as they are (README, Adding a provider)
    text = json.dumps(alarms()).lower()
    for provider in PROVIDERS:
        assert provider.name not in text


def test_the_alarms_read_the_dimensions_powertools_metrics_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given Powertools Metrics with the functions' environment (it adds `service` to every metric)
    for name in ("POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE"):
        monkeypatch.setenv(name, function_environment()[name])
    metrics = Metrics()
    try:
        # When idgate emits a finalized session and a provider failure as EMF
        emitted = {}
        for name, dimension, value in (
            ("SessionsFinalized", "status", "error"),
            ("ProviderCallFailures", "reason", "provider_unreachable"),
        ):
            metrics.add_dimension(name="provider", value="okid")
            metrics.add_dimension(name=dimension, value=value)
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
            document = metrics.serialize_metric_set()
            [directive] = document["_aws"]["CloudWatchMetrics"]
            emitted[name] = (directive["Namespace"], set(directive["Dimensions"][0]))
            metrics.clear_metrics()
    finally:
        metrics.clear_metrics()

    # Then the alarms' queries read that namespace and exactly that dimension set (SCHEMA matches it exactly)
    for name, (namespace, names) in emitted.items():
        query = insights_query(name)
        assert (query["namespace"], query["dimensions"]) == (namespace, names)


# ---- the dashboard -----------------------------------------------------------------------------------------


def test_the_dashboard_is_json_and_shows_idgates_metrics_and_every_alarm_where_they_exist() -> None:
    [(_, dashboard)] = resources("AWS::CloudWatch::Dashboard")
    widgets, alarm_widget, closing = dashboard["Properties"]["DashboardBody"]["Fn::Join"][1]
    condition, with_alarms, without_alarms = alarm_widget["Fn::If"]
    assert (condition, without_alarms) == ("HasAlarmEmail", "")
    texts = {
        "without alarms": widgets["Fn::Sub"] + closing,
        "with": widgets["Fn::Sub"] + with_alarms["Fn::Sub"] + closing,
    }
    bodies = {k: json.loads(re.sub(r"\$\{[^}]+\}", "x", text)) for k, text in texts.items()}
    assert not [w for w in bodies["without alarms"]["widgets"] if w["type"] == "alarm"]
    assert 'MetricName=\\"SessionsFinalized\\"' in widgets["Fn::Sub"]
    assert 'MetricName=\\"ProviderCallFailures\\"' in widgets["Fn::Sub"]
    [shown] = [w for w in bodies["with"]["widgets"] if w["type"] == "alarm"]
    assert len(shown["properties"]["alarms"]) == len(alarms())
    assert set(re.findall(r"\$\{([^}]+)\}", with_alarms["Fn::Sub"])) == {f"{lid}.Arn" for lid in alarms()}
    references = set(re.findall(r"\$\{([^}]+)\}", widgets["Fn::Sub"]))
    assert {f"{lid}" for lid in template().functions()} <= references
