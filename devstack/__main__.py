"""`python -m devstack`: the whole application on this machine, until Ctrl-C or SIGTERM.

Once serving it prints `devstack ready {json}` (the URLs, the dev keys and the file for
`sam local invoke --env-vars`) on one line, for scripts and tests.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import time
from pathlib import Path
from types import FrameType

from devstack import faults
from devstack.lambdas import DEFAULT_CONCURRENCY
from devstack.sandboxes import SANDBOXES
from devstack.stack import LocalStack, StackOptions
from devstack.template import DEFAULT_TEMPLATE, REPO_ROOT

READY_PREFIX = "devstack ready "
#: Where `make run` writes the file for `sam local invoke --env-vars` (git ignores .devstack/).
DEFAULT_ENV_VARS_FILE = REPO_ROOT / ".devstack" / "env.json"
#: How often the main thread looks whether SIGINT or SIGTERM asked it to stop.
STOP_POLL_SECONDS = 0.2


def _at_least_one(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _backoff_scale(text: str) -> float:
    value = float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError("a factor above 0, at most 1")
    return value


def parse_args(argv: list[str] | None = None) -> StackOptions:
    parser = argparse.ArgumentParser(prog="python -m devstack", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000, help="HTTP API and demo page (0: any free port)")
    parser.add_argument("--aws-port", type=int, default=4566, help="local AWS endpoint (0: any free port)")
    for sandbox in SANDBOXES:
        parser.add_argument(
            f"--{sandbox.name}-port",
            type=int,
            default=sandbox.default_port,
            help=f"{sandbox.title} sandbox (0: any free port)",
        )
        sandbox.add_arguments(parser)
    parser.add_argument(
        "--allow-unredacted-images", action="store_true", help="set the AllowUnredactedImages parameter"
    )
    parser.add_argument("--poll-interval", type=int, default=5, help="seconds between two provider checks")
    parser.add_argument("--pin-ttl", type=int, default=600, help="seconds a two-factor PIN is valid")
    parser.add_argument(
        "--delivery-backoff-scale",
        type=_backoff_scale,
        default=1.0,
        help="multiplies the webhook retry schedule (0.01: 5 min, 30 min, 2 h... become 3 s, 18 s, 72 s...)",
    )
    parser.add_argument(
        "--secure-webhook-urls",
        action="store_true",
        help="leave AllowInsecureWebhookUrls off: webhook endpoints must then be https to public addresses",
    )
    parser.add_argument(
        "--provider-cooldown",
        type=_at_least_one,
        default=60,
        help="seconds a provider that failed three starts in a row is passed over by the routing",
    )
    parser.add_argument(
        "--lambda-concurrency",
        type=_at_least_one,
        default=DEFAULT_CONCURRENCY,
        help="invocations of one function that run at once, as Lambda runs them (more wait for a free one)",
    )
    parser.add_argument("--template", type=Path, default=DEFAULT_TEMPLATE, help="the SAM template to run")
    parser.add_argument(
        "--env-vars-file",
        type=Path,
        default=DEFAULT_ENV_VARS_FILE,
        help="where to write the `sam local invoke --env-vars` file that points the functions at this stack",
    )
    parser.add_argument("--log-level", default="INFO", help="devstack's own log level")
    faults.add_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(name)s: %(message)s", datefmt="%X"
    )
    logging.getLogger("botocore").setLevel(logging.WARNING)  # "Found credentials..." on every new client
    values = vars(args)
    ports = {sandbox.name: values.pop(f"{sandbox.name}_port") for sandbox in SANDBOXES}
    return StackOptions(
        host=values.pop("host"),
        port=values.pop("port"),
        aws_port=values.pop("aws_port"),
        sandbox_ports=ports,
        allow_unredacted_images=values.pop("allow_unredacted_images"),
        poll_interval=values.pop("poll_interval"),
        pin_ttl=values.pop("pin_ttl"),
        delivery_backoff_scale=values.pop("delivery_backoff_scale"),
        allow_insecure_webhook_urls=not values.pop("secure_webhook_urls"),
        provider_cooldown=values.pop("provider_cooldown"),
        lambda_concurrency=values.pop("lambda_concurrency"),
        template=values.pop("template"),
        env_vars_file=values.pop("env_vars_file"),
        faults=faults.FaultSettings.from_arguments(values),
        # What is left are the sandboxes' own options.
        sandbox_arguments={name: value for name, value in values.items() if name != "log_level"},
    )


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    signals: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        # Only a note, and no lock: a handler runs in the main thread between any two of its steps. Setting a
        # threading.Event here (which takes the Event's lock) hung for good when a signal came while the main
        # thread held that lock, waiting on the same Event, and every later signal was then ignored.
        signals.append(signum)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        stack = LocalStack(options)
        urls = stack.start()
    except Exception:
        logging.getLogger("devstack").exception("the local stack did not start")
        return 1
    print(stack.banner(), flush=True)
    print(READY_PREFIX + json.dumps(urls.as_dict()), flush=True)
    while not signals:
        time.sleep(STOP_POLL_SECONDS)  # a signal cuts it short, runs the handler, then it sleeps on
    print("stopping", flush=True)
    stack.stop()
    print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
