"""CloudFormation as the local stack reads it: short-tag YAML, and intrinsics evaluated to local values.

The SAM transform (devstack.template) turns template.yaml into plain CloudFormation; what no library does
for a stack that is never deployed is here. Local physical names are the logical ids (or the name property the
template sets), so a table is `SessionsTable` in `aws dynamodb scan`; ARNs are made from them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from devstack.template import Template

LOCAL_REGION = "us-east-1"
LOCAL_ACCOUNT = "123456789012"
LOCAL_STACK_NAME = "idgate-local"

FUNCTION_TYPE = "AWS::Lambda::Function"
LAYER_TYPE = "AWS::Lambda::LayerVersion"
TABLE_TYPE = "AWS::DynamoDB::Table"
SECRET_TYPE = "AWS::SecretsManager::Secret"  # noqa: S105 - a resource type
STATE_MACHINE_TYPE = "AWS::StepFunctions::StateMachine"
EMAIL_IDENTITY_TYPE = "AWS::SES::EmailIdentity"
ROLE_TYPE = "AWS::IAM::Role"
KMS_KEY_TYPE = "AWS::KMS::Key"
EVENT_SOURCE_MAPPING_TYPE = "AWS::Lambda::EventSourceMapping"
QUEUE_TYPE = "AWS::SQS::Queue"

_SHORT_TAGS = (
    "Ref", "Condition", "GetAtt", "Sub", "Join", "Select", "Split", "If", "Equals", "Not", "And", "Or",
    "FindInMap", "GetAZs", "ImportValue", "Base64", "Cidr", "Transform", "Length", "ToJsonString",
)  # fmt: skip


class CfnLoader(yaml.SafeLoader):
    """SafeLoader reading `!Ref X`, `!GetAtt X.Y`, `!Sub s`... as their JSON forms `{"Ref": "X"}`, ..."""


def _construct_intrinsic(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
    tag = node.tag[1:]
    key = tag if tag in ("Ref", "Condition") else f"Fn::{tag}"
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if tag == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        assert isinstance(node, yaml.MappingNode)
        value = loader.construct_mapping(node, deep=True)
    return {key: value}


for _tag in _SHORT_TAGS:
    CfnLoader.add_constructor(f"!{_tag}", _construct_intrinsic)


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str
    default: str | None


def param_str(value: Any) -> str | None:
    """A parameter value as CloudFormation receives it: a string (lists comma-separated)."""
    if value is None:
        return None
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return env_string(value)


def env_string(value: Any) -> str:
    """A value as CloudFormation writes it into a string property (environment variables, substitutions)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    raise ValueError(f"{value!r} is not a string value")


_NO_VALUE = object()  # AWS::NoValue: the property disappears
_NAME_PROPERTY = {
    FUNCTION_TYPE: "FunctionName",
    LAYER_TYPE: "LayerName",
    TABLE_TYPE: "TableName",
    SECRET_TYPE: "Name",
    STATE_MACHINE_TYPE: "StateMachineName",
    ROLE_TYPE: "RoleName",
    QUEUE_TYPE: "QueueName",
}
_ARN = {
    FUNCTION_TYPE: "arn:aws:lambda:{region}:{account}:function:{name}",
    LAYER_TYPE: "arn:aws:lambda:{region}:{account}:layer:{name}:1",
    TABLE_TYPE: "arn:aws:dynamodb:{region}:{account}:table/{name}",
    SECRET_TYPE: "arn:aws:secretsmanager:{region}:{account}:secret:{name}",
    STATE_MACHINE_TYPE: "arn:aws:states:{region}:{account}:stateMachine:{name}",
    ROLE_TYPE: "arn:aws:iam::{account}:role/{name}",
    KMS_KEY_TYPE: "arn:aws:kms:{region}:{account}:key/{name}",
    QUEUE_TYPE: "arn:aws:sqs:{region}:{account}:{name}",
}
_REF_IS_ARN = (LAYER_TYPE, SECRET_TYPE, STATE_MACHINE_TYPE)
_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")


