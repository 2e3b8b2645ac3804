"""Each function's role allows exactly what its code does in AWS, on the resources it uses, and no more.

Three things are held together: the roles in template.yaml, read through the SAM transform (as deployed);
each handler's `AWS_PERMISSIONS` (functions/<role>/app.py); and the AWS calls the layer's code makes, found in
its source (every boto3 call and Powertools secret read, with the table or index each one reaches).
"""

from __future__ import annotations

import ast
import fnmatch
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from functools import cache
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore import xform_name

from devstack.template import REPO_ROOT, Resolver
from idgate.providers.registry import PROVIDERS
from idgate.settings import Settings, variable_of
from tests.support.permissions import declared, function_ids, resolver, template

LAYER = REPO_ROOT / "layers" / "idgate" / "idgate"
#: The boto3 services idgate may call, with their IAM action prefix.
SERVICES = {
    "dynamodb": "dynamodb",
    "kms": "kms",
    "secretsmanager": "secretsmanager",
    "sesv2": "ses",
    "stepfunctions": "states",
    "events": "events",
    "sqs": "sqs",
}
#: Calls that reach AWS through a library's own method name.
LIBRARY_CALLS = {
    "get_secret": "secretsmanager:GetSecretValue",  # aws_lambda_powertools.utilities.parameters
    "get_parameter": "ssm:GetParameter",
    "batch_writer": "dynamodb:BatchWriteItem",  # boto3's DynamoDB Table
}
#: What SAM gives every function (CloudWatch Logs).
BASIC_POLICIES = {"arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"}
#: What the functions' and the state machine's roles get only where the `Tracing` parameter is Active.
TRACING_POLICY = "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess"
#: What SAM adds for a DynamoDB stream event source (reading the stream).
STREAM_READER_POLICY = "arn:aws:iam::aws:policy/service-role/AWSLambdaDynamoDBExecutionRole"
#: What SAM adds for an SQS event source (receiving and deleting the queue's messages).
QUEUE_READER_POLICY = "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole"
#: What Step Functions needs to deliver its logs: AWS accepts no resource but "*" for these.
LOG_DELIVERY = {
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@cache
def tracing_resolver() -> Resolver:
    return template().resolver(parameters={"Tracing": "Active"})


def untraced_resolver() -> Resolver:
    return template().resolver(parameters={"Tracing": "Disabled"})


def role_of(logical_id: str, r: Resolver | None = None) -> Mapping[str, Any]:
    r = r or resolver()
    role = r.properties(logical_id)["Role"]
    return r.properties(role["Fn::GetAtt"][0])


def statements(role: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for policy in role.get("Policies") or []:
        yield from as_list(policy["PolicyDocument"]["Statement"])


def granted(role: Mapping[str, Any]) -> set[tuple[str, str]]:
    """(action, resource ARN) pairs the role's own policies allow, resolved to local values."""
    pairs = set()
    for statement in statements(role):
        assert statement["Effect"] == "Allow"
        assert "NotAction" not in statement
        assert "NotResource" not in statement
        for action in as_list(statement["Action"]):
            for resource in as_list(resolver().resolve(statement["Resource"])):
                pairs.add((action, resource))
    return pairs


def declared_pairs(logical_id: str) -> set[tuple[str, str]]:
    return {
        (action, resolver().resolve({"Fn::Sub": resource}))
        for resource, actions in declared(logical_id).items()
        for action in actions
    }


# ---- the roles against the handlers' lists -----------------------------------------------------------------


@pytest.mark.parametrize("function", function_ids())
def test_each_role_allows_exactly_what_its_handler_declares(function: str) -> None:
    # Given the role the transform made for the function, and the list beside its handler
    role = role_of(function)

    # Then they name the same actions on the same resources
    assert granted(role) == declared_pairs(function)


@pytest.mark.parametrize("function", function_ids())
def test_no_role_allows_a_wildcard_action_or_resource(function: str) -> None:
    for action, resource in granted(role_of(function)):
        assert "*" not in action, (function, action)
        assert resource != "*", (function, action)
        assert not resource.endswith(":*"), (function, action, resource)


@pytest.mark.parametrize("tracing", ["Disabled", "Active"])
def test_the_only_managed_policies_are_logs_stream_and_queue_readers_and_tracing_where_it_is_on(
    tracing: str,
) -> None:
    # Given the template deployed with tracing off (the default) or on
    r = template().resolver(parameters={"Tracing": tracing})
    readers = {source.function for source in template().stream_sources().values()}
    queue_readers = {source.function for source in template().queue_sources().values()}

    # Then each role has log writing, the stream reader's reading, and X-Ray writing only with tracing on
    for function in function_ids():
        expected = BASIC_POLICIES | ({STREAM_READER_POLICY} if function in readers else set())
        expected |= {QUEUE_READER_POLICY} if function in queue_readers else set()
        expected |= {TRACING_POLICY} if tracing == "Active" else set()
        assert set(role_of(function, r)["ManagedPolicyArns"]) == expected, function
    assert readers == {"PublisherFunction", "WebhookFanoutFunction"}
    assert queue_readers == {"WebhookDeliveryFunction"}


def test_email_is_sent_from_the_sender_address_only() -> None:
    senders = [
        s for f in function_ids() for s in statements(role_of(f)) if "ses:SendEmail" in as_list(s["Action"])
    ]
    assert senders, "the poll function sends PINs"
    for statement in senders:
        assert as_list(statement["Action"]) == ["ses:SendEmail"]
        condition = resolver().resolve(statement["Condition"])
        assert condition == {"StringEquals": {"ses:FromAddress": resolver().ref("SenderEmail")}}


def test_the_provider_secrets_a_role_may_read_are_exactly_the_registered_providers() -> None:
    patterns = {
        resource
        for function in function_ids()
        for action, resource in granted(role_of(function))
        if action == "secretsmanager:GetSecretValue" and "*" in resource
    }
    secrets = template().secrets()
    for pattern in patterns:
        matched = {
            s.name.rsplit("/", 1)[1]
            for s in secrets.values()
            if fnmatch.fnmatch(resolver().arn(s.logical_id), pattern)
        }
        assert matched == {provider.name for provider in PROVIDERS}, pattern


@pytest.mark.parametrize(
    ("machine_id", "starts"),
    [("PollStateMachine", set()), ("FastFollowStateMachine", {"PollStateMachine"})],
)
def test_a_state_machine_may_invoke_exactly_the_functions_and_start_the_machines_its_definition_calls(
    machine_id: str, starts: set[str]
) -> None:
    # Given the functions the definition's Lambda tasks call, and the machines its startExecution tasks start
    machine = template().state_machines(resolver())[machine_id]
    called = set(function_arns_in(machine.definition))
    assert called == {resolver().arn("PollFunction")}
    started = set(started_machines_in(machine.definition))
    assert started == {resolver().resolve({"Ref": logical_id}) for logical_id in starts}
    role = resolver().properties(machine.role_arn.rsplit("/", 1)[1])

    # Then its role invokes and starts those ARNs exactly, and has nothing else but log delivery (and
    # tracing, when on)
    pairs = granted(role)
    assert {resource for action, resource in pairs if action == "lambda:InvokeFunction"} == called
    assert {resource for action, resource in pairs if action == "states:StartExecution"} == started
    others = {action for action, _ in pairs} - {"lambda:InvokeFunction", "states:StartExecution"}
    assert others == LOG_DELIVERY
    assert {resource for action, resource in pairs if action in LOG_DELIVERY} == {"*"}
    assert untraced_resolver().resolve(role["ManagedPolicyArns"]) == []
    assert tracing_resolver().resolve(role["ManagedPolicyArns"]) == [TRACING_POLICY]


def tasks_in(definition: str) -> Iterator[Mapping[str, Any]]:
    def walk(node: Any) -> Iterator[Mapping[str, Any]]:
        if isinstance(node, dict):
            if node.get("Type") == "Task":
                yield node
            for value in node.values():
                yield from walk(value)
        elif isinstance(node, list):
            for value in node:
                yield from walk(value)

    yield from walk(json.loads(definition))


def function_arns_in(definition: str) -> Iterator[str]:
    for task in tasks_in(definition):
        if task["Resource"] == "arn:aws:states:::lambda:invoke":
            yield task["Parameters"]["FunctionName"]


def started_machines_in(definition: str) -> Iterator[str]:
    for task in tasks_in(definition):
        if task["Resource"] == "arn:aws:states:::states:startExecution":
            yield task["Parameters"]["StateMachineArn"]


def test_no_provider_takes_webhooks_and_has_a_second_factor() -> None:
    # The webhook function sends no email (AWS_PERMISSIONS): a webhook reaches the PIN email only through a
    # provider that takes webhooks and has a second factor. Adding one means granting ses:SendEmail there.
    both = [
        p.name
        for p in PROVIDERS
        if hasattr(p, "webhook_references") and hasattr(p, "second_factor_requested")
    ]
    assert both == []


# ---- the handlers' lists against the layer's code ----------------------------------------------------------


@dataclass(frozen=True)
class Call:
    module: str
    owner: str  # the class whose method makes it ("" at module level)
    action: str
    index: str | None  # a DynamoDB query's IndexName


@cache
def operations() -> dict[str, set[str]]:
    """boto3 method name → the IAM actions it may be, for the services idgate calls."""
    session = botocore.session.get_session()
    names: dict[str, set[str]] = {}
    for service, prefix in SERVICES.items():
        for operation in session.get_service_model(service).operation_names:
            names.setdefault(xform_name(operation), set()).add(f"{prefix}:{operation}")
    for name, action in LIBRARY_CALLS.items():
        names.setdefault(name, set()).add(action)
    return names


#: Where the table stores get their DynamoDB client (they import no boto3 themselves).
DYNAMODB_CLIENT_MODULE = "idgate.dynamo"


def aws_modules() -> dict[str, ast.Module]:
    """The layer's modules that reach AWS: they import boto3, Powertools' parameters, or idgate.dynamo's
    client."""
    found = {}
    for path in sorted(LAYER.rglob("*.py")):
        tree = ast.parse(path.read_text())
        imported = {
            alias.name if isinstance(node, ast.Import) else f"{node.module}.{alias.name}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Import | ast.ImportFrom)
            for alias in node.names
        }
        if any(
            name.split(".")[0] == "boto3"
            or name.endswith("utilities.parameters")
            or name.startswith(f"{DYNAMODB_CLIENT_MODULE}.")
            for name in imported
        ):
            found[path.relative_to(LAYER.parent).with_suffix("").as_posix().replace("/", ".")] = tree
    return found


@cache
def calls() -> frozenset[Call]:
    found = set()
    for module, tree in aws_modules().items():
        constants = {
            target.id: node.value.value
            for node in tree.body
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
            for target in node.targets
            if isinstance(target, ast.Name)
        }
        owners = [(n.name, n) for n in tree.body if isinstance(n, ast.ClassDef)] + [("", tree)]
        for owner, scope in owners:
            nodes = (
                ast.walk(scope)
                if owner
                else (n for top in tree.body if not isinstance(top, ast.ClassDef) for n in ast.walk(top))
            )
            for node in nodes:
                if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                    continue
                actions = operations().get(node.func.attr)
                if not actions:
                    continue
                assert len(actions) == 1, f"{module}: {node.func.attr}() may be any of {actions}"
                index = next((k.value for k in node.keywords if k.arg == "IndexName"), None)
                index_name = (
                    constants.get(index.id) if isinstance(index, ast.Name) else getattr(index, "value", None)
                )
                found.add(Call(module, owner, next(iter(actions)), index_name))
    return frozenset(found)


def tables_of_owners() -> dict[str, str]:
    """Each table-backed class → the table's logical id, as idgate.wiring builds it: from the setting it is
    given (`settings.sessions_table`), that setting's variable, and the template's value for it."""
    variables = template().document["Globals"]["Function"]["Environment"]["Variables"]
    tree = ast.parse((LAYER / "wiring.py").read_text())
    settings_fields = {field.name for field in fields(Settings)}
    owners = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.args:
            first = node.args[0]
            if isinstance(first, ast.Attribute) and first.attr in settings_fields:
                value = variables.get(variable_of(first.attr))
                if isinstance(value, dict) and value.get("Ref") in template().tables():
                    owners[node.func.id] = value["Ref"]
    return owners


def test_the_layers_aws_calls_are_found() -> None:
    # The scan finds what README's layering says: the persistence, secrets and notification modules.
    modules = {call.module for call in calls()}
    assert modules == {
        "idgate.store",
        "idgate.session_table",
        "idgate.keystore",
        "idgate.idempotency",
        "idgate.shared_token",
        "idgate.breaker",
        "idgate.routing_policy",
        "idgate.notify",
        "idgate.secrets",
        "idgate.hooks.store",
        "idgate.hooks.sealing",
        "idgate.hooks.queue",
    }
    assert Call("idgate.store", "SessionStore", "dynamodb:Query", "by_provider_ref") in calls()
    assert Call("idgate.notify", "Mailer", "ses:SendEmail", None) in calls()


def test_every_table_action_granted_is_a_call_the_code_makes_and_every_call_is_granted() -> None:
    # Given the table (or index) each of the layer's DynamoDB calls reaches
    owners = tables_of_owners()
    made = set()
    for call in calls():
        if call.action.startswith("dynamodb:"):
            table = owners[call.owner]
            made.add((call.action, f"${{{table}.Arn}}" + (f"/index/{call.index}" if call.index else "")))

    # Then the functions' lists together grant exactly those
    listed = {
        (action, resource)
        for function in function_ids()
        for resource, actions in declared(function).items()
        for action in actions
        if action.startswith("dynamodb:")
    }
    assert listed == made


def test_every_other_action_granted_is_a_call_the_code_makes_and_every_call_is_granted() -> None:
    made = {call.action for call in calls() if not call.action.startswith("dynamodb:")}
    listed = {
        action
        for function in function_ids()
        for actions in declared(function).values()
        for action in actions
        if not action.startswith("dynamodb:")
    }
    assert listed == made


def test_the_lists_name_resources_of_the_template() -> None:
    known = set(template().document["Resources"])
    for function in function_ids():
        for resource in declared(function):
            for reference in _references(resource):
                assert reference.split(".")[0] in known or reference.startswith("AWS::"), (
                    function,
                    reference,
                )


def _references(text: str) -> list[str]:
    return re.findall(r"\$\{([^}!]+)\}", text)


def test_the_handlers_source_is_where_the_test_reads_it() -> None:
    for function in function_ids():
        assert Path(template().functions()[function].code_uri, "app.py").is_file()
