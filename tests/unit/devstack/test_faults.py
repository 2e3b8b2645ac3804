"""The stack's chaos knobs: the settings, their flags, and changing them while the stack runs, from Python
and over HTTP (`/_devstack/faults`)."""

from __future__ import annotations

import json
import logging
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from werkzeug.test import Client
from werkzeug.wrappers import Response

from devstack.__main__ import parse_args
from devstack.faults import CONTROL_PATH, FaultControl, FaultSettings, StackFaults
from devstack.sandboxes import SANDBOXES
from devstack.sandboxes.faults import KINDS
from devstack.sandboxes.jekimo import JekimoSandbox
from devstack.stack import LocalStack, StackOptions

NAMES = [sandbox.name for sandbox in SANDBOXES]


# -- settings and updates ------------------------------------------------------------------------------------


def test_an_update_changes_only_what_it_names() -> None:
    faults = StackFaults(NAMES)
    faults.apply(FaultSettings(provider_faults=0.3, aws_faults=0.1, seed=7))

    settings = faults.update({"aws_faults": 1.0, "services": ["events"]})

    assert settings == FaultSettings(provider_faults=0.3, aws_faults=1.0, services=("events",), seed=7)
    assert faults.settings == settings


def test_a_seed_restarts_the_generators_and_an_update_without_one_goes_on() -> None:
    faults = StackFaults(NAMES)
    faults.update(provider_faults=0.5, seed=1)
    first = [faults.provider.draw("okid", "details") for _ in range(40)]
    faults.update(provider_faults=0.5)
    goes_on = [faults.provider.draw("okid", "details") for _ in range(40)]

    faults.update(seed=1)

    assert [faults.provider.draw("okid", "details") for _ in range(40)] == first
    assert goes_on != first
    assert faults.state()["counts"]["providers"]["okid"]["calls"] == 40  # counted since the seed


def test_without_a_seed_one_is_chosen_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    faults = StackFaults(NAMES)

    with caplog.at_level(logging.INFO, logger="devstack.faults"):
        settings = faults.apply(FaultSettings(provider_faults=0.3))

    assert isinstance(settings.seed, int)
    assert f"seed {settings.seed}" in caplog.text
    assert isinstance(faults.update(seed=None).seed, int)  # a new one


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"provider_faults": 1.5}, "provider_faults"),
        ({"provider_faults": "0.3"}, "provider_faults must be a number"),
        ({"provider_faults": True}, "provider_faults must be a number"),
        ({"aws_faults": 2}, "aws_faults"),
        ({"services": ["s3"]}, "services"),
        ({"services": None}, "services must be a list"),
        ({"providers": ["acme"]}, "providers"),
        ({"provider_kinds": ["explode"]}, "provider_kinds"),
        ({"provider_kinds": "error"}, "provider_kinds"),
        ({"aws_errors": ["Boom"]}, "aws_errors"),
        ({"hang_seconds": 100}, "seconds"),
        ({"seed": "7"}, "seed"),
        ({"chaos": True}, "unknown settings: chaos"),
    ],
)
def test_a_wrong_update_is_refused_whole(changes: dict[str, Any], message: str) -> None:
    faults = StackFaults(NAMES)
    faults.apply(FaultSettings(seed=3))

    with pytest.raises(ValueError, match=message):
        faults.update({"provider_faults": 1.0, "aws_faults": 1.0, **changes})

    assert faults.settings == FaultSettings(seed=3)
    assert faults.provider.draw("okid", "details") is None
    assert faults.aws.draw("events", "PutEvents") is None


def test_kinds_are_a_list_or_weights_and_providers_a_list_or_null() -> None:
    faults = StackFaults(NAMES)

    listed = faults.update(provider_kinds=["error", "reset"], providers=["jekimo"], seed=1)
    weighed = faults.update(provider_kinds={"hang": 2, "slow": 1}, providers=None)

    assert listed.provider_kinds == {"error": 1.0, "reset": 1.0}
    assert listed.providers == ("jekimo",)
    assert weighed.provider_kinds == {"hang": 2.0, "slow": 1.0}
    assert weighed.providers is None


# -- the flags -----------------------------------------------------------------------------------------------


def test_the_flags_set_the_faults_the_stack_starts_with() -> None:
    options = parse_args(["--provider-faults", "0.3", "--aws-faults", "0.1", "--fault-seed", "7"])
    more = parse_args(
        [
            "--provider-fault-kinds",
            "error,slow",
            "--provider-hang-seconds",
            "0.5",
            "--aws-fault-services",
            "events",
        ]
    )

    assert options.faults == FaultSettings(provider_faults=0.3, aws_faults=0.1, seed=7)
    assert parse_args([]).faults == FaultSettings()
    assert more.faults.provider_kinds == {"error": 1.0, "slow": 1.0}
    assert more.faults.hang_seconds == 0.5
    assert more.faults.services == ("events",)
    assert "provider_faults" not in options.sandbox_arguments


@pytest.mark.parametrize(
    "flags",
    [
        ["--provider-faults", "1.2"],
        ["--aws-faults", "-0.1"],
        ["--aws-fault-services", "s3"],
        ["--provider-fault-kinds", "boom"],
        ["--provider-hang-seconds", "120"],
    ],
)
def test_wrong_flags_stop_the_command(flags: list[str]) -> None:
    with pytest.raises(SystemExit):
        parse_args(flags)


# -- over HTTP -----------------------------------------------------------------------------------------------


@pytest.fixture
def control() -> Client:
    def api(environ: Any, start_response: Any) -> Any:
        return Response("the API")(environ, start_response)

    faults = StackFaults(NAMES)
    faults.apply(FaultSettings(seed=5))
    return Client(FaultControl(api, faults))