class Resolver:
    """Local values of the template translated with these parameter values.

    `refs` overrides the `Ref` of resources whose value is only known once they exist (a secret's ARN ends
    with a random suffix).
    """

    def __init__(
        self,
        template: Template,
        parameters: Mapping[str, Any] | None = None,
        refs: Mapping[str, str] | None = None,
        region: str = LOCAL_REGION,
        account: str = LOCAL_ACCOUNT,
        stack_name: str = LOCAL_STACK_NAME,
    ) -> None:
        unknown = set(parameters or {}) - set(template.parameters)
        if unknown:
            raise ValueError(f"unknown template parameters: {sorted(unknown)}")
        self.template = template
        self.parameters = {name: p.default for name, p in template.parameters.items()}
        self.parameters.update({k: param_str(v) for k, v in (parameters or {}).items()})
        self.refs = dict(refs or {})
        self.region, self.account, self.stack_name = region, account, stack_name
        self.pseudo_parameters = {
            "AWS::Region": region,
            "AWS::AccountId": account,
            "AWS::StackName": stack_name,
            "AWS::StackId": f"arn:aws:cloudformation:{region}:{account}:stack/{stack_name}/1",
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }
        # The transform sees the same values: it resolves a few properties itself (CORS, policy templates).
        given = {name: value for name, value in self.parameters.items() if value is not None}
        self.cfn = template.translated({**given, **self.pseudo_parameters})
        self.resources: Mapping[str, Mapping[str, Any]] = self.cfn.get("Resources") or {}
        self.conditions: Mapping[str, Any] = self.cfn.get("Conditions") or {}

    def with_refs(self, refs: Mapping[str, str]) -> Resolver:
        merged = {**self.refs, **refs}
        return Resolver(self.template, self.parameters, merged, self.region, self.account, self.stack_name)

    # -- resources of the translated template --

    def resource_type(self, logical_id: str) -> str:
        if logical_id not in self.resources:
            raise KeyError(f"no resource {logical_id!r} in the template")
        return str(self.resources[logical_id]["Type"])

    def logical_ids(self, *types: str) -> list[str]:
        return [lid for lid, res in self.resources.items() if res.get("Type") in types]

    def properties(self, logical_id: str) -> Mapping[str, Any]:
        return self.resources[logical_id].get("Properties") or {}

    def physical_name(self, logical_id: str) -> str:
        prop = _NAME_PROPERTY.get(self.resource_type(logical_id))
        name = self.properties(logical_id).get(prop) if prop else None
        return str(self.resolve(name)) if name is not None else logical_id

    def arn(self, logical_id: str) -> str:
        rtype = self.resource_type(logical_id)
        # A secret's and a key's ARNs hold random parts: known once they exist (locally, a key's Ref is
        # its ARN too, which every KMS call accepts as a key id).
        if rtype in (SECRET_TYPE, KMS_KEY_TYPE) and logical_id in self.refs:
            return self.refs[logical_id]
        if rtype not in _ARN:
            raise ValueError(f"no local ARN for {logical_id} ({rtype})")
        name = self.physical_name(logical_id)
        return _ARN[rtype].format(region=self.region, account=self.account, name=name)

    def ref(self, name: str) -> Any:
        if name in self.parameters:
            value = self.parameters[name]
            if value is None:
                raise ValueError(f"parameter {name} has no default and no value")
            ptype = self.template.parameters[name].type
            return value.split(",") if ptype == "CommaDelimitedList" or ptype.startswith("List<") else value
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in self.pseudo_parameters:
            return self.pseudo_parameters[name]
        if name in self.refs:
            return self.refs[name]
        rtype = self.resource_type(name)
        if rtype in _REF_IS_ARN:
            return self.arn(name)
        if rtype == EMAIL_IDENTITY_TYPE:
            return self.resolve(self.properties(name)["EmailIdentity"])
        return self.physical_name(name)

    def get_att(self, logical_id: str, attribute: str) -> str:
        if attribute == "Arn":
            return self.arn(logical_id)
        if attribute == "StreamArn" and self.resource_type(logical_id) == TABLE_TYPE:
            # Known once the table exists (it names the stream's creation time).
            known = self.refs.get(f"{logical_id}.StreamArn")
            return known or f"{self.arn(logical_id)}/stream/local"
        if attribute == "Name" or (attribute == "QueueName" and self.resource_type(logical_id) == QUEUE_TYPE):
            return self.physical_name(logical_id)
        raise ValueError(f"no local value for {logical_id}.{attribute}")

    def function_for(self, value: Any) -> str:
        """The logical id of the function a value (`!GetAtt F.Arn`, a name or an ARN) designates."""
        found = self.function_logical_id(str(self.resolve(value)))
        if found is None:
            raise ValueError(f"{value!r} is not a function of the template")
        return found

    def function_logical_id(self, name_or_arn: str) -> str | None:
        """The function a Lambda API caller names: name, ARN, or ARN/name with a qualifier."""
        name = name_or_arn.split(":")[6] if name_or_arn.startswith("arn:") else name_or_arn.split(":")[0]
        for lid in self.logical_ids(FUNCTION_TYPE):
            if self.physical_name(lid) == name:
                return lid
        return None

    # -- intrinsics --

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            resolved = [self.resolve(v) for v in value]
            return [v for v in resolved if v is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            [(key, arg)] = value.items()
            if key == "Ref" or key.startswith("Fn::"):
                return self._intrinsic(key, arg)
        items = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in items.items() if v is not _NO_VALUE}

    def _intrinsic(self, key: str, arg: Any) -> Any:
        if key == "Ref":
            return self.ref(arg)
        if key == "Fn::GetAtt":
            logical_id, attribute = arg.split(".", 1) if isinstance(arg, str) else arg
            return self.get_att(logical_id, self.resolve(attribute))
        if key == "Fn::Sub":
            text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))
            return _SUB_VARIABLE.sub(lambda m: self._sub_variable(m.group(1), variables), text)
        if key == "Fn::Join":
            return str(arg[0]).join(env_string(v) for v in self.resolve(arg[1]))
        if key == "Fn::Select":
            return self.resolve(arg[1])[int(self.resolve(arg[0]))]
        if key == "Fn::Split":
            return str(self.resolve(arg[1])).split(arg[0])
        if key == "Fn::If":
            return self.resolve(arg[1] if self.condition(arg[0]) else arg[2])
        raise ValueError(f"{key} is not supported locally")

    def _sub_variable(self, name: str, variables: Mapping[str, Any]) -> str:
        if name.startswith("!"):  # ${!Literal} is written as ${Literal}
            return "${" + name[1:] + "}"
        if name in variables:
            return env_string(variables[name])
        if "." in name and name not in self.parameters and not name.startswith("AWS::"):
            return self.get_att(*name.split(".", 1))
        return env_string(self.ref(name))

    def condition(self, name: str) -> bool:
        return self._truth(self.conditions[name])

    def _truth(self, value: Any) -> bool:
        if isinstance(value, dict) and len(value) == 1:
            [(key, arg)] = value.items()
            if key == "Condition":
                return self.condition(arg)
            if key == "Fn::Equals":
                return env_string(self.resolve(arg[0])) == env_string(self.resolve(arg[1]))
            if key == "Fn::Not":
                return not self._truth(arg[0])
            if key == "Fn::And":
                return all(self._truth(a) for a in arg)
            if key == "Fn::Or":
                return any(self._truth(a) for a in arg)
        raise ValueError(f"not a condition: {value!r}")
