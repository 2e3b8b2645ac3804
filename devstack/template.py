"""The SAM template as the local stack serves it: the real SAM transform, then typed views of its output.

template.yaml goes through the SAM transform (devstack.sam): Globals, HttpApi events and the implicit API,
authorizers, CORS, IAM roles all come out as plain CloudFormation, and the views below read that. So a
function, route, table or secret added to template.yaml is picked up with no change to devstack. Views take a
`Resolver` (devstack.cfn): parameter values, local physical names and ARNs. The HTTP API's view is in
devstack.template_http_api and the event source mappings' in devstack.template_event_sources; they are
re-exported here, where the stack and the tests look for the template's views.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from devstack.cfn import (
    EMAIL_IDENTITY_TYPE,
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
from devstack.template_event_sources import QueueSource, StreamSource, read_queue_sources, read_stream_sources
from devstack.template_http_api import Authorizer, Cors, HttpApi, Route, Throttling, read_http_api

__all__ = [
    "DEFAULT_TEMPLATE", "LOCAL_ACCOUNT", "LOCAL_REGION", "LOCAL_STACK_NAME", "REPO_ROOT", "Authorizer",
    "CfnLoader", "Cors", "EmailIdentity", "Function", "HttpApi", "KmsKey", "Parameter", "Queue",
    "QueueSource", "Resolver", "Route", "Secret", "StateMachine", "StreamSource", "Table", "Template",
    "Throttling", "load_template",
]  # fmt: skip

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TEMPLATE = REPO_ROOT / "template.yaml"


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
        return read_http_api(resolver or self.resolver(), logical_id)

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
        return read_stream_sources(resolver or self.resolver())

    def queue_sources(self, resolver: Resolver | None = None) -> dict[str, QueueSource]:
        return read_queue_sources(resolver or self.resolver())

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
