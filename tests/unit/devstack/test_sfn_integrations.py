"""The emulator fix of devstack/sfn_integrations.py: a `states:startExecution` task starts its execution
(moto's own engine fails it), and a second start of the same name with other input fails as on AWS, with
the error the fast-follow workflow's HandOff catches."""

from __future__ import annotations

import json
import time

import pytest

from devstack.aws import LocalAws
from devstack.sfn_integrations import fix_step_functions_integrations

ROLE = "arn:aws:iam::123456789012:role/states"


def start_task(target: str) -> dict:
    return {
        "StartAt": "HandOff",
        "States": {
            "HandOff": {
                "Type": "Task",
                "Resource": "arn:aws:states:::states:startExecution",
                "Parameters": {"StateMachineArn": target, "Name.$": "$.name", "Input": {"seen.$": "$.seen"}},
                # as in statemachine/fast-follow.asl.json (moto cannot write the answer's startDate out)
                "ResultPath": None,
                "End": True,
            }
        },
    }


def run(sfn, machine: str, payload: dict) -> list[dict]:
    arn = sfn.start_execution(stateMachineArn=machine, input=json.dumps(payload))["executionArn"]
    deadline = time.monotonic() + 10
    while sfn.describe_execution(executionArn=arn)["status"] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return sfn.get_execution_history(executionArn=arn)["events"]


@pytest.fixture
def sfn(local_aws: LocalAws):
    return local_aws.client("stepfunctions")  # the local AWS endpoint applies the fix when it starts


def test_a_start_execution_task_starts_the_named_execution_with_its_input(sfn):
    wait = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 30, "End": True}}}
    target = sfn.create_state_machine(name="long", definition=json.dumps(wait), roleArn=ROLE)[
        "stateMachineArn"
    ]
    express = sfn.create_state_machine(
        name="fast", definition=json.dumps(start_task(target)), roleArn=ROLE, type="EXPRESS"
    )["stateMachineArn"]
    events = run(sfn, express, {"name": "ses_1", "seen": 3})
    assert events[-1]["type"] == "ExecutionSucceeded"
    (started,) = sfn.list_executions(stateMachineArn=target)["executions"]
    assert started["name"] == "ses_1"
    first_event = sfn.get_execution_history(executionArn=started["executionArn"])["events"][0]
    assert json.loads(first_event["executionStartedEventDetails"]["input"]) == {"seen": 3}
    # the same name with other input: AWS's error, named as the Step Functions integration names it
    events = run(sfn, express, {"name": "ses_1", "seen": 4})
    failed = [e for e in events if e["type"] == "TaskFailed"]
    assert failed[0]["taskFailedEventDetails"]["error"] == "StepFunctions.ExecutionAlreadyExistsException"


def test_the_fix_is_applied_once():
    fix_step_functions_integrations()
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_sfn

    first = state_task_service_sfn.StateTaskServiceSfn._normalise_parameters
    fix_step_functions_integrations()
    assert state_task_service_sfn.StateTaskServiceSfn._normalise_parameters is first
