"""The whole application on this machine: local AWS, the template's resources, the handlers, every
registered provider sandbox, the HTTP API and the mail printer. `python -m devstack` runs it; tests start
it from Python.

Nothing here names a provider: each sandbox of `devstack.sandboxes.SANDBOXES` is started on its port, its
credentials go into the template's secret `<PROVIDER_SECRET_PREFIX><name>`, the functions get
`<NAME>_BASE_URL` (and the settings that must match the sandbox), and its dashboard webhook is pointed at
the URL that `GET /v1/providers/<name>/webhook` gives, as an operator would set it up: each of those steps
is devstack.stack_sandboxes'; this module starts and stops the whole, in order.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from devstack.aws import LocalAws
from devstack.faults import FaultControl, FaultSettings, StackFaults
from devstack.gateway import Gateway
from devstack.lambdas import (
    DEFAULT_CONCURRENCY,
    Lambdas,
    apply_environment,
    function_environment,
    local_aws_variables,
    restore_environment,
)
from devstack.mail import MailPrinter
from devstack.provision import Provisioned, provision
from devstack.queues import QueuePoller
from devstack.receiver import WebhookReceiver, registrar
from devstack.sam_env import write_sam_env_vars
from devstack.sandboxes import SANDBOXES
from devstack.sandboxes.base import Sandbox
from devstack.server import BackgroundServer
from devstack.stack_sandboxes import (
    SandboxWrapper,
    client_variables,
    sandbox_defaults,
    secret_values,
    start_sandbox,
    webhook_url,
)
from devstack.streams import StreamPoller
from devstack.template import DEFAULT_TEMPLATE, REPO_ROOT, Resolver, Template, load_template

__all__ = [
    "DEV_CLIENT_ID", "DEV_KEYS", "LocalStack", "SandboxWrapper", "StackOptions", "StackUrls", "banner",
    "sandbox_defaults",
]  # fmt: skip

log = logging.getLogger("devstack")

#: Local return_url hosts; the deployed default allows none.
LOCAL_RETURN_URL_HOSTS = "localhost,127.0.0.1"
KEYS_FUNCTION = "KeysFunction"
POLL_PARAMETER = "PollIntervalSeconds"
PUBLIC_URL_PARAMETER = "PublicApiUrl"
DEV_KEYS = {"secret": "sk_local_dev", "publishable": "pk_local_dev"}
DEV_CLIENT_ID = "local-dev"


@dataclass
class StackOptions:
    host: str = "127.0.0.1"
    port: int = 3000  # 0 for any free port, here and in `sandbox_ports`
    aws_port: int = 4566
    #: Port of each sandbox by provider name; a sandbox not listed gets its default port.
    sandbox_ports: dict[str, int] = field(default_factory=dict)
    #: The sandboxes' own options, as their command-line flags' destinations (e.g. `jekimo_token_ttl`).
    sandbox_arguments: dict[str, Any] = field(default_factory=dict)
    sandbox_wrapper: SandboxWrapper | None = None
    allow_unredacted_images: bool = False
    poll_interval: int = 5  # the template's PollIntervalSeconds
    provider_cooldown: int = 60  # the template's ProviderCooldownSeconds (the routing's breaker)
    pin_ttl: int = 600
    #: Invocations of one function that run at once, each in its own execution environment (more wait).
    lambda_concurrency: int = DEFAULT_CONCURRENCY
    template: Path = DEFAULT_TEMPLATE
    web_root: Path | None = REPO_ROOT / "web"
    parameters: dict[str, Any] = field(default_factory=dict)  # more template parameter values
    environment: dict[str, str] = field(default_factory=dict)  # more function environment variables
    print_mail: bool = True
    #: Chaos: put in force once the stack is up (provisioning is never faulted); `LocalStack.faults` after.
    faults: FaultSettings = field(default_factory=FaultSettings)
    #: Webhook endpoints may be http URLs to loopback (the template's AllowInsecureWebhookUrls), for local
    #: receivers.
    allow_insecure_webhook_urls: bool = True
    #: Multiplies the webhook retry schedule (`--delivery-backoff-scale 0.01`: 5 min becomes 3 s).
    delivery_backoff_scale: float = 1.0
    #: Where to write `sam local invoke --env-vars`'s file for this stack (devstack.sam_env); None: nowhere.
    env_vars_file: Path | None = None

    def port_of(self, sandbox: type[Sandbox]) -> int:
        return self.sandbox_ports.get(sandbox.name, sandbox.default_port)


@dataclass(frozen=True)
class StackUrls:
    api: str
    web: str
    aws: str
    keys: dict[str, str]
    #: Each provider's client base URL (what `<NAME>_BASE_URL` is set to).
    providers: dict[str, str]
    #: The file for `sam local invoke --env-vars`, when the stack wrote one.
    env_vars_file: str | None = None

    def as_dict(self) -> dict[str, Any]:
        # Each provider also at the top level ("jekimo": ...), as scripts read the ready line.
        return {**self.providers, **asdict(self)}


class LocalStack:
    def __init__(self, options: StackOptions | None = None) -> None:
        self.options = options or StackOptions()
        self.template: Template = load_template(self.options.template)
        self.lambdas = Lambdas(layers=self.template.layer_dirs(), concurrency=self.options.lambda_concurrency)
        self.aws: LocalAws | None = None
        self.resolver: Resolver | None = None
        self.provisioned: Provisioned | None = None
        self.gateway: Gateway | None = None
        self.urls: StackUrls | None = None
        self.sandboxes: dict[str, Sandbox] = {}
        self._servers: list[BackgroundServer] = []
        self._mail: MailPrinter | None = None
        self._previous_env: dict[str, str | None] = {}
        self.pollers: list[StreamPoller] = []  # the tables' change streams, delivered to their functions
        self.queue_pollers: list[QueuePoller] = []  # the queues, delivered to their functions
        self.receiver: WebhookReceiver | None = None  # the demo's webhook receiver (/_devstack/receiver)
        self.faults = StackFaults(sandbox.name for sandbox in SANDBOXES)

    def __enter__(self) -> LocalStack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> StackUrls:
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> StackUrls:
        o = self.options
        shown_host = "127.0.0.1" if o.host in ("0.0.0.0", "") else o.host
        self.aws = LocalAws(self.lambdas, host=o.host, port=o.aws_port, faults=self.faults.aws).start()
        self.aws.reset()  # a fresh stack, even when an earlier one ran in this process
        aws_url = f"http://{shown_host}:{self.aws.port}"
        for sandbox_type in SANDBOXES:
            self._start_sandbox(sandbox_type, shown_host)
        provider_urls = {name: sandbox.api_url() for name, sandbox in self.sandboxes.items()}
        # Bound first, so that its URL is known: it is the API's public URL here, as a custom domain's is
        # on AWS, and the providers' webhook URLs are built on it (never on a request's Host header).
        api = BackgroundServer(None, o.host, o.port)
        self._servers.append(api)
        api_url = f"http://{shown_host}:{api.port}"

        parameters = {
            PUBLIC_URL_PARAMETER: api_url,
            POLL_PARAMETER: o.poll_interval,
            "ProviderCooldownSeconds": o.provider_cooldown,
            "ReturnUrlAllowedHosts": LOCAL_RETURN_URL_HOSTS,
            "AllowUnredactedImages": "true" if o.allow_unredacted_images else "false",
            "AllowInsecureWebhookUrls": "true" if o.allow_insecure_webhook_urls else "false",
        }
        # Only the parameters this template has (tests run smaller templates).
        parameters = {name: value for name, value in parameters.items() if name in self.template.parameters}
        resolver = self.template.resolver(parameters={**parameters, **o.parameters})
        self.aws.find_function = resolver.function_logical_id
        credentials = secret_values(self.template, resolver, self.sandboxes)
        self.provisioned = provision(self.template, aws_url, resolver, secret_values=credentials)
        self.resolver = resolver.with_refs(self.provisioned.refs)

        functions = self.template.functions(self.resolver)
        self.lambdas.functions.update(functions)
        overrides = {
            "PIN_TTL_SECONDS": str(o.pin_ttl),
            "WEBHOOK_BACKOFF_SCALE": str(o.delivery_backoff_scale),
            **client_variables(self.sandboxes),
        }
        env = function_environment(functions.values(), aws_url, {**overrides, **o.environment})
        self._previous_env = apply_environment(env)
        if o.env_vars_file is not None:
            local = {**local_aws_variables(aws_url), **overrides, **o.environment}
            write_sam_env_vars(o.env_vars_file, functions, local)
        self.lambdas.load_all()  # import errors show now, not on the first request
        self._register_dev_keys()
        streams = self.aws.client("dynamodbstreams")
        for source in self.template.stream_sources(self.resolver).values():
            self.pollers.append(StreamPoller(source, streams, self.lambdas.invoke).start())
        sqs = self.aws.client("sqs")
        for queue_source in self.template.queue_sources(self.resolver).values():
            self.queue_pollers.append(QueuePoller(queue_source, sqs, self.lambdas.invoke).start())

        self.gateway = Gateway(self.template.http_api(self.resolver), self.lambdas.invoke, o.web_root)
        register = registrar(api_url, DEV_KEYS["secret"])
        self.receiver = WebhookReceiver(FaultControl(self.gateway, self.faults), api_url, register)
        api.app = self.receiver
        api.start()
        if o.print_mail:
            self._mail = MailPrinter(output=lambda text: print(text, flush=True)).start()
        env_vars_file = None if o.env_vars_file is None else str(o.env_vars_file)
        self.urls = StackUrls(api_url, f"{api_url}/", aws_url, dict(DEV_KEYS), provider_urls, env_vars_file)
        # As each provider's dashboard would be set up: the URL GET /v1/providers/{name}/webhook gives.
        for name, sandbox in self.sandboxes.items():
            sandbox.dashboard_webhook_url = self.webhook_url(name)
        self.faults.apply(o.faults)
        return self.urls

    def webhook_url(self, provider: str) -> str | None:
        """This deployment's webhook URL for `provider`, as the API gives it; None when it takes none."""
        assert self.urls is not None, "start() first"
        return webhook_url(self.urls.api, DEV_KEYS["secret"], provider)

    def _start_sandbox(self, sandbox_type: type[Sandbox], shown_host: str) -> None:
        server = BackgroundServer(None, self.options.host, self.options.port_of(sandbox_type))
        self._servers.append(server)  # stopped with the stack, even when the sandbox fails to start
        arguments = {**sandbox_defaults(), **self.options.sandbox_arguments}
        wrap = self.options.sandbox_wrapper
        sandbox = start_sandbox(sandbox_type, server, shown_host, arguments, self.faults.provider, wrap)
        self.sandboxes[sandbox_type.name] = sandbox

    def _register_dev_keys(self) -> None:
        if KEYS_FUNCTION not in self.lambdas:
            log.warning("no %s in the template: no dev keys", KEYS_FUNCTION)
            return
        for kind, key in DEV_KEYS.items():
            event = {"action": "import", "key": key, "client_id": DEV_CLIENT_ID, "name": f"local {kind} key"}
            result = self.lambdas.invoke(KEYS_FUNCTION, event)
            if isinstance(result, dict) and "error" in result:
                raise RuntimeError(f"could not register the dev key {key}: {result['error']}")

    def stop(self) -> None:
        self.faults.close()
        if self._mail is not None:
            self._mail.stop()
            self._mail = None
        for poller in self.pollers:
            poller.stop()
        self.pollers.clear()
        for queue_poller in self.queue_pollers:
            queue_poller.stop()
        self.queue_pollers.clear()
        for server in reversed(self._servers):
            server.stop()
        self._servers.clear()
        if self.aws is not None:
            self.aws.stop()
            self.aws = None
        restore_environment(self._previous_env)
        self._previous_env = {}

    def banner(self) -> str:
        assert self.urls is not None, "start() first"
        assert self.provisioned is not None
        return banner(self.urls, next(iter(self.provisioned.tables.values()), "TABLE"))


def banner(urls: StackUrls, table: str) -> str:
    titles = {sandbox.name: sandbox.title for sandbox in SANDBOXES}
    lines = [
        "idgate local stack",
        f"  API           {urls.api}/v1  (try: curl {urls.api}/v1/health)",
        f"  demo page     {urls.web}",
        f"  AWS endpoint  {urls.aws}  (aws --endpoint-url {urls.aws} dynamodb scan --table-name {table})",
        *(f"  {name:<13} {url} ({titles.get(name, name)} sandbox)" for name, url in urls.providers.items()),
        f"  dev keys      {urls.keys['secret']} (secret), {urls.keys['publishable']} (publishable)",
        f"  webhooks      {urls.api}/_devstack/receiver  (the demo's receiver: README, Webhooks)",
    ]
    if urls.env_vars_file is not None:
        path = urls.env_vars_file
        lines.append(f"  env vars      {path}  (sam local invoke <Function> --env-vars {path}, README)")
    return "\n".join(lines)
