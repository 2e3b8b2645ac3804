"""The SAM template as the local stack serves it: the real SAM transform, then typed views of its output.

template.yaml goes through the SAM transform (devstack.sam): Globals, HttpApi events and the implicit API,
authorizers, CORS, IAM roles all come out as plain CloudFormation, and the views below read that. So a
function, route, table or secret added to template.yaml is picked up with no change to devstack. Views take a
`Resolver` (devstack.cfn): parameter values, local physical names and ARNs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from devstack.cfn import (
    EMAIL_IDENTITY_TYPE,
    EVENT_SOURCE_MAPPING_TYPE,
    FUNCTION_TYPE,
    KMS_KEY_TYPE,
    LAYER_TYPE,
    LOCAL_ACCOUNT,
    LOCAL_REGION,
    LOCAL_STACK_NAME,
    QUEUE_TYPE,
    SECRET_TYPE,
    STATE_MACHINE_TYPE,
    TABLE_TYPE,
    CfnLoader,
    Parameter,
    Resolver,
    env_string,
    param_str,
)
from devstack.sam import LOCAL_BUCKET, sam_transform

__all__ = [
    "DEFAULT_TEMPLATE", "LOCAL_ACCOUNT", "LOCAL_REGION", "LOCAL_STACK_NAME", "REPO_ROOT", "Authorizer",
    "CfnLoader", "Cors", "EmailIdentity", "Function", "HttpApi", "Parameter", "Resolver", "Route", "Secret",
    "StateMachine", "Table", "Template", "Throttling", "load_template",
]  # fmt: skip

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TEMPLATE = REPO_ROOT / "template.yaml"
# SAM's name for the API that HttpApi events without ApiId belong to.
IMPLICIT_HTTP_API = "ServerlessHttpApi"
API_TYPE = "AWS::ApiGatewayV2::Api"
STAGE_TYPE = "AWS::ApiGatewayV2::Stage"
_ANY_METHOD = "x-amazon-apigateway-any-method"
_INVOKED_FUNCTION = re.compile(r":lambda:path/[^/]+/functions/(.+)/invocations$")


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
class StreamSource:
    """An event source mapping from a DynamoDB stream to a function (SAM's `Type: DynamoDB` event)."""

    logical_id: str
    function: str  # logical id
    stream_arn: str
    starting_position: str  # TRIM_HORIZON or LATEST
    batch_size: int
    batching_window_seconds: int
    reports_item_failures: bool
    #: The mapping's FilterCriteria patterns: a record goes to the function when one matches (none: all do).
    filters: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True)
class QueueSource:
    """An event source mapping from an SQS queue to a function (SAM's `Type: SQS` event)."""

    logical_id: str
    function: str  # logical id
    queue_arn: str
    batch_size: int
    reports_item_failures: bool


@dataclass(frozen=True)
class Queue:
    logical_id: str
    name: str
    #: Attributes as CreateQueue takes them (strings; the redrive policy as JSON, naming its queue's ARN).
    attributes: Mapping[str, str]


@dataclass(frozen=True)
class KmsKey:
    logical_id: str
    description: str


@dataclass(frozen=True)
class EmailIdentity:
    logical_id: str
    email: str


