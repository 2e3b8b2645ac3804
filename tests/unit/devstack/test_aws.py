"""The local AWS endpoint: Lambda Invoke runs Python handlers, moto's Step Functions runs state machines
that call them (Retry and Catch included), and everything else is moto's."""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

import pytest

from devstack.aws import LocalAws

REGION_ACCOUNT = "us-east-1:123456789012"
ROLE = "arn:aws:iam::123456789012:role/test"


class NotReady(Exception):
    """A custom error a state machine retries on."""


class Broken(Exception):
    """A custom error a state machine catches."""


def wait_for_execution(sfn: Any, arn: str, timeout: float = 15) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        execution: dict[str, Any] = sfn.describe_execution(executionArn=arn)
        if execution["status"] != "RUNNING":
            return execution
        time.sleep(0.05)
    raise AssertionError(f"{arn} still running after {timeout} s")


def test_invoke_runs_the_python_handler_by_name_or_arn(local_aws: LocalAws) -> None:
    local_aws.lambdas.register("Echo", lambda event, context: {"got": event, "fn": context.function_name})
    client = local_aws.client("lambda")

    by_name = client.invoke(FunctionName="Echo", Payload=json.dumps({"a": 1}))
    by_arn = client.invoke(FunctionName=f"arn:aws:lambda:{REGION_ACCOUNT}:function:Echo", Payload=b"{}")

    assert by_name["StatusCode"] == 200
    assert "FunctionError" not in by_name
    assert json.load(by_name["Payload"]) == {"got": {"a": 1}, "fn": "Echo"}
    assert json.load(by_arn["Payload"]) == {"got": {}, "fn": "Echo"}


def test_a_handler_exception_answers_as_an_unhandled_function_error(local_aws: LocalAws) -> None:
    def fail(event: Any, context: Any) -> Any:
        raise NotReady("provider still thinking")

    local_aws.lambdas.register("Failing", fail)

    response = local_aws.client("lambda").invoke(FunctionName="Failing", Payload=b"{}")

    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    assert json.load(response["Payload"]) == {
        "errorType": "NotReady",
        "errorMessage": "provider still thinking",
        "stackTrace": [],
    }


def test_each_invocation_logs_one_line_without_the_payload(
    local_aws: LocalAws, caplog: pytest.LogCaptureFixture
) -> None:
    local_aws.lambdas.register("Quiet", lambda event, context: {"pin": event["pin"]})

    with caplog.at_level(logging.INFO, logger="devstack.lambda"):
        local_aws.client("lambda").invoke(FunctionName="Quiet", Payload=json.dumps({"pin": "482913"}))

    lines = [r.getMessage() for r in caplog.records if r.name == "devstack.lambda"]
    assert len(lines) == 1
    assert lines[0].startswith("lambda Quiet ")
    assert lines[0].endswith(" ms ok")
    assert "482913" not in caplog.text


def test_an_event_invocation_is_accepted_and_runs_in_the_background(local_aws: LocalAws) -> None:
    ran = threading.Event()
    local_aws.lambdas.register("Later", lambda event, context: ran.set())

    response = local_aws.client("lambda").invoke(FunctionName="Later", InvocationType="Event", Payload=b"{}")

    assert response["StatusCode"] == 202
    assert ran.wait(5)


def test_unknown_functions_are_not_found_and_other_services_go_to_moto(local_aws: LocalAws) -> None:
    dynamodb = local_aws.client("dynamodb")
    dynamodb.create_table(
        TableName="t",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
    )
    lambda_client = local_aws.client("lambda")

    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException):
        lambda_client.invoke(FunctionName="NotRegistered", Payload=b"{}")
    assert dynamodb.list_tables()["TableNames"] == ["t"]


def test_a_state_machine_calls_the_handler_and_retries_and_catches_its_custom_errors(
    local_aws: LocalAws,
) -> None:
    calls: list[dict[str, Any]] = []

    def check(event: dict[str, Any], context: Any) -> dict[str, Any]:
        calls.append(event)
        if event["mode"] == "broken":
            raise Broken("cannot go on")
        if event["mode"] == "flaky" and len(calls) == 1:
            raise NotReady("try again")
        return {"checked": event["mode"]}

    local_aws.lambdas.register("Check", check)
    definition = {
        "StartAt": "Check",
        "States": {
            "Check": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {
                    "FunctionName": f"arn:aws:lambda:{REGION_ACCOUNT}:function:Check",
                    "Payload.$": "$",
                },
                "OutputPath": "$.Payload",
                "Retry": [{"ErrorEquals": ["NotReady"], "IntervalSeconds": 1, "MaxAttempts": 2}],
                "Catch": [{"ErrorEquals": ["Broken"], "ResultPath": "$.error", "Next": "Caught"}],
                "End": True,
            },
            "Caught": {"Type": "Pass", "End": True},
        },
    }
    sfn = local_aws.client("stepfunctions")
    machine = sfn.create_state_machine(name="checks", definition=json.dumps(definition), roleArn=ROLE)

    flaky = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], input='{"mode": "flaky"}')
    flaky_result = wait_for_execution(sfn, flaky["executionArn"])
    broken = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], input='{"mode": "broken"}')
    broken_result = wait_for_execution(sfn, broken["executionArn"])

    assert flaky_result["status"] == "SUCCEEDED"
    assert json.loads(flaky_result["output"]) == {"checked": "flaky"}
    assert len(calls) == 3  # flaky: failed once, retried once; broken: once, then caught
    history = sfn.get_execution_history(executionArn=flaky["executionArn"])["events"]
    failures = [e["taskFailedEventDetails"]["error"] for e in history if e["type"] == "TaskFailed"]
    assert failures == ["NotReady"]
    assert broken_result["status"] == "SUCCEEDED"
    error = json.loads(broken_result["output"])["error"]
    assert error["Error"] == "Broken"
    assert json.loads(error["Cause"])["errorMessage"] == "cannot go on"


def test_executions_started_without_a_name_get_distinct_names(local_aws: LocalAws) -> None:
    definition = {"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}
    sfn = local_aws.client("stepfunctions")
    machine = sfn.create_state_machine(name="nameless", definition=json.dumps(definition), roleArn=ROLE)

    first = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], input='{"n": 1}')
    second = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], input='{"n": 2}')

    assert first["executionArn"] != second["executionArn"]
    assert not first["executionArn"].endswith(":None")
