"""The file the stack writes for `sam local invoke --env-vars` runs every function against the running stack.

No container runtime here, so no `sam local invoke`: each handler runs in a subprocess, as Lambda loads it
(its folder, then the layer, first on the path), with exactly its section of the file and PATH, on its
events/ sample; what SAM CLI itself would give each function's container with that file is read from SAM
CLI's own code (`.venv-sam`). Together they are what `sam local invoke` does, but for the container.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.e2e.client import Api, act_as_user
from tests.e2e.stack import REPO_ROOT, RunningStack

pytestmark = pytest.mark.e2e

EVENTS = REPO_ROOT / "events"
SAM_PYTHON = REPO_ROOT / ".venv-sam" / "bin" / "python"
#: What the samples leave for the user to fill in.
SAMPLE_POLLED = "ses_example000000000000"
SAMPLE_FINAL = "ses_replace0with0a0final0session"
SAMPLE_TOKEN = "replace-with-the-webhook-token"
SAMPLE_FACEKI_RECORD = "6650a1b2c3d4e5f6a7b8c9d0"
#: How RUN_HANDLER prints the handler's result, among the handler's log lines.
RESULT = "handler returned "
CODE_URI = {
    "ApiFunction": "api", "AuthorizerFunction": "authorizer", "KeysFunction": "keys", "PollFunction": "poll",
    "PublisherFunction": "publisher", "WebhookFunction": "webhook", "WebhookFanoutFunction": "fanout",
    "WebhookDeliveryFunction": "delivery",
}  # fmt: skip

#: What Lambda's Python runtime does with a handler, but for the container: its module on the path, a context.
RUN_HANDLER = """
import json, sys, uuid
function_dir, layer_dir, name = sys.argv[1:4]
sys.path[0:0] = [function_dir, layer_dir]
import app

class Context:
    function_name = name
    function_version = "$LATEST"
    invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
    memory_limit_in_mb = 256
    aws_request_id = str(uuid.uuid4())
    log_group_name = f"/aws/lambda/{name}"
    log_stream_name = "local"
    def get_remaining_time_in_millis(self):
        return 20000

result = app.handler(json.load(sys.stdin), Context())
print("handler returned " + json.dumps(result), flush=True)
"""

#: What `sam local invoke <function> --env-vars <file> --region us-east-1` computes for each function's
#: container, by SAM CLI's own code (samcli.commands.local.lib.local_lambda; pinned in requirements-sam.txt).
SAM_RESOLVES = """
import json, sys
from samcli.commands.local.lib.local_lambda import LocalLambdaRunner
from samcli.lib.providers.sam_function_provider import SamFunctionProvider
from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider

template, env_vars_file = sys.argv[1:3]
region = {"AWS::Region": "us-east-1"}
stacks, _ = SamLocalStackProvider.get_stacks(template, global_parameter_overrides=region)
provider = SamFunctionProvider(stacks)
with open(env_vars_file) as file:
    values = json.load(file)
runner = LocalLambdaRunner(None, provider, ".", ".", aws_region="us-east-1", env_vars_values=values)
print(json.dumps({f.name: runner._make_env_vars(f).resolve() for f in provider.get_all()}))
"""


@dataclass
class Invoked:
    result: Any
    lines: list[dict[str, Any]]  # the handler's log lines


@pytest.fixture(scope="module")
def env_vars(stack: RunningStack) -> dict[str, dict[str, str]]:
    assert stack.env_vars_file is not None, "the stack wrote no env vars file"
    sections: dict[str, dict[str, str]] = json.loads(stack.env_vars_file.read_text())
    return sections


def invoke(env_vars: dict[str, dict[str, str]], function: str, event: dict[str, Any]) -> Invoked:
    """Runs the function's handler on the event in a process of its own, with its section of the file only."""
    folder = REPO_ROOT / "functions" / CODE_URI[function]
    layer = REPO_ROOT / "layers" / "idgate"
    done = subprocess.run(
        [sys.executable, "-c", RUN_HANDLER, str(folder), str(layer), function],
        input=json.dumps(event),
        capture_output=True,
        text=True,
        cwd=folder,
        env={**env_vars[function], "PATH": os.environ["PATH"]},
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    [answer] = [line for line in done.stdout.splitlines() if line.startswith(RESULT)]
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith('{"level"')]
    return Invoked(json.loads(answer.removeprefix(RESULT)), lines)