class Template:
    def __init__(self, document: Mapping[str, Any], directory: Path) -> None:
        self.document = document  # the SAM template as written
        self.directory = directory  # relative CodeUri / DefinitionUri are relative to it
        self.parameters = {
            name: Parameter(name, str(spec.get("Type", "String")), param_str(spec.get("Default")))
            for name, spec in (document.get("Parameters") or {}).items()
        }
        self._translations: dict[tuple[tuple[str, str], ...], dict[str, Any]] = {}

    def translated(self, parameter_values: Mapping[str, str]) -> Mapping[str, Any]:
        """The template as CloudFormation, for these parameter (and pseudo parameter) values."""
        key = tuple(sorted(parameter_values.items()))
        if key not in self._translations:
            self._translations[key] = sam_transform(self.document, parameter_values)
        return self._translations[key]

    def resolver(self, **kwargs: Any) -> Resolver:
        return Resolver(self, **kwargs)

    # Resources of the translated template, with the parameters' defaults.
    def resource_type(self, logical_id: str) -> str:
        return self.resolver().resource_type(logical_id)

    def logical_ids(self, *types: str) -> list[str]:
        return self.resolver().logical_ids(*types)

    def properties(self, logical_id: str) -> Mapping[str, Any]:
        return self.resolver().properties(logical_id)

    def functions(self, resolver: Resolver | None = None) -> dict[str, Function]:
        r = resolver or self.resolver()
        result = {}
        for lid in r.logical_ids(FUNCTION_TYPE):
            props = r.properties(lid)
            env = r.resolve((props.get("Environment") or {}).get("Variables") or {})
            result[lid] = Function(
                logical_id=lid,
                name=r.physical_name(lid),
                arn=r.arn(lid),
                code_uri=self._local_path(lid, props.get("Code"), "S3Bucket", "S3Key"),
                handler=str(r.resolve(props["Handler"])),
                environment={k: env_string(v) for k, v in env.items()},
                timeout=int(r.resolve(props.get("Timeout", 3))),
                memory_size=int(r.resolve(props.get("MemorySize", 128))),
            )
        return result

    def http_api(self, resolver: Resolver | None = None, logical_id: str | None = None) -> HttpApi:
        r = resolver or self.resolver()
        if logical_id is None:
            apis = r.logical_ids(API_TYPE)
            if len(apis) > 1:
                raise ValueError(f"several HTTP APIs ({apis}): say which one to serve")
            if not apis:
                return HttpApi(IMPLICIT_HTTP_API, (), {}, None, None)
            logical_id = apis[0]
        body = r.properties(logical_id).get("Body")
        if not isinstance(body, dict):
            raise ValueError(f"{logical_id}: only an API with its OpenAPI Body in the template is emulated")
        schemes = (body.get("components") or {}).get("securitySchemes") or {}
        authorizers = {name: _authorizer(name, scheme, r) for name, scheme in schemes.items()}
        routes = tuple(sorted(_routes(body, r), key=lambda route: (route.path, route.method)))
        for route in routes:
            if route.authorizer is not None and route.authorizer not in authorizers:
                raise ValueError(f"route {route.route_key} uses unknown authorizer {route.authorizer!r}")
        stages = [r.properties(s) for s in r.logical_ids(STAGE_TYPE)]
        stage = next((s for s in stages if s.get("ApiId") == {"Ref": logical_id}), {})
        cors = _cors(r.resolve(body.get("x-amazon-apigateway-cors")))
        throttling = _throttling(r.resolve(stage.get("DefaultRouteSettings") or {}))
        return HttpApi(logical_id, routes, authorizers, cors, throttling)

    @property
    def routes(self) -> tuple[Route, ...]:
        """The routes of the template's HTTP API."""
        return self.http_api().routes

    def layer_dirs(self, resolver: Resolver | None = None) -> list[Path]:
        """Source folders of the template's layers: on sys.path for the handlers, as /opt/python in Lambda."""
        r = resolver or self.resolver()
        return [
            self._local_path(lid, r.properties(lid).get("Content"), "S3Bucket", "S3Key")
            for lid in r.logical_ids(LAYER_TYPE)
        ]

    def tables(self, resolver: Resolver | None = None) -> dict[str, Table]:
        r = resolver or self.resolver()
        return {
            lid: Table(lid, r.physical_name(lid), r.resolve(r.properties(lid)))
            for lid in r.logical_ids(TABLE_TYPE)
        }

    def secrets(self, resolver: Resolver | None = None) -> dict[str, Secret]:
        r = resolver or self.resolver()
        result = {}
        for lid in r.logical_ids(SECRET_TYPE):
            props = r.resolve(r.properties(lid))
            result[lid] = Secret(
                lid,
                r.physical_name(lid),
                props.get("SecretString"),
                props.get("Description"),
                props.get("GenerateSecretString"),
            )
        return result

    def stream_sources(self, resolver: Resolver | None = None) -> dict[str, StreamSource]:
        r = resolver or self.resolver()
        result = {}
        for lid in r.logical_ids(EVENT_SOURCE_MAPPING_TYPE):
            props = r.resolve(r.properties(lid))
            arn = str(props.get("EventSourceArn", ""))
            if arn.startswith("arn:aws:sqs:"):
                continue  # queue_sources
            if ":dynamodb:" not in arn or "/stream/" not in arn:
                raise ValueError(f"{lid}: only DynamoDB stream sources are emulated")
            result[lid] = StreamSource(
                logical_id=lid,
                function=r.function_for(props["FunctionName"]),
                stream_arn=arn,
                starting_position=str(props.get("StartingPosition", "LATEST")),
                batch_size=int(props.get("BatchSize", 100)),
                batching_window_seconds=int(props.get("MaximumBatchingWindowInSeconds", 0)),
                reports_item_failures="ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or []),
                filters=tuple(
                    json.loads(f["Pattern"]) for f in (props.get("FilterCriteria") or {}).get("Filters", [])
                ),
            )
        return result

    def queue_sources(self, resolver: Resolver | None = None) -> dict[str, QueueSource]:
        r = resolver or self.resolver()
        result = {}
        for lid in r.logical_ids(EVENT_SOURCE_MAPPING_TYPE):
            props = r.resolve(r.properties(lid))
            arn = str(props.get("EventSourceArn", ""))
            if arn.startswith("arn:aws:sqs:"):
                result[lid] = QueueSource(
                    logical_id=lid,
                    function=r.function_for(props["FunctionName"]),
                    queue_arn=arn,
                    batch_size=int(props.get("BatchSize", 10)),
                    reports_item_failures="ReportBatchItemFailures"
                    in (props.get("FunctionResponseTypes") or []),
                )
        return result

    def queues(self, resolver: Resolver | None = None) -> dict[str, Queue]:
        r = resolver or self.resolver()
        result = {}
        for lid in r.logical_ids(QUEUE_TYPE):
            props = r.resolve(r.properties(lid))
            attributes = {
                key: str(props[key]).lower() if isinstance(props[key], bool) else str(props[key])
                for key in (
                    "VisibilityTimeout",
                    "MessageRetentionPeriod",
                    "DelaySeconds",
                    "SqsManagedSseEnabled",
                )
                if key in props
            }
            if "RedrivePolicy" in props:
                attributes["RedrivePolicy"] = json.dumps(props["RedrivePolicy"])
            result[lid] = Queue(lid, r.physical_name(lid), attributes)
        return result

    def kms_keys(self, resolver: Resolver | None = None) -> dict[str, KmsKey]:
        r = resolver or self.resolver()
        return {
            lid: KmsKey(lid, str(r.resolve(r.properties(lid).get("Description", ""))))
            for lid in r.logical_ids(KMS_KEY_TYPE)
        }

    def email_identities(self, resolver: Resolver | None = None) -> dict[str, EmailIdentity]:
        r = resolver or self.resolver()
        return {
            lid: EmailIdentity(lid, str(r.resolve(r.properties(lid)["EmailIdentity"])))
            for lid in r.logical_ids(EMAIL_IDENTITY_TYPE)
        }

    def state_machines(self, resolver: Resolver | None = None) -> dict[str, StateMachine]:
        r = resolver or self.resolver()
        result = {}
        for lid in r.logical_ids(STATE_MACHINE_TYPE):
            props = r.properties(lid)
            if "DefinitionS3Location" in props:  # read here: the transform leaves the file to `sam deploy`
                text = self._local_path(lid, props["DefinitionS3Location"], "Bucket", "Key").read_text()
            elif "DefinitionString" in props:
                text = str(r.resolve(props["DefinitionString"]))
            else:
                text = json.dumps(r.resolve(props["Definition"]))
            for key, value in (r.resolve(props.get("DefinitionSubstitutions")) or {}).items():
                text = text.replace("${" + key + "}", env_string(value))
            result[lid] = StateMachine(
                logical_id=lid,
                name=r.physical_name(lid),
                arn=r.arn(lid),
                definition=text,
                type=str(r.resolve(props.get("StateMachineType", "STANDARD"))),
                role_arn=str(r.resolve(props["RoleArn"])),
            )
        return result

    def _local_path(self, logical_id: str, location: Any, bucket: str, key: str) -> Path:
        if not isinstance(location, dict) or location.get(bucket) != LOCAL_BUCKET:
            raise ValueError(f"{logical_id}: only code and definitions in local folders are emulated")
        return (self.directory / str(location[key])).resolve()


