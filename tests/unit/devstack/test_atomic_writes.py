"""The local fix of moto: a conditional write of DynamoDB is atomic, as on AWS, so race tests mean
something. Without it, racing one conditional write gave two winners in 2 of 30 rounds."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.dynamodb.models import DynamoDBBackend

from devstack.atomic_writes import READS, WRITES, make_dynamodb_writes_atomic

ROUNDS, RACERS = 30, 8


def test_every_conditional_write_and_item_read_of_the_backend_is_wrapped_once() -> None:
    make_dynamodb_writes_atomic()
    wrapped = {name: getattr(DynamoDBBackend, name) for name in WRITES + READS}
    make_dynamodb_writes_atomic()
    assert {name: getattr(DynamoDBBackend, name) for name in WRITES + READS} == wrapped
    assert {"get_item", "query", "scan"} <= set(READS)
    assert all(getattr(write, "_devstack_atomic", False) for write in wrapped.values())


def test_one_racer_wins_a_conditional_write(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    make_dynamodb_writes_atomic()
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        dynamodb.create_table(
            TableName="race",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        for round_number in range(ROUNDS):
            key = {"pk": {"S": f"item-{round_number}"}}
            dynamodb.put_item(TableName="race", Item={**key, "state": {"S": "open"}})
            barrier = threading.Barrier(RACERS)

            def claim(
                racer: int, key: dict[str, dict[str, str]] = key, barrier: threading.Barrier = barrier
            ) -> bool:
                barrier.wait()
                try:
                    dynamodb.update_item(
                        TableName="race",
                        Key=key,
                        UpdateExpression="SET #s = :won, winner = :racer",
                        ConditionExpression="#s = :open",
                        ExpressionAttributeNames={"#s": "state"},
                        ExpressionAttributeValues={
                            ":won": {"S": "won"},
                            ":open": {"S": "open"},
                            ":racer": {"N": str(racer)},
                        },
                    )
                except ClientError as exc:
                    if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                        raise
                    return False
                return True

            with ThreadPoolExecutor(RACERS) as pool:
                winners = sum(pool.map(claim, range(RACERS)))
            assert winners == 1, f"round {round_number}: {winners} winners"
