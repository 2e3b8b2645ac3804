"""The whole local stack, on a tiny application of its own (the real handlers are not needed here)."""

from __future__ import annotations

import json
import os
import textwrap
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devstack.__main__ import parse_args
from devstack.lambdas import DEFAULT_CONCURRENCY
from devstack.sandboxes import SANDBOXES
from devstack.stack import DEV_KEYS, LocalStack, StackOptions
from tests.e2e.stack import running_stack

FREE = {sandbox.name: 0 for sandbox in SANDBOXES}

TEMPLATE = """
Parameters:
  PollIntervalSeconds: {Type: Number, Default: 5}
  PublicApiUrl: {Type: String, Default: ""}
Globals:
  Function:
    Runtime: python3.12
    Environment:
      Variables:
        KEYS_TABLE: !Ref KeysTable
        POLL_INTERVAL_SECONDS: !Ref PollIntervalSeconds
        PUBLIC_API_URL: !Ref PublicApiUrl
        PROVIDER_SECRET_PREFIX: !Sub "${AWS::StackName}/providers/"
Resources:
  KeysTable:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: key_hash, AttributeType: S}]
      KeySchema: [{AttributeName: key_hash, KeyType: HASH}]
  JekimoSecret:
    Type: AWS::SecretsManager::Secret
    Properties:
      Name: !Sub "${AWS::StackName}/providers/jekimo"
      SecretString: '{"api_key": "REPLACE_ME"}'
  HttpApi:
    Type: AWS::Serverless::HttpApi
  KeysFunction:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: fns/keys, Handler: app.handler}
  ApiFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fns/api
      Handler: app.handler
      Environment:
        Variables:
          SECRET_ID: !Ref JekimoSecret
      Events:
        Health: {Type: HttpApi, Properties: {ApiId: !Ref HttpApi, Path: /v1/health, Method: GET}}
        Keys: {Type: HttpApi, Properties: {ApiId: !Ref HttpApi, Path: /v1/keys, Method: GET}}
"""

KEYS_APP = """
import os, boto3
def handler(event, context):
    boto3.client("dynamodb").put_item(TableName=os.environ["KEYS_TABLE"], Item={
        "key_hash": {"S": event["key"]}, "client_id": {"S": event["client_id"]}})
    return {"ok": True}
"""

API_APP = """
import json, os, boto3
def handler(event, context):
    if event["rawPath"] == "/v1/health":
        return {"statusCode": 200, "body": "{}"}
    items = boto3.client("dynamodb").scan(TableName=os.environ["KEYS_TABLE"])["Items"]
    secret = boto3.client("secretsmanager").get_secret_value(SecretId=os.environ["SECRET_ID"])["SecretString"]
    names = ("POLL_INTERVAL_SECONDS", "PIN_TTL_SECONDS", "JEKIMO_BASE_URL", "JEKIMO_TOKEN_TTL_SECONDS",
             "OKID_BASE_URL", "PUBLIC_API_URL")
    env = {k: os.environ.get(k) for k in names}
    return {"keys": sorted(i["key_hash"]["S"] for i in items), "secret": json.loads(secret), "env": env}
"""


@pytest.fixture
def app_template(tmp_path: Path) -> Path:
    for path, text in {
        "template.yaml": TEMPLATE,
        "fns/keys/app.py": KEYS_APP,
        "fns/api/app.py": API_APP,
    }.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(textwrap.dedent(text))
    return tmp_path / "template.yaml"


@pytest.fixture
def stack(app_template: Path) -> Iterator[LocalStack]:
    options = StackOptions(
        port=0,
        aws_port=0,
        sandbox_ports=FREE,
        sandbox_arguments={"jekimo_token_ttl": 9},
        poll_interval=2,
        pin_ttl=30,
        template=app_template,
        print_mail=False,
    )
    with LocalStack(options) as stack:
        yield stack


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback
        return json.load(response)