def load_template(path: Path | str = DEFAULT_TEMPLATE) -> Template:
    path = Path(path)
    with path.open() as f:
        document = yaml.load(f, Loader=CfnLoader)  # noqa: S506 - CfnLoader is a SafeLoader
    return Template(document, path.parent.resolve())


# ---- the HTTP API, from the OpenAPI body the transform writes ----------------------------------------------


def _routes(body: Mapping[str, Any], r: Resolver) -> Iterator[Route]:
    for path, item in (body.get("paths") or {}).items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "x-amazon-apigateway-integration" not in operation:
                continue  # path-level "parameters"
            integration = operation["x-amazon-apigateway-integration"]
            if str(integration.get("payloadFormatVersion", "2.0")) != "2.0":
                raise ValueError(f"{method} {path}: only payload format 2.0 is emulated")
            # `security: [{"NONE": []}]` is SAM's `Authorizer: NONE` when there is a DefaultAuthorizer.
            authorizer = next(iter((operation.get("security") or [{}])[0]), "NONE")
            yield Route(
                "ANY" if method == _ANY_METHOD else method.upper(),
                path,
                _invoked_function(integration.get("uri"), r),
                None if authorizer == "NONE" else authorizer,
            )


def _invoked_function(uri: Any, r: Resolver) -> str:
    """The function an integration or authorizer URI (`...:functions/<ARN>/invocations`) calls."""
    match = _INVOKED_FUNCTION.search(str(r.resolve(uri)))
    function = r.function_logical_id(match.group(1)) if match else None
    if function is None:
        raise ValueError(f"{uri!r} does not invoke a function of the template")
    return function


