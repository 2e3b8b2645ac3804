"""Read the SAM template: CloudFormation short tags as data, typed views, and a resolver of intrinsics.

Everything devstack builds comes from here, so a function, route, table or secret added to template.yaml is
picked up with no change to devstack. Views take a `Resolver`: local physical names and ARNs, parameters.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TEMPLATE = REPO_ROOT / "template.yaml"
LOCAL_REGION = "us-east-1"
LOCAL_ACCOUNT = "123456789012"
LOCAL_STACK_NAME = "idgate-local"
# SAM's name for the API that HttpApi events without ApiId belong to.
IMPLICIT_HTTP_API = "ServerlessHttpApi"

FUNCTION_TYPES = ("AWS::Serverless::Function", "AWS::Lambda::Function")
TABLE_TYPE = "AWS::DynamoDB::Table"
SECRET_TYPE = "AWS::SecretsManager::Secret"  # noqa: S105 - a resource type
STATE_MACHINE_TYPES = ("AWS::Serverless::StateMachine", "AWS::StepFunctions::StateMachine")
EMAIL_IDENTITY_TYPE = "AWS::SES::EmailIdentity"
HTTP_API_TYPE = "AWS::Serverless::HttpApi"
LAYER_TYPE = "AWS::Serverless::LayerVersion"

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


# ---- typed views -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str
    default: str | None


@dataclass(frozen=True)
class Function:
    logical_id: str
    name: str
    arn: str
    code_uri: Path
    handler: str
    environment: Mapping[str, str]  # Globals merged with the function's own, resolved
    timeout: int
    memory_size: int


@dataclass(frozen=True)
class Route:
    method: str  # upper case, or ANY
    path: str  # "/v1/sessions/{id}", or "$default"
    function: str  # logical id
    authorizer: str | None  # None for `Authorizer: NONE`

    @property
    def route_key(self) -> str:
        return "$default" if self.path == "$default" else f"{self.method} {self.path}"


@dataclass(frozen=True)
class Authorizer:
    name: str
    function: str  # logical id
    identity_headers: tuple[str, ...]
    identity_query_strings: tuple[str, ...]
    reauthorize_every: int  # seconds; 0 means no caching
    simple_responses: bool


@dataclass(frozen=True)
class Cors:
    allow_origins: tuple[str, ...]
    allow_headers: tuple[str, ...]
    allow_methods: tuple[str, ...]
    expose_headers: tuple[str, ...] = ()
    max_age: int | None = None
    allow_credentials: bool = False


@dataclass(frozen=True)
class Throttling:
    rate_limit: float  # steady requests per second
    burst_limit: int


@dataclass(frozen=True)
class HttpApi:
    logical_id: str
    routes: tuple[Route, ...]
    authorizers: Mapping[str, Authorizer]
    cors: Cors | None
    throttling: Throttling | None


@dataclass(frozen=True)
class Table:
    logical_id: str
    name: str
    properties: Mapping[str, Any]  # the template's Properties, resolved


@dataclass(frozen=True)
class Secret:
    logical_id: str
    name: str
    secret_string: str | None
    description: str | None
    generate: Mapping[str, Any] | None = None  # GenerateSecretString, when there is no SecretString


@dataclass(frozen=True)
class StateMachine:
    logical_id: str
    name: str
    arn: str
    definition: str  # JSON text with the DefinitionSubstitutions applied
    type: str
    role_arn: str


@dataclass(frozen=True)
class EmailIdentity:
    logical_id: str
    email: str


# ---- the template ------------------------------------------------------------------------------------------


class Template:
    def __init__(self, document: Mapping[str, Any], directory: Path) -> None:
        self.document = document
        self.directory = directory  # relative CodeUri / DefinitionUri are relative to it
        self.resources: Mapping[str, Mapping[str, Any]] = document.get("Resources") or {}
        self.globals: Mapping[str, Any] = document.get("Globals") or {}
        self.conditions: Mapping[str, Any] = document.get("Conditions") or {}
        self.parameters = {
            name: Parameter(name, str(spec.get("Type", "String")), _param_str(spec.get("Default")))
            for name, spec in (document.get("Parameters") or {}).items()
        }

    def resource_type(self, logical_id: str) -> str:
        if logical_id not in self.resources:
            raise KeyError(f"no resource {logical_id!r} in the template")
        return str(self.resources[logical_id]["Type"])

    def logical_ids(self, *types: str) -> list[str]:
        return [lid for lid, res in self.resources.items() if res.get("Type") in types]

    def properties(self, logical_id: str) -> Mapping[str, Any]:
        return self.resources[logical_id].get("Properties") or {}

    def resolver(self, **kwargs: Any) -> Resolver:
        return Resolver(self, **kwargs)

    def functions(self, resolver: Resolver | None = None) -> dict[str, Function]:
        r = resolver or Resolver(self)
        glob = self.globals.get("Function") or {}
        result = {}
        for lid in self.logical_ids(*FUNCTION_TYPES):
            props = {**glob, **self.properties(lid)}
            env = {**_variables(glob), **_variables(self.properties(lid))}
            result[lid] = Function(
                logical_id=lid,
                name=r.physical_name(lid),
                arn=r.arn(lid),
                code_uri=(self.directory / str(r.resolve(props.get("CodeUri", ".")))).resolve(),
                handler=str(r.resolve(props["Handler"])),
                environment={k: env_string(v) for k, v in r.resolve(env).items()},
                timeout=int(r.resolve(props.get("Timeout", 3))),
                memory_size=int(r.resolve(props.get("MemorySize", 128))),
            )
        return result

    def http_api(self, resolver: Resolver | None = None, logical_id: str | None = None) -> HttpApi:
        r = resolver or Resolver(self)
        if logical_id is None:
            explicit = self.logical_ids(HTTP_API_TYPE)
            if len(explicit) > 1:
                raise ValueError(f"several HttpApi resources ({explicit}): say which one to serve")
            logical_id = explicit[0] if explicit else IMPLICIT_HTTP_API
        own = self.properties(logical_id) if logical_id in self.resources else {}
        props = {**(self.globals.get("HttpApi") or {}), **own}
        auth = props.get("Auth") or {}
        default_authorizer = auth.get("DefaultAuthorizer")
        authorizers = {
            name: self._authorizer(name, spec, r) for name, spec in (auth.get("Authorizers") or {}).items()
        }
        routes = tuple(self._routes(logical_id, default_authorizer))
        for route in routes:
            if route.authorizer is not None and route.authorizer not in authorizers:
                raise ValueError(f"route {route.route_key} uses unknown authorizer {route.authorizer!r}")
        cors = _cors(r.resolve(props.get("CorsConfiguration")))
        throttling = _throttling(r.resolve(props.get("DefaultRouteSettings") or {}))
        return HttpApi(logical_id, routes, authorizers, cors, throttling)

    def _routes(self, api_id: str, default_authorizer: str | None) -> list[Route]:
        routes = []
        for lid in self.logical_ids(*FUNCTION_TYPES):
            for event in (self.properties(lid).get("Events") or {}).values():
                if event.get("Type") != "HttpApi":
                    continue
                props = event.get("Properties") or {}
                api = props.get("ApiId")
                if (api["Ref"] if isinstance(api, dict) else api or IMPLICIT_HTTP_API) != api_id:
                    continue
                if str(props.get("PayloadFormatVersion", "2.0")) != "2.0":
                    raise ValueError(f"{lid}: only payload format 2.0 is emulated")
                path = str(props.get("Path", "$default"))
                method = "ANY" if path == "$default" else str(props.get("Method", "ANY")).upper()
                authorizer = (props.get("Auth") or {}).get("Authorizer", default_authorizer)
                routes.append(Route(method, path, lid, None if authorizer in (None, "NONE") else authorizer))
        return routes

    def _authorizer(self, name: str, spec: Mapping[str, Any], r: Resolver) -> Authorizer:
        if "FunctionArn" not in spec:
            raise ValueError(f"authorizer {name}: only Lambda authorizers are emulated")
        if str(spec.get("AuthorizerPayloadFormatVersion", "2.0")) != "2.0":
            raise ValueError(f"authorizer {name}: only payload format 2.0 is emulated")
        identity = r.resolve(spec.get("Identity") or {})
        headers = tuple(identity.get("Headers") or ())
        query_strings = tuple(identity.get("QueryStrings") or ())
        # API Gateway's default TTL is 300 s, and caching needs an identity source.
        ttl = int(identity.get("ReauthorizeEvery", 300 if headers or query_strings else 0))
        simple = bool(spec.get("EnableSimpleResponses", False))
        return Authorizer(name, r.function_for(spec["FunctionArn"]), headers, query_strings, ttl, simple)

    @property
    def routes(self) -> tuple[Route, ...]:
        """The routes of the template's HTTP API."""
        return self.http_api().routes

    def layer_dirs(self, resolver: Resolver | None = None) -> list[Path]:
        """Source folders of the template's layers: on sys.path for the handlers, as /opt/python in Lambda."""
        r = resolver or Resolver(self)
        return [
            (self.directory / str(r.resolve(self.properties(lid)["ContentUri"]))).resolve()
            for lid in self.logical_ids(LAYER_TYPE)
        ]

    def tables(self, resolver: Resolver | None = None) -> dict[str, Table]:
        r = resolver or Resolver(self)
        return {
            lid: Table(lid, r.physical_name(lid), r.resolve(self.properties(lid)))
            for lid in self.logical_ids(TABLE_TYPE)
        }

    def secrets(self, resolver: Resolver | None = None) -> dict[str, Secret]:
        r = resolver or Resolver(self)
        result = {}
        for lid in self.logical_ids(SECRET_TYPE):
            props = r.resolve(self.properties(lid))
            result[lid] = Secret(
                lid,
                r.physical_name(lid),
                props.get("SecretString"),
                props.get("Description"),
                props.get("GenerateSecretString"),
            )
        return result

    def email_identities(self, resolver: Resolver | None = None) -> dict[str, EmailIdentity]:
        r = resolver or Resolver(self)
        return {
            lid: EmailIdentity(lid, str(r.resolve(self.properties(lid)["EmailIdentity"])))
            for lid in self.logical_ids(EMAIL_IDENTITY_TYPE)
        }

    def state_machines(self, resolver: Resolver | None = None) -> dict[str, StateMachine]:
        r = resolver or Resolver(self)
        result = {}
        for lid in self.logical_ids(*STATE_MACHINE_TYPES):
            props = self.properties(lid)
            if "DefinitionUri" in props:
                text = (self.directory / str(r.resolve(props["DefinitionUri"]))).read_text()
            elif "DefinitionString" in props:
                text = str(r.resolve(props["DefinitionString"]))
            else:
                text = json.dumps(props["Definition"])
            for key, value in (r.resolve(props.get("DefinitionSubstitutions")) or {}).items():
                text = text.replace("${" + key + "}", env_string(value))
            role = props.get("Role") or props.get("RoleArn")
            result[lid] = StateMachine(
                logical_id=lid,
                name=r.physical_name(lid),
                arn=r.arn(lid),
                definition=text,
                type=str(r.resolve(props.get("Type", "STANDARD"))),
                # moto wants a role; SAM would create one from the Policies.
                role_arn=str(r.resolve(role)) if role else f"arn:aws:iam::{r.account}:role/{lid}Role",
            )
        return result


