"""Chaos in the local AWS: a seeded share of the DynamoDB, EventBridge and SES v2 calls are answered with
those services' own throttling and service errors, which botocore reads (and retries) as it would AWS's."""

from __future__ import annotations

import json
import types
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.endpoint
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from devstack.aws import LocalAws
from devstack.aws_faults import AWS_ERRORS, SERVICES, AwsError, AwsFaults, classify
from devstack.template import LOCAL_REGION

EVERY_ERROR = [(service, error) for service, errors in AWS_ERRORS.items() for error in errors]
TABLE = "Sessions"
SENDER = "idgate@example.com"


def error_id(case: tuple[str, AwsError]) -> str:
    service, error = case
    return f"{service}-{error.code}{'-entries' if error.entries else ''}"


@pytest.fixture
def aws(local_aws: LocalAws) -> Iterator[LocalAws]:
    """The endpoint with a table and a verified sender, its faults off again afterwards (it is shared)."""
    local_aws.client("dynamodb").create_table(
        TableName=TABLE,
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    local_aws.client("sesv2").create_email_identity(EmailIdentity=SENDER)
    local_aws.faults.configure(0.0, seed=0)  # and no counts
    yield local_aws
    local_aws.faults.configure(0.0, seed=0)


def client(aws: LocalAws, service: str, attempts: int = 1) -> Any:
    """A client of the local endpoint; with 1 attempt botocore shows each error instead of retrying it."""
    return boto3.client(
        service,
        endpoint_url=aws.url,
        region_name=LOCAL_REGION,
        aws_access_key_id="devstack",
        aws_secret_access_key="devstack",
        config=Config(retries={"mode": "standard", "total_max_attempts": attempts}),
    )


def call(aws: LocalAws, service: str, attempts: int = 1) -> dict[str, Any]:
    """The call idgate makes of ``service``: a conditional write, a final-status event, a PIN email."""
    api = client(aws, service, attempts)
    if service == "dynamodb":
        answer: dict[str, Any] = api.put_item(TableName=TABLE, Item={"id": {"S": "s1"}})
    elif service == "events":
        entry = {"Source": "idgate", "DetailType": "Session Finalized", "Detail": json.dumps({"id": "s1"})}
        answer = api.put_events(Entries=[entry, entry])
    else:
        content = {"Simple": {"Subject": {"Data": "PIN"}, "Body": {"Text": {"Data": "123456"}}}}
        answer = api.send_email(
            FromEmailAddress=SENDER, Destination={"ToAddresses": ["user@example.com"]}, Content=content
        )
    return answer


# -- the answers, as botocore reads them ---------------------------------------------------------------------


@pytest.mark.parametrize("case", EVERY_ERROR, ids=error_id)
def test_each_fault_parses_in_botocore_as_the_services_own_error(
    aws: LocalAws, case: tuple[str, AwsError]
) -> None:
    service, error = case
    aws.faults.configure(1.0, services=[service], codes=[error.code], seed=1)

    if error.entries:
        answer = call(aws, service)
        assert answer["FailedEntryCount"] == 2
        assert answer["Entries"] == [{"ErrorCode": error.code, "ErrorMessage": error.message}] * 2
        return
    with pytest.raises(ClientError) as failure:
        call(aws, service)

    assert failure.value.response["Error"]["Code"] == error.code
    assert failure.value.response["Error"]["Message"] == error.message
    assert failure.value.response["ResponseMetadata"]["HTTPStatusCode"] == error.status
    assert failure.value.response["ResponseMetadata"]["RequestId"]


@pytest.mark.parametrize("case", [case for case in EVERY_ERROR if not case[1].entries], ids=error_id)
def test_botocore_retries_every_error_answer(
    aws: LocalAws, case: tuple[str, AwsError], monkeypatch: pytest.MonkeyPatch
) -> None:
    service, error = case
    delays: list[float] = []
    monkeypatch.setattr(botocore.endpoint, "time", types.SimpleNamespace(sleep=delays.append))
    aws.faults.configure(1.0, services=[service], codes=[error.code], seed=1)

    with pytest.raises(ClientError) as failure:
        call(aws, service, attempts=3)

    assert failure.value.response["ResponseMetadata"]["RetryAttempts"] == 2
    assert len(delays) == 2


def test_at_a_small_share_botocores_retries_hide_most_faults(
    aws: LocalAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(botocore.endpoint, "time", types.SimpleNamespace(sleep=lambda seconds: None))
    aws.faults.configure(0.2, services=["dynamodb"], seed=3)

    answers = [call(aws, "dynamodb", attempts=4) for _ in range(30)]  # DynamoDB's default: 4 attempts

    retried = [answer["ResponseMetadata"]["RetryAttempts"] for answer in answers]
    assert any(retried)  # some were late, none failed
    assert aws.faults.counts()["dynamodb"]["calls"] == 30 + sum(retried)


def test_entry_failures_come_only_on_put_events(aws: LocalAws) -> None:
    aws.faults.configure(1.0, services=["events"], codes=["InternalFailure"], seed=1)

    rules = client(aws, "events").list_rules()  # not PutEvents: no entry failure to give, so none

    assert rules["Rules"] == []
    assert call(aws, "events")["FailedEntryCount"] == 2


# -- how many, where, and when -------------------------------------------------------------------------------


def test_the_share_of_faulted_calls_is_kept_over_the_wire(aws: LocalAws) -> None:
    aws.faults.configure(0.25, services=["dynamodb"], seed=7)
    dynamodb = client(aws, "dynamodb")

    failed = 0
    for _ in range(200):
        try:
            dynamodb.get_item(TableName=TABLE, Key={"id": {"S": "s1"}})
        except ClientError:
            failed += 1

    assert 30 <= failed <= 70
    assert sum(aws.faults.counts()["dynamodb"].values()) == 200 + failed


@pytest.mark.parametrize("share", [0.1, 0.5])
def test_the_share_is_kept_and_a_seed_repeats_the_same_errors(share: float) -> None:
    def run(seed: int) -> list[AwsError | None]:
        faults = AwsFaults()
        faults.configure(share, seed=seed)
        return [faults.draw("dynamodb", "UpdateItem") for _ in range(3000)]

    first = run(5)

    assert abs(sum(error is not None for error in first) / 3000 - share) < 0.03
    assert run(5) == first
    assert run(6) != first
    assert {error.code for error in first if error} == {error.code for error in AWS_ERRORS["dynamodb"]}


def test_only_the_services_named_fail_and_taking_one_down_and_back_takes_effect(aws: LocalAws) -> None:
    aws.faults.configure(1.0, services=["events"], seed=1)

    assert call(aws, "dynamodb")["ResponseMetadata"]["HTTPStatusCode"] == 200
    with pytest.raises(ClientError):
        client(aws, "events").list_rules()
    aws.faults.configure(0.0)

    assert call(aws, "events")["FailedEntryCount"] == 0


def test_lambda_step_functions_secrets_kms_streams_and_motos_api_are_never_faulted(aws: LocalAws) -> None:
    aws.lambdas.register("Echo", lambda event, context: event)
    aws.faults.configure(1.0, seed=1)

    invoked = aws.client("lambda").invoke(FunctionName="Echo", Payload=b'{"a": 1}')
    aws.client("stepfunctions").list_state_machines()
    aws.client("secretsmanager").create_secret(Name="providers/jekimo", SecretString="{}")
    aws.client("kms").create_key()
    aws.client("dynamodbstreams").list_streams()
    moto_api = requests.get(f"{aws.url}/moto-api/data.json", timeout=5)

    assert json.load(invoked["Payload"]) == {"a": 1}
    assert moto_api.status_code == 200
    assert aws.faults.counts() == {}


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"share": 2.0}, "aws_faults"),
        ({"share": 0.5, "services": ["s3"]}, "services"),
        ({"share": 0.5, "codes": ["Boom"]}, "aws_errors"),
    ],
)
def test_wrong_settings_are_refused(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        AwsFaults().configure(**settings)


# -- which calls are AWS's -----------------------------------------------------------------------------------


SIGNED_SES = "AWS4-HMAC-SHA256 Credential=devstack/20261123/us-east-1/ses/aws4_request, SignedHeaders=host"


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"HTTP_X_AMZ_TARGET": "DynamoDB_20120810.UpdateItem"}, ("dynamodb", "UpdateItem")),
        ({"HTTP_X_AMZ_TARGET": "AWSEvents.PutEvents"}, ("events", "PutEvents")),
        (
            {
                "HTTP_AUTHORIZATION": SIGNED_SES,
                "PATH_INFO": "/v2/email/outbound-emails",
                "REQUEST_METHOD": "POST",
            },
            ("sesv2", "SendEmail"),
        ),
        ({"HTTP_X_AMZ_TARGET": "DynamoDB_20120810.Get\nItem forged"}, ("dynamodb", "?")),
        ({"HTTP_X_AMZ_TARGET": "DynamoDBStreams_20120810.GetRecords"}, None),
        ({"HTTP_X_AMZ_TARGET": "AWSStepFunctions.StartExecution"}, None),
        ({"HTTP_X_AMZ_TARGET": "secretsmanager.GetSecretValue"}, None),
        ({"PATH_INFO": "/v2/email/outbound-emails", "REQUEST_METHOD": "POST"}, None),  # not signed for SES
        ({"HTTP_AUTHORIZATION": SIGNED_SES, "PATH_INFO": "/", "REQUEST_METHOD": "POST"}, None),  # SES v1
        ({"PATH_INFO": "/moto-api/reset", "REQUEST_METHOD": "POST"}, None),
    ],
)
def test_classify_names_the_calls_that_may_fail(
    environ: dict[str, str], expected: tuple[str, str] | None
) -> None:
    assert classify(environ) == expected
    assert set(SERVICES) == {"dynamodb", "events", "sesv2"}
