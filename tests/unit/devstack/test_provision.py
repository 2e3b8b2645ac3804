"""Provisioning creates the template's resources as the template describes them; sent mail is readable."""

from __future__ import annotations

import json
from email.message import EmailMessage

import pytest

from devstack.aws import LocalAws
from devstack.mail import MailPrinter, sent_messages
from devstack.provision import Provisioned, generated_secret, provision, table_request
from devstack.template import DEFAULT_TEMPLATE, Table, Template, load_template


@pytest.fixture(scope="module")
def template() -> Template:
    return load_template(DEFAULT_TEMPLATE)


@pytest.fixture
def provisioned(local_aws: LocalAws, template: Template) -> Provisioned:
    return provision(template, local_aws.url)


def test_tables_are_created_exactly_as_the_template_describes_them(
    local_aws: LocalAws, template: Template, provisioned: Provisioned
) -> None:
    dynamodb = local_aws.client("dynamodb")
    assert set(provisioned.tables) == set(template.tables())
    for table in template.tables().values():
        props = table.properties
        described = dynamodb.describe_table(TableName=provisioned.tables[table.logical_id])["Table"]
        assert described["KeySchema"] == props["KeySchema"]
        assert sorted(described["AttributeDefinitions"], key=str) == sorted(
            props["AttributeDefinitions"], key=str
        )
        assert described["BillingModeSummary"]["BillingMode"] == props["BillingMode"]
        indexes = {i["IndexName"]: i for i in described.get("GlobalSecondaryIndexes", [])}
        for index in props.get("GlobalSecondaryIndexes", []):
            assert indexes[index["IndexName"]]["KeySchema"] == index["KeySchema"]
            assert indexes[index["IndexName"]]["Projection"] == index["Projection"]
        ttl = dynamodb.describe_time_to_live(TableName=table.name)["TimeToLiveDescription"]
        if "TimeToLiveSpecification" in props:
            assert ttl == {
                "TimeToLiveStatus": "ENABLED",
                "AttributeName": props["TimeToLiveSpecification"]["AttributeName"],
            }
        else:
            assert ttl["TimeToLiveStatus"] == "DISABLED"


def test_cloudformation_only_table_properties_are_translated_for_create_table() -> None:
    table = Table(
        "T",
        "t",
        {
            "KeySchema": [{"AttributeName": "k", "KeyType": "HASH"}],
            "SSESpecification": {"SSEEnabled": True},
            "StreamSpecification": {"StreamViewType": "NEW_IMAGE"},
            "TimeToLiveSpecification": {"AttributeName": "ttl", "Enabled": True},
        },
    )

    request = table_request(table)

    assert request == {
        "TableName": "t",
        "KeySchema": [{"AttributeName": "k", "KeyType": "HASH"}],
        "SSESpecification": {"Enabled": True},
        "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    }


def test_secrets_hold_the_template_value_unless_overridden(local_aws: LocalAws, template: Template) -> None:
    secrets = template.secrets()
    lid = next(iter(secrets))
    client = local_aws.client("secretsmanager")

    first = provision(template, local_aws.url)
    from_template = client.get_secret_value(SecretId=first.secrets[lid])["SecretString"]
    second = provision(template, local_aws.url, secret_values={lid: '{"api_key": "local"}'})
    overridden = client.get_secret_value(SecretId=second.secrets[lid])["SecretString"]

    assert from_template == secrets[lid].secret_string
    assert overridden == '{"api_key": "local"}'
    assert second.refs[lid] == first.secrets[lid]  # the real ARN (random suffix) for the resolver


def test_generated_secrets_follow_their_specification() -> None:
    spec = {"SecretStringTemplate": '{"user": "u"}', "GenerateStringKey": "token", "PasswordLength": 48,
            "ExcludePunctuation": True}  # fmt: skip

    first, second = json.loads(generated_secret(spec)), json.loads(generated_secret(spec))

    assert first["user"] == "u"
    assert len(first["token"]) == 48
    assert first["token"].isalnum()
    assert first["token"] != second["token"]
    assert len(generated_secret({"ExcludeNumbers": True, "PasswordLength": 8}).strip("0123456789")) == 8


def test_state_machines_get_their_substitutions_resolved(
    local_aws: LocalAws, template: Template, provisioned: Provisioned
) -> None:
    sfn = local_aws.client("stepfunctions")
    for lid, arn in provisioned.state_machines.items():
        definition = sfn.describe_state_machine(stateMachineArn=arn)["definition"]
        assert "${" not in definition
        assert definition == template.state_machines()[lid].definition
        assert arn == template.resolver().arn(lid)


def test_the_sender_identity_is_verified_and_sent_mail_is_readable(
    local_aws: LocalAws, template: Template, provisioned: Provisioned
) -> None:
    sender = next(iter(provisioned.email_identities.values()))
    local_aws.client("sesv2").send_email(
        FromEmailAddress=sender,
        Destination={"ToAddresses": ["ana@example.com"]},
        Content={"Simple": {"Subject": {"Data": "Your code"}, "Body": {"Text": {"Data": "PIN 123456"}}}},
    )
    raw = EmailMessage()
    raw["From"], raw["To"], raw["Subject"] = sender, "bo@example.com", "Raw one"
    raw.set_content("PIN 654321")
    local_aws.client("ses").send_raw_email(RawMessage={"Data": raw.as_bytes()})

    mails = sent_messages()

    assert [(m.sender, m.to, m.subject, m.body.strip()) for m in mails] == [
        (sender, ("ana@example.com",), "Your code", "PIN 123456"),
        (sender, ("bo@example.com",), "Raw one", "PIN 654321"),
    ]


def test_the_mail_printer_prints_each_message_once(local_aws: LocalAws, provisioned: Provisioned) -> None:
    sender = next(iter(provisioned.email_identities.values()))
    printed: list[str] = []
    printer = MailPrinter(output=printed.append)
    local_aws.client("ses").send_email(
        Source=sender,
        Destination={"ToAddresses": ["ana@example.com"]},
        Message={"Subject": {"Data": "Hello"}, "Body": {"Text": {"Data": "PIN 111222"}}},
    )

    printer.check()
    printer.check()

    assert len(printed) == 1
    assert "To: ana@example.com" in printed[0]
    assert "Subject: Hello" in printed[0]
    assert "PIN 111222" in printed[0]


def test_provisioning_twice_keeps_the_resources(local_aws: LocalAws, template: Template) -> None:
    first = provision(template, local_aws.url)
    second = provision(template, local_aws.url)

    assert second.refs == first.refs
    assert sorted(local_aws.client("dynamodb").list_tables()["TableNames"]) == sorted(first.tables.values())


def test_kms_keys_are_created_once_and_their_arn_reaches_the_functions(
    local_aws: LocalAws, template: Template
) -> None:
    first = provision(template, local_aws.url)
    second = provision(template, local_aws.url)
    assert set(first.kms_keys) == set(template.kms_keys()) == {"EncryptionKey"}
    assert second.kms_keys == first.kms_keys
    kms = local_aws.client("kms")
    arn = first.kms_keys["EncryptionKey"]
    assert kms.describe_key(KeyId=arn)["KeyMetadata"]["Description"].startswith("idgate")
    sealed = kms.encrypt(KeyId=arn, Plaintext=b"x")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=sealed)["Plaintext"] == b"x"
    functions = template.functions(template.resolver().with_refs(first.refs))
    assert {function.environment["ENCRYPTION_KEY_ID"] for function in functions.values()} == {arn}