def load_template(path: Path | str = DEFAULT_TEMPLATE) -> Template:
    path = Path(path)
    with path.open() as f:
        document = yaml.load(f, Loader=CfnLoader)  # noqa: S506 - CfnLoader is a SafeLoader
    return Template(document, path.parent.resolve())


def _param_str(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return env_string(value)


def _variables(props: Mapping[str, Any]) -> dict[str, Any]:
    return dict(((props.get("Environment") or {}).get("Variables")) or {})


def env_string(value: Any) -> str:
    """A value as CloudFormation writes it into a string property (environment variables, substitutions)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    raise ValueError(f"{value!r} is not a string value")


def _as_tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(","))
    return tuple(str(v) for v in value)


def _cors(value: Any) -> Cors | None:
    if not value:
        return None
    if value is True:  # SAM: `CorsConfiguration: true` allows everything
        return Cors(("*",), ("*",), ("*",))
    max_age = value.get("MaxAge")
    return Cors(
        allow_origins=_as_tuple(value.get("AllowOrigins")),
        allow_headers=tuple(h.lower() for h in _as_tuple(value.get("AllowHeaders"))),
        allow_methods=tuple(m.upper() for m in _as_tuple(value.get("AllowMethods"))),
        expose_headers=_as_tuple(value.get("ExposeHeaders")),
        max_age=None if max_age is None else int(max_age),
        allow_credentials=bool(value.get("AllowCredentials", False)),
    )


def _throttling(settings: Mapping[str, Any]) -> Throttling | None:
    rate: Any = settings.get("ThrottlingRateLimit")
    burst: Any = settings.get("ThrottlingBurstLimit")
    if rate is None and burst is None:
        return None
    # When one limit is missing, the other stands for it.
    return Throttling(float(burst if rate is None else rate), max(1, int(rate if burst is None else burst)))


# ---- the resolver ------------------------------------------------------------------------------------------

_NO_VALUE = object()  # AWS::NoValue: the property disappears
_NAME_PROPERTY = {
    "AWS::Serverless::Function": "FunctionName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::DynamoDB::Table": "TableName",
    "AWS::SecretsManager::Secret": "Name",
    "AWS::Serverless::StateMachine": "Name",
    "AWS::StepFunctions::StateMachine": "StateMachineName",
    LAYER_TYPE: "LayerName",
}
_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")


class Resolver:
    """Turns intrinsics into local values.

    Local physical names are the logical ids (or the name property the template sets), so a table is
    `SessionsTable` in `aws dynamodb scan`. `refs` overrides the `Ref` of resources whose value is only known
    once they exist (a secret's ARN ends with a random suffix).
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
        self.parameters.update({k: _param_str(v) for k, v in (parameters or {}).items()})
        self.refs = dict(refs or {})
        self.region, self.account, self.stack_name = region, account, stack_name

    def with_refs(self, refs: Mapping[str, str]) -> Resolver:
        merged = {**self.refs, **refs}
        return Resolver(self.template, self.parameters, merged, self.region, self.account, self.stack_name)

    # -- resources --

    def physical_name(self, logical_id: str) -> str:
        prop = _NAME_PROPERTY.get(self.template.resource_type(logical_id))
        name = self.template.properties(logical_id).get(prop) if prop else None
        return str(self.resolve(name)) if name is not None else logical_id

    def arn(self, logical_id: str) -> str:
        rtype, name = self.template.resource_type(logical_id), self.physical_name(logical_id)
        prefix = f"arn:aws:{{}}:{self.region}:{self.account}"
        if rtype in FUNCTION_TYPES:
            return f"{prefix.format('lambda')}:function:{name}"
        if rtype == TABLE_TYPE:
            return f"{prefix.format('dynamodb')}:table/{name}"
        if rtype == SECRET_TYPE:
            return self.refs.get(logical_id) or f"{prefix.format('secretsmanager')}:secret:{name}"
        if rtype in STATE_MACHINE_TYPES:
            return f"{prefix.format('states')}:stateMachine:{name}"
        if rtype == LAYER_TYPE:
            return f"{prefix.format('lambda')}:layer:{name}:1"
        raise ValueError(f"no local ARN for {logical_id} ({rtype})")

    def ref(self, name: str) -> Any:
        if name in self.parameters:
            value = self.parameters[name]
            if value is None:
                raise ValueError(f"parameter {name} has no default and no value")
            ptype = self.template.parameters[name].type
            return value.split(",") if ptype == "CommaDelimitedList" or ptype.startswith("List<") else value
        pseudo = {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account,
            "AWS::StackName": self.stack_name,
            "AWS::StackId": f"arn:aws:cloudformation:{self.region}:{self.account}:stack/{self.stack_name}/1",
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": _NO_VALUE,
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.refs:
            return self.refs[name]
        rtype = self.template.resource_type(name)
        if rtype in (SECRET_TYPE, *STATE_MACHINE_TYPES, LAYER_TYPE):
            return self.arn(name)
        if rtype == EMAIL_IDENTITY_TYPE:
            return self.resolve(self.template.properties(name)["EmailIdentity"])
        return self.physical_name(name)

    def get_att(self, logical_id: str, attribute: str) -> str:
        if attribute == "Arn":
            return self.arn(logical_id)
        if attribute == "Name":
            return self.physical_name(logical_id)
        raise ValueError(f"no local value for {logical_id}.{attribute}")

    def function_for(self, value: Any) -> str:
        """The logical id of the function a value (`!GetAtt F.Arn`, a name or an ARN) designates."""
        if isinstance(value, dict) and "Fn::GetAtt" in value:
            return str(value["Fn::GetAtt"][0])
        wanted = str(self.resolve(value))
        for lid in self.template.logical_ids(*FUNCTION_TYPES):
            if wanted in (lid, self.physical_name(lid), self.arn(lid)):
                return lid
        raise ValueError(f"{wanted!r} is not a function of the template")

    def function_logical_id(self, name_or_arn: str) -> str | None:
        """The function a Lambda API caller names: name, ARN, or ARN/name with a qualifier."""
        name = name_or_arn.split(":")[6] if name_or_arn.startswith("arn:") else name_or_arn.split(":")[0]
        for lid in self.template.logical_ids(*FUNCTION_TYPES):
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
        return self._truth(self.template.conditions[name])

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