def sample(name: str, **replace: str) -> dict[str, Any]:
    text = (EVENTS / name).read_text()
    for old, new in replace.items():
        text = text.replace(old, new)
    event: dict[str, Any] = json.loads(text)
    return event


def webhook_token(api: Api, provider: str) -> str:
    answer = api.call("GET", f"/v1/providers/{provider}/webhook", key=api.secret_key)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["url"]).rsplit("/", 1)[1]


def test_the_file_gives_every_function_the_local_stack(
    stack: RunningStack, env_vars: dict[str, dict[str, str]]
):
    assert set(env_vars) == set(CODE_URI)
    for section in env_vars.values():
        assert section["AWS_ENDPOINT_URL"] == stack.aws
        assert (section["AWS_REGION"], section["AWS_ACCESS_KEY_ID"]) == ("us-east-1", "devstack")
        assert section["JEKIMO_BASE_URL"] == stack.providers["jekimo"]
        assert section["FACEKI_BASE_URL"] == stack.providers["faceki"]


def test_sam_cli_gives_each_function_every_value_of_the_file(stack: RunningStack, tmp_path: Path):
    if not SAM_PYTHON.exists():
        pytest.skip("SAM CLI is not installed (.venv-sam: make validate installs it)")
    assert stack.env_vars_file is not None
    # Given the shell `sam local invoke` runs in: dummy credentials, as README says
    shell = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "SAM_CLI_TELEMETRY": "0",
             "AWS_ACCESS_KEY_ID": "devstack", "AWS_SECRET_ACCESS_KEY": "devstack"}  # fmt: skip
    # When SAM CLI works out each function's container environment with the file
    done = subprocess.run(
        [str(SAM_PYTHON), "-c", SAM_RESOLVES, str(REPO_ROOT / "template.yaml"), str(stack.env_vars_file)],
        capture_output=True,
        text=True,
        env=shell,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    containers = json.loads(done.stdout)
    # Then each container has every variable of the function's section, with the file's value
    written = json.loads(stack.env_vars_file.read_text())
    assert set(containers) == set(written)
    for function, section in written.items():
        assert {name: containers[function].get(name) for name in section} == section, function


def test_the_api_sample_creates_a_session_in_the_stack(api: Api, env_vars: dict[str, dict[str, str]]):
    event = sample("api-create-session.json")
    invoked = invoke(env_vars, "ApiFunction", event)
    assert invoked.result["statusCode"] == 201, invoked.result
    created = json.loads(invoked.result["body"])
    # The stack serves the session the handler created (its table), followed by its state machine
    session = api.get(created["id"]).json()
    assert (session["provider"], session["reference"], session["status"]) == (
        "jekimo",
        "order-1234",
        "pending",
    )
    # ...and every line of the handler names the API request, the session once it exists
    assert invoked.lines
    assert {line.get("correlation_id") for line in invoked.lines} == {event["requestContext"]["requestId"]}
    [line] = [line for line in invoked.lines if line["message"] == "session created"]
    assert line["session_id"] == created["id"]


def test_the_authorizer_sample_is_authorized_by_the_stacks_dev_key(env_vars: dict[str, dict[str, str]]):
    invoked = invoke(env_vars, "AuthorizerFunction", sample("authorizer-request.json"))
    assert invoked.result == {"isAuthorized": True, "context": {"kind": "secret", "client_id": "local-dev"}}


def test_the_keys_sample_makes_a_key_the_stack_accepts(api: Api, env_vars: dict[str, dict[str, str]]):
    invoked = invoke(env_vars, "KeysFunction", sample("keys-create.json"))
    key = invoked.result["key"]
    assert key.startswith("sk_")
    assert api.call("GET", "/v1/providers", key=key).status_code == 200


def test_the_poll_sample_checks_a_session_of_the_stack(api: Api, env_vars: dict[str, dict[str, str]]):
    created = api.create({"provider": "jekimo"})
    invoked = invoke(env_vars, "PollFunction", sample("poll-check.json", **{SAMPLE_POLLED: created["id"]}))
    # A session it could not read would be done at once; this one was read, and the sandbox asked
    assert (invoked.result["session_id"], invoked.result["done"], invoked.result["attempt"]) == (
        created["id"], False, 1,
    )  # fmt: skip


def test_the_faceki_webhook_sample_reaches_the_session_through_the_sandbox(
    api: Api, env_vars: dict[str, dict[str, str]]
):
    # Given a FACEKI session the user passed, whose webhook FACEKI did not send
    created = api.create({"provider": "faceki"})
    record = act_as_user(created["verification_url"], {"outcome": "accepted", "webhook": False})["requestId"]
    event = sample(
        "webhook-faceki.json", **{SAMPLE_TOKEN: webhook_token(api, "faceki"), SAMPLE_FACEKI_RECORD: record}
    )
    # When the sample is sent with its token and the record: the stack's secret, table, key and sandbox
    invoked = invoke(env_vars, "WebhookFunction", event)
    # Then it is taken (a wrong token or an unknown record is a 404, an unreachable FACEKI a 503)
    assert (invoked.result["statusCode"], json.loads(invoked.result["body"])) == (200, {"received": True})
    api.wait_for_status(created["id"], "approved")


@pytest.fixture(scope="module")
def final_events(stack: RunningStack) -> Any:
    """A queue that receives every final-status event of the stack's bus."""
    local = {"endpoint_url": stack.aws, "region_name": "us-east-1"}
    dummy = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
    sqs, events = (boto3.client(service, **local, **dummy) for service in ("sqs", "events"))
    queue_url = sqs.create_queue(QueueName="sam-env-vars-final-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="sam-env-vars-final", EventPattern=json.dumps({"source": ["idgate"]}))
    events.put_targets(Rule="sam-env-vars-final", Targets=[{"Id": "queue", "Arn": arn}])
    return sqs, queue_url


def events_of(final_events: Any, session_id: str, wait: int) -> int:
    """How many of the session's final-status events arrive within `wait` seconds."""
    sqs, queue_url = final_events
    seen = 0
    for _ in range(wait):
        received = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for message in received.get("Messages", []):
            seen += json.loads(message["Body"])["detail"]["id"] == session_id
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return seen


def test_the_publisher_sample_reads_a_final_session_of_the_stack_and_announces_it_once(
    api: Api, env_vars: dict[str, dict[str, str]], final_events: Any
):
    # Given a session the stack finalized and announced
    created = api.create({"provider": "faceki"})
    act_as_user(created["verification_url"], {"outcome": "accepted"})
    api.wait_for_status(created["id"], "approved")
    assert events_of(final_events, created["id"], wait=3) == 1
    # When the publisher gets the sample's record of it
    invoked = invoke(
        env_vars, "PublisherFunction", sample("publisher-stream.json", **{SAMPLE_FINAL: created["id"]})
    )
    # Then it read the session (a table it could not read would fail the record) and saw it announced
    assert invoked.result == {"batchItemFailures": []}
    assert events_of(final_events, created["id"], wait=2) == 0


def test_the_fanout_and_delivery_samples_reach_the_stacks_webhooks_table_and_queue(
    env_vars: dict[str, dict[str, str]],
):
    # When the fan-out gets the sample's final session (one the stack never saw) of a client with no endpoint
    fanned = invoke(
        env_vars,
        "WebhookFanoutFunction",
        sample(
            "fanout-stream.json",
            **{SAMPLE_FINAL: "ses_sample0for0the0env0vars0file", "replace-with-a-client-id": "env-vars"},
        ),
    )
    # Then it read the stack's webhooks table (a table it could not reach would fail the record)
    assert fanned.result == {"batchItemFailures": []}
    # And the delivery function reads it too: the sample's endpoint does not exist, so the try is dropped
    delivered = invoke(env_vars, "WebhookDeliveryFunction", sample("delivery-sqs.json"))
    assert delivered.result == {"batchItemFailures": []}