def test_the_stack_serves_the_api_with_handlers_wired_to_local_aws(stack: LocalStack) -> None:
    assert stack.urls is not None

    answer = get_json(f"{stack.urls.api}/v1/keys")

    assert answer["keys"] == sorted(DEV_KEYS.values())  # registered at startup through KeysFunction
    # The Jekimo sandbox's credentials went into the secret named by the provider convention.
    assert answer["secret"] == stack.sandboxes["jekimo"].credentials()
    assert answer["env"]["POLL_INTERVAL_SECONDS"] == "2"
    assert answer["env"]["PIN_TTL_SECONDS"] == "30"
    assert answer["env"]["JEKIMO_BASE_URL"] == stack.urls.providers["jekimo"]
    assert answer["env"]["JEKIMO_TOKEN_TTL_SECONDS"] == "9"  # the client matches its sandbox
    assert answer["env"]["OKID_BASE_URL"] == stack.urls.providers["okid"]
    # The API's public URL here, as a custom domain's on AWS: webhook URLs are built on it.
    assert answer["env"]["PUBLIC_API_URL"] == stack.urls.api


def test_the_stack_uses_free_ports_and_tells_its_urls(stack: LocalStack) -> None:
    assert stack.urls is not None
    providers = stack.urls.providers

    assert set(providers) == {sandbox.name for sandbox in SANDBOXES}
    assert providers["jekimo"].endswith("/app.php/v1.1")
    assert providers["datakeen"].endswith("/backend")
    origins = {stack.urls.api, stack.urls.aws, *(url.split("/", 3)[2] for url in providers.values())}
    assert len(origins) == 2 + len(SANDBOXES)
    assert stack.urls.as_dict()["jekimo"] == providers["jekimo"]  # scripts read the ready line so
    assert stack.urls.web == f"{stack.urls.api}/"
    assert "SessionsTable" not in stack.banner()  # the banner names this template's table
    assert "KeysTable" in stack.banner()


def test_stopping_the_stack_gives_the_environment_back(app_template: Path) -> None:
    before = os.environ.get("AWS_ENDPOINT_URL")
    options = StackOptions(port=0, aws_port=0, sandbox_ports=FREE, template=app_template, print_mail=False)

    with LocalStack(options):
        during = os.environ.get("AWS_ENDPOINT_URL")

    assert during is not None
    assert os.environ.get("AWS_ENDPOINT_URL") == before


def test_the_cli_runs_as_a_subprocess_until_terminated(app_template: Path, tmp_path: Path) -> None:
    options = ("--template", str(app_template), "--poll-interval", "3")

    with running_stack(*options, log_path=tmp_path / "stack.log") as running:
        answer = get_json(f"{running.api}/v1/keys")
        process = running.process

    assert answer["env"]["POLL_INTERVAL_SECONDS"] == "3"
    assert process.returncode == 0  # stopped cleanly on SIGTERM
    assert "stopping" in running.output()


def test_a_stack_that_cannot_start_shows_the_end_of_its_output(tmp_path: Path) -> None:
    starting = running_stack("--template", str(tmp_path / "missing.yaml"), log_path=tmp_path / "stack.log")

    with pytest.raises(RuntimeError, match="exited with 1") as failure, starting:
        pass

    assert "missing.yaml" in str(failure.value)


def test_the_lambda_concurrency_is_a_knob_of_at_least_one() -> None:
    assert parse_args([]).lambda_concurrency == DEFAULT_CONCURRENCY
    assert parse_args(["--lambda-concurrency", "3"]).lambda_concurrency == 3
    with pytest.raises(SystemExit):
        parse_args(["--lambda-concurrency", "0"])


def test_the_webhook_flags_shorten_the_retry_schedule_and_may_leave_insecure_urls_off():
    # make run: http to loopback allowed (the template's AllowInsecureWebhookUrls), the real schedule
    default = parse_args([])
    assert (default.delivery_backoff_scale, default.allow_insecure_webhook_urls) == (1.0, True)
    shortened = parse_args(["--delivery-backoff-scale", "0.01", "--secure-webhook-urls"])
    assert (shortened.delivery_backoff_scale, shortened.allow_insecure_webhook_urls) == (0.01, False)
    for refused in ("0", "2", "-1"):
        with pytest.raises(SystemExit):
            parse_args(["--delivery-backoff-scale", refused])