def _authorizer(name: str, scheme: Mapping[str, Any], r: Resolver) -> Authorizer:
    spec = r.resolve(scheme.get("x-amazon-apigateway-authorizer") or {})
    if spec.get("type") != "request":
        raise ValueError(f"authorizer {name}: only Lambda authorizers are emulated")
    if str(spec.get("authorizerPayloadFormatVersion")) != "2.0":
        raise ValueError(f"authorizer {name}: only payload format 2.0 is emulated")
    sources = spec.get("identitySource") or []
    sources = [s.strip() for s in (sources.split(",") if isinstance(sources, str) else sources)]
    headers, queries = _identity(sources, "header"), _identity(sources, "querystring")
    # API Gateway's default TTL is 300 s, and caching needs an identity source.
    ttl = int(spec.get("authorizerResultTtlInSeconds", 300 if headers or queries else 0))
    simple = bool(spec.get("enableSimpleResponses", False))
    return Authorizer(name, _invoked_function(spec.get("authorizerUri"), r), headers, queries, ttl, simple)


def _identity(sources: list[str], kind: str) -> tuple[str, ...]:
    prefix = f"$request.{kind}."
    return tuple(s.removeprefix(prefix) for s in sources if s.startswith(prefix))


def _as_tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(","))
    return tuple(str(v) for v in value)


def _cors(value: Any) -> Cors | None:
    if not value:
        return None
    max_age = value.get("maxAge")
    return Cors(
        allow_origins=_as_tuple(value.get("allowOrigins")),
        allow_headers=tuple(h.lower() for h in _as_tuple(value.get("allowHeaders"))),
        allow_methods=tuple(m.upper() for m in _as_tuple(value.get("allowMethods"))),
        expose_headers=_as_tuple(value.get("exposeHeaders")),
        max_age=None if max_age is None else int(max_age),
        allow_credentials=bool(value.get("allowCredentials", False)),
    )


def _throttling(settings: Mapping[str, Any]) -> Throttling | None:
    rate: Any = settings.get("ThrottlingRateLimit")
    burst: Any = settings.get("ThrottlingBurstLimit")
    if rate is None and burst is None:
        return None
    # When one limit is missing, the other stands for it.
    return Throttling(float(burst if rate is None else rate), max(1, int(rate if burst is None else burst)))
