"""Creates the template's resources in a local AWS endpoint, from the template itself.

Tests build their tables here too, so they cannot drift from template.yaml. Provisioning twice is harmless:
existing resources are kept (secrets get the new value, state machines the new definition).
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets as random_secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from devstack.aws import local_client
from devstack.template import Resolver, Table, Template

log = logging.getLogger("devstack.provision")

# CreateTable takes these Properties as they are in CloudFormation.
_TABLE_KEYS = (
    "AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "LocalSecondaryIndexes", "BillingMode",
    "ProvisionedThroughput", "TableClass", "DeletionProtectionEnabled", "Tags",
)  # fmt: skip
_EXCLUDE_FLAGS = {
    "ExcludePunctuation": string.punctuation,
    "ExcludeUppercase": string.ascii_uppercase,
    "ExcludeLowercase": string.ascii_lowercase,
    "ExcludeNumbers": string.digits,
}


@dataclass
class Provisioned:
    """Physical names and ARNs, by logical id; `refs` feeds `Resolver.with_refs`."""

    tables: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    state_machines: dict[str, str] = field(default_factory=dict)
    email_identities: dict[str, str] = field(default_factory=dict)
    kms_keys: dict[str, str] = field(default_factory=dict)
    streams: dict[str, str] = field(default_factory=dict)  # a table's stream ARN, by the table's id
    queues: dict[str, str] = field(default_factory=dict)  # a queue's URL (its Ref), by its id

    @property
    def refs(self) -> dict[str, str]:
        return {
            **self.tables,
            **self.secrets,
            **self.state_machines,
            **self.email_identities,
            **self.kms_keys,
            **self.queues,
            **{f"{lid}.StreamArn": arn for lid, arn in self.streams.items()},
        }


def table_request(table: Table) -> dict[str, Any]:
    """CreateTable arguments from a table's template Properties (TTL and PITR are separate calls)."""
    props = table.properties
    request: dict[str, Any] = {"TableName": table.name}
    request.update({key: props[key] for key in _TABLE_KEYS if key in props})
    if "StreamSpecification" in props:
        request["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
    if "SSESpecification" in props:
        sse = props["SSESpecification"]
        request["SSESpecification"] = {"Enabled": bool(sse.get("SSEEnabled", False))}
        request["SSESpecification"].update({k: sse[k] for k in ("SSEType", "KMSMasterKeyId") if k in sse})
    return request


def generated_secret(spec: Mapping[str, Any]) -> str:
    """A value as Secrets Manager generates it from a GenerateSecretString specification."""
    excluded = set(spec.get("ExcludeCharacters", ""))
    for flag, characters in _EXCLUDE_FLAGS.items():
        if spec.get(flag):
            excluded |= set(characters)
    alphabet = [c for c in string.ascii_letters + string.digits + string.punctuation if c not in excluded]
    value = "".join(random_secrets.choice(alphabet) for _ in range(int(spec.get("PasswordLength", 32))))
    if "GenerateStringKey" not in spec:
        return value
    document = json.loads(spec.get("SecretStringTemplate") or "{}")
    return json.dumps({**document, spec["GenerateStringKey"]: value})


def provision(
    template: Template,
    endpoint_url: str,
    resolver: Resolver | None = None,
    secret_values: Mapping[str, str] | None = None,
) -> Provisioned:
    """Creates KMS keys, tables, queues, secrets (values from `secret_values` by logical id, else the
    template's), SES email identities (verified) and state machines, in that order: definitions may refer to
    the others. A key is found again by its alias `alias/devstack/<logical id>`."""
    resolver = resolver or template.resolver()
    done = Provisioned()
    dynamodb = local_client("dynamodb", endpoint_url)
    secretsmanager = local_client("secretsmanager", endpoint_url)
    sesv2 = local_client("sesv2", endpoint_url)
    sfn = local_client("stepfunctions", endpoint_url)
    kms = local_client("kms", endpoint_url)

    for lid, key in template.kms_keys(resolver).items():
        alias = f"alias/devstack/{lid}"
        try:
            done.kms_keys[lid] = kms.describe_key(KeyId=alias)["KeyMetadata"]["Arn"]
        except kms.exceptions.NotFoundException:
            arn = kms.create_key(Description=key.description)["KeyMetadata"]["Arn"]
            kms.create_alias(AliasName=alias, TargetKeyId=arn)
            done.kms_keys[lid] = arn

    for lid, table in template.tables(resolver).items():
        try:
            dynamodb.create_table(**table_request(table))
        except dynamodb.exceptions.ResourceInUseException:
            log.debug("table %s exists", table.name)
        ttl = table.properties.get("TimeToLiveSpecification")
        if ttl:
            dynamodb.update_time_to_live(TableName=table.name, TimeToLiveSpecification=ttl)
        pitr = table.properties.get("PointInTimeRecoverySpecification")
        if pitr:
            dynamodb.update_continuous_backups(TableName=table.name, PointInTimeRecoverySpecification=pitr)
        done.tables[lid] = table.name
        stream = dynamodb.describe_table(TableName=table.name)["Table"].get("LatestStreamArn")
        if stream:
            done.streams[lid] = stream

    sqs = local_client("sqs", endpoint_url)
    # Dead-letter queues first: a redrive policy names its queue, which must exist.
    queues = template.queues(resolver)
    for lid, queue in sorted(queues.items(), key=lambda item: "RedrivePolicy" in item[1].attributes):
        done.queues[lid] = sqs.create_queue(QueueName=queue.name, Attributes=dict(queue.attributes))[
            "QueueUrl"
        ]

    for lid, secret in template.secrets(resolver).items():
        value = (secret_values or {}).get(lid, secret.secret_string) or generated_secret(
            secret.generate or {}
        )
        try:
            created = secretsmanager.create_secret(
                Name=secret.name, SecretString=value, Description=secret.description or ""
            )
            arn = created["ARN"]
        except secretsmanager.exceptions.ResourceExistsException:
            arn = secretsmanager.put_secret_value(SecretId=secret.name, SecretString=value)["ARN"]
        done.secrets[lid] = arn

    for lid, identity in template.email_identities(resolver).items():
        with contextlib.suppress(sesv2.exceptions.AlreadyExistsException):
            sesv2.create_email_identity(EmailIdentity=identity.email)  # moto: verified at once
        done.email_identities[lid] = identity.email

    for lid, machine in template.state_machines(resolver.with_refs(done.refs)).items():
        try:
            created = sfn.create_state_machine(
                name=machine.name, definition=machine.definition, roleArn=machine.role_arn, type=machine.type
            )
            arn = created["stateMachineArn"]
        except sfn.exceptions.StateMachineAlreadyExists:
            arn = machine.arn
            sfn.update_state_machine(stateMachineArn=arn, definition=machine.definition)
        done.state_machines[lid] = arn
    return done