def test_get_shows_the_settings_and_counts(control: Client) -> None:
    answer = control.get(CONTROL_PATH)

    assert answer.status_code == 200
    assert answer.json == {
        "settings": {
            "provider_faults": 0.0,
            "providers": None,
            "provider_kinds": dict.fromkeys(KINDS, 1.0),
            "slow_seconds": 1.0,
            "hang_seconds": 9.0,
            "aws_faults": 0.0,
            "services": ["dynamodb", "events", "sesv2"],
            "aws_errors": None,
            "seed": 5,
            "providers_down": [],
        },
        "counts": {"providers": {}, "aws": {}},
    }


def test_post_changes_the_settings_named(control: Client) -> None:
    body = {"provider_faults": 0.3, "aws_faults": 0.1, "services": ["events"], "seed": 7}

    answer = control.post(CONTROL_PATH, json=body)

    assert answer.status_code == 200
    assert {name: answer.json["settings"][name] for name in body} == body  # type: ignore[index]
    assert control.get(CONTROL_PATH).json["settings"]["slow_seconds"] == 1.0  # type: ignore[index]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ('{"provider_faults": 3}', "provider_faults"),
        ("[]", "JSON object"),
        ("{nope", "not valid JSON"),
        ("", "JSON object"),
    ],
)
def test_a_wrong_post_is_a_400_and_changes_nothing(control: Client, data: str, message: str) -> None:
    answer = control.post(CONTROL_PATH, data=data, content_type="application/json")

    assert answer.status_code == 400
    assert message in answer.json["message"]  # type: ignore[index]
    assert control.get(CONTROL_PATH).json["settings"]["provider_faults"] == 0.0  # type: ignore[index]


def test_other_methods_are_refused_and_other_paths_are_the_apis(control: Client) -> None:
    assert control.put(CONTROL_PATH).status_code == 405
    assert control.get("/v1/health").data == b"the API"
    assert control.get(CONTROL_PATH + "/more").data == b"the API"


# -- in a running stack --------------------------------------------------------------------------------------

TEMPLATE = """
Resources:
  ItemsTable:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
      KeySchema: [{AttributeName: id, KeyType: HASH}]
  HttpApi:
    Type: AWS::Serverless::HttpApi
  ItemsFunction:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      CodeUri: fns/items
      Handler: app.handler
      Environment: {Variables: {TABLE: !Ref ItemsTable}}
      Events:
        Items: {Type: HttpApi, Properties: {ApiId: !Ref HttpApi, Path: /v1/items, Method: GET}}
"""
ITEMS_APP = """
import json, os, boto3
def handler(event, context):
    items = boto3.client("dynamodb").scan(TableName=os.environ["TABLE"])["Items"]
    return {"statusCode": 200, "body": json.dumps({"count": len(items)})}
"""


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[LocalStack]:
    (tmp_path / "fns/items").mkdir(parents=True)
    (tmp_path / "fns/items/app.py").write_text(textwrap.dedent(ITEMS_APP))
    (tmp_path / "template.yaml").write_text(textwrap.dedent(TEMPLATE))
    # Faults from the start: every DynamoDB call and every provider API call (provisioning goes through).
    faults = FaultSettings(
        provider_faults=1.0,
        provider_kinds={"error": 1.0},
        aws_faults=1.0,
        services=("dynamodb",),
        aws_errors=("InternalServerError",),  # retried at once, not after a throttling back-off
        seed=1,
    )
    options = StackOptions(
        port=0,
        aws_port=0,
        sandbox_ports=dict.fromkeys(NAMES, 0),
        template=tmp_path / "template.yaml",
        print_mail=False,
        faults=faults,
    )
    with LocalStack(options) as stack:
        yield stack


def test_faults_given_at_start_hold_once_it_is_up_and_a_post_changes_them(stack: LocalStack) -> None:
    assert stack.urls is not None
    api, jekimo = stack.urls.api, stack.urls.providers["jekimo"]
    headers = {"x-api-key": JekimoSandbox.DEV_API_KEY}

    def gettoken() -> int:
        return requests.post(f"{jekimo}/auth/gettoken", headers=headers, timeout=5).status_code

    def items() -> int:
        return requests.get(f"{api}/v1/items", timeout=10).status_code

    faulted = (gettoken(), items())
    page = requests.get(f"{jekimo}/en/user/login/unknown", timeout=5).status_code
    healed = requests.post(f"{api}{CONTROL_PATH}", json={"provider_faults": 0, "aws_faults": 0.0}, timeout=5)
    state = requests.get(f"{api}{CONTROL_PATH}", timeout=5).json()

    assert faulted[0] >= 500
    assert faulted[1] == 500  # the function failed after botocore's retries
    assert page == 404  # the user's page is never faulted
    assert healed.status_code == 200
    assert (gettoken(), items()) == (200, 200)
    assert state["counts"]["providers"] == {"jekimo": {"calls": 1, "error": 1}}
    assert state["counts"]["aws"]["dynamodb"]["InternalServerError"] == 4  # DynamoDB's 4 attempts


def test_from_python_the_same_changes_take_effect(stack: LocalStack) -> None:
    assert stack.urls is not None
    okid = stack.urls.providers["okid"]

    stack.faults.update(provider_faults=0.0)
    calm = requests.post(f"{okid}/api/generate-verification", timeout=5).status_code
    stack.faults.update(provider_faults=1.0, provider_kinds=["reset"], providers=["okid"])

    assert calm == 401  # no key: the sandbox answered
    with pytest.raises(requests.ConnectionError):
        requests.post(f"{okid}/api/generate-verification", timeout=5)
    assert json.loads(json.dumps(stack.faults.state()))["settings"]["providers"] == ["okid"]
