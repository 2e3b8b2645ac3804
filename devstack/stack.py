"""The whole application on this machine: local AWS, the template's resources, the handlers, the provider
sandboxes (Jekimo, okID), the HTTP API and the mail printer. `python -m devstack` runs it; tests start it
from Python."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from devstack.aws import LocalAws
from devstack.gateway import Gateway
from devstack.lambdas import Lambdas, apply_environment, function_environment, restore_environment
from devstack.mail import MailPrinter
from devstack.provision import Provisioned, provision
from devstack.sandboxes.jekimo import JekimoSandbox
from devstack.sandboxes.okid import OkidSandbox
from devstack.server import BackgroundServer
from devstack.template import DEFAULT_TEMPLATE, REPO_ROOT, Resolver, Template, load_template

log = logging.getLogger("devstack")

JEKIMO_API_KEY = "jekimo-sandbox-key"
JEKIMO_SECRET = "JekimoSecret"  # noqa: S105 - the template's secret the Jekimo client reads its key from
JEKIMO_API_PATH = "/app.php/v1.1"
OKID_SDK_KEY = "okid-sandbox-key"
OKID_SECRET = "OkidSecret"  # noqa: S105 - the template's secret the okID client reads its key from
WEBHOOK_SECRET = "WebhookSecret"  # noqa: S105 - the template's secret holding the webhook path tokens
#: Local return_url hosts (okID); the deployed default allows none.
LOCAL_RETURN_URL_HOSTS = "localhost,127.0.0.1"
KEYS_FUNCTION = "KeysFunction"
POLL_PARAMETER = "PollIntervalSeconds"
DEV_KEYS = {"secret": "sk_local_dev", "publishable": "pk_local_dev"}
DEV_CLIENT_ID = "local-dev"


@dataclass
class StackOptions:
    host: str = "127.0.0.1"
    port: int = 3000  # 0 for any free port, for each of the three
    aws_port: int = 4566
    jekimo_port: int = 3001
    okid_port: int = 3002
    okid_verification_ttl: int = 1800
    allow_unredacted_images: bool = False
    poll_interval: int = 5  # the template's PollIntervalSeconds
    jekimo_token_ttl: int = 120
    pin_ttl: int = 600
    template: Path = DEFAULT_TEMPLATE
    web_root: Path | None = REPO_ROOT / "web"
    parameters: dict[str, Any] = field(default_factory=dict)  # more template parameter values
    environment: dict[str, str] = field(default_factory=dict)  # more function environment variables
    print_mail: bool = True


@dataclass(frozen=True)
class StackUrls:
    api: str
    web: str
    aws: str
    jekimo: str  # the sandbox's API base, as JEKIMO_BASE_URL
    okid: str  # the sandbox's portal, as OKID_PORTAL_URL
    keys: dict[str, str]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class LocalStack:
    def __init__(self, options: StackOptions | None = None) -> None:
        self.options = options or StackOptions()
        self.template: Template = load_template(self.options.template)
        self.lambdas = Lambdas(layers=self.template.layer_dirs())
        self.aws: LocalAws | None = None
        self.resolver: Resolver | None = None
        self.provisioned: Provisioned | None = None
        self.gateway: Gateway | None = None
        self.urls: StackUrls | None = None
        self._servers: list[BackgroundServer] = []
        self._mail: MailPrinter | None = None
        self.okid: OkidSandbox | None = None
        self._previous_env: dict[str, str | None] = {}

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
        self.aws = LocalAws(self.lambdas, host=o.host, port=o.aws_port).start()
        self.aws.reset()  # a fresh stack, even when an earlier one ran in this process
        aws_url = f"http://{shown_host}:{self.aws.port}"
        jekimo_url = self._start_jekimo(shown_host)
        okid_url = self._start_okid(shown_host)

        parameters = {
            POLL_PARAMETER: o.poll_interval,
            "ReturnUrlAllowedHosts": LOCAL_RETURN_URL_HOSTS,
            "AllowUnredactedImages": "true" if o.allow_unredacted_images else "false",
        }
        # Only the parameters this template has (tests run smaller templates).
        parameters = {name: value for name, value in parameters.items() if name in self.template.parameters}
        resolver = self.template.resolver(parameters={**parameters, **o.parameters})
        self.aws.find_function = resolver.function_logical_id
        secrets = {
            JEKIMO_SECRET: json.dumps({"api_key": JEKIMO_API_KEY}),
            OKID_SECRET: json.dumps({"sdk_key": OKID_SDK_KEY}),
        }
        self.provisioned = provision(self.template, aws_url, resolver, secret_values=secrets)
        self.resolver = resolver.with_refs(self.provisioned.refs)

        functions = self.template.functions(self.resolver)
        self.lambdas.functions.update(functions)
        overrides = {
            "PIN_TTL_SECONDS": str(o.pin_ttl),
            "JEKIMO_BASE_URL": jekimo_url,
            "JEKIMO_TOKEN_TTL_SECONDS": str(o.jekimo_token_ttl),
            "OKID_PORTAL_URL": okid_url,
        }
        env = function_environment(functions.values(), aws_url, {**overrides, **o.environment})
        self._previous_env = apply_environment(env)
        self.lambdas.load_all()  # import errors show now, not on the first request
        self._register_dev_keys()

        self.gateway = Gateway(self.template.http_api(self.resolver), self.lambdas.invoke, o.web_root)
        api = BackgroundServer(self.gateway, o.host, o.port)
        self._servers.append(api.start())
        if o.print_mail:
            self._mail = MailPrinter(output=lambda text: print(text, flush=True)).start()
        api_url = f"http://{shown_host}:{api.port}"
        # As okID's dashboard would be set up: the webhook URL that GET /v1/providers/okid/webhook gives.
        assert self.okid is not None
        assert self.provisioned is not None
        if WEBHOOK_SECRET in self.provisioned.secrets:
            self.okid.webhook_url = f"{api_url}/v1/webhooks/okid/{self.webhook_token('okid')}"
        self.urls = StackUrls(api_url, f"{api_url}/", aws_url, jekimo_url, okid_url, dict(DEV_KEYS))
        return self.urls

    def webhook_token(self, provider: str) -> str:
        assert self.aws is not None
        assert self.provisioned is not None
        secret = self.aws.client("secretsmanager").get_secret_value(
            SecretId=self.provisioned.secrets[WEBHOOK_SECRET]
        )
        return str(json.loads(secret["SecretString"])[provider])

    def _start_okid(self, shown_host: str) -> str:
        server = BackgroundServer(None, self.options.host, self.options.okid_port)
        self._servers.append(server)
        public = f"http://{shown_host}:{server.port}"
        self.okid = OkidSandbox(
            OKID_SDK_KEY, public, verification_ttl_seconds=self.options.okid_verification_ttl
        )
        server.app = self.okid
        server.start()
        return public

    def _start_jekimo(self, shown_host: str) -> str:
        server = BackgroundServer(None, self.options.host, self.options.jekimo_port)
        self._servers.append(server)
        # Bound first, so the sandbox knows its own URL (it links to itself) even for port 0.
        public = f"http://{shown_host}:{server.port}"
        server.app = JekimoSandbox(
            api_key=JEKIMO_API_KEY, public_base_url=public, token_ttl_seconds=self.options.jekimo_token_ttl
        )
        server.start()
        return public + JEKIMO_API_PATH

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
        if self._mail is not None:
            self._mail.stop()
            self._mail = None
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
    lines = [
        "idgate local stack",
        f"  API           {urls.api}/v1  (try: curl {urls.api}/v1/health)",
        f"  demo page     {urls.web}",
        f"  AWS endpoint  {urls.aws}  (aws --endpoint-url {urls.aws} dynamodb scan --table-name {table})",
        f"  Jekimo        {urls.jekimo} (sandbox)",
        f"  okID          {urls.okid} (sandbox)",
        f"  dev keys      {urls.keys['secret']} (secret), {urls.keys['publishable']} (publishable)",
    ]
    return "\n".join(lines)
