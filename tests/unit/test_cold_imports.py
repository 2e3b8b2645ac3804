"""A handler's cold start imports what every invocation needs, not what only some build on first use: boto3,
requests, the provider clients and the use cases come with the dependencies idgate.wiring builds lazily. And
those dependencies are what the function uses, no more. (How long a cold start takes is measured by
`make bench`, never here.)"""

from __future__ import annotations

import ast
import gc
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FUNCTIONS = sorted(path.parent.name for path in (REPO / "functions").glob("*/app.py"))
#: Modules that cost tens of milliseconds and that no handler needs before its first invocation builds them.
#: The X-Ray SDK is imported then too, and only where tracing is on (tests/unit/test_tracing.py).
LEFT_FOR_FIRST_USE = (
    "boto3",
    "s3transfer",
    "requests",
    "idgate.providers.registry",
    "idgate.service",
    "aws_xray_sdk",
)
PROBE = """
import json, sys
sys.path[0:0] = sys.argv[1:]
import app
print(json.dumps([name for name in {names} if name in sys.modules]))
"""


def test_every_function_is_checked():
    assert FUNCTIONS == ["api", "authorizer", "delivery", "fanout", "keys", "poll", "publisher", "webhook"]


@pytest.mark.parametrize("function", FUNCTIONS)
def test_importing_a_handler_leaves_the_heavy_modules_for_first_use(function):
    # Given a fresh interpreter with the function's folder, then the layer, first on its path
    paths = [str(REPO / "functions" / function), str(REPO / "layers" / "idgate")]
    # When it imports the handler
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(names=LEFT_FOR_FIRST_USE), *paths],
        capture_output=True,
        text=True,
        check=True,
        # Tracing on, as the template's `Tracing` parameter sets it: the import still leaves X-Ray for later.
        env={
            "AWS_DEFAULT_REGION": "us-east-1",
            "POWERTOOLS_SERVICE_NAME": "idgate",
            "POWERTOOLS_TRACE_DISABLED": "false",
        },
    )
    # Then none of them is imported yet
    assert json.loads(out.stdout) == []


#: Powertools' batch utility and the event sources' data classes it imports: the functions a stream or a queue
#: invokes report their failures with idgate.batches instead (it says why).
NO_BATCH_UTILITY = ("aws_lambda_powertools.utilities.batch", "aws_lambda_powertools.utilities.data_classes")
#: What a function's first invocation builds (idgate.wiring) leaves out, because that function never uses it:
#: the publisher builds the sessions table and the event publisher only, the authorizer and the keys function
#: the key store only; no function builds boto3's DynamoDB resource (idgate.dynamo says why), and only the
#: API's session creation draws a QR code (segno). The publisher reads sessions without their models
#: (idgate.announced), so imports no pydantic. The authorizer and the keys function import no pydantic
#: (the settings are a dataclass, idgate.settings): the authorizer validates nothing, the keys function its
#: commands with pydantic-core's validators alone (idgate.key_admin); pydantic and its first model were
#: about 0.25 of the floor of their cold starts (README, "cold starts").
NEVER_BUILT = {
    "api": ("boto3.dynamodb.table", "segno"),
    "webhook": ("boto3.dynamodb.table", "segno"),
    "poll": ("boto3.dynamodb.table", "segno"),
    "publisher": (
        "boto3.dynamodb.table",
        "requests",
        "idgate.providers.registry",
        "idgate.service",
        "idgate.follow_state",
        "idgate.api",
        "idgate.store",
        "idgate.domain",
        "pydantic",
        *NO_BATCH_UTILITY,
    ),
    "authorizer": (
        "boto3.dynamodb.table",
        "requests",
        "idgate.service",
        "idgate.store",
        "idgate.domain",
        "idgate.key_admin",
        "pydantic",
        "pydantic_core",
    ),
    "keys": (
        "boto3.dynamodb.table",
        "requests",
        "idgate.service",
        "idgate.store",
        "idgate.domain",
        "pydantic",
    ),
    # The webhook functions build the webhooks' store, queue and KMS only: no provider, no session use case.
    "fanout": (
        "boto3.dynamodb.table",
        "requests",
        "idgate.providers.registry",
        "idgate.service",
        "idgate.hooks.endpoints",
        *NO_BATCH_UTILITY,
    ),
    "delivery": (
        "boto3.dynamodb.table",
        "requests",
        "idgate.providers.registry",
        "idgate.service",
        "segno",
        "idgate.domain",
        *NO_BATCH_UTILITY,
    ),
}
BUILD_PROBE = """
import json, sys
sys.path[0:0] = sys.argv[1:]
import app
for name, value in list(vars(app).items()):
    if name.startswith("default_") and getattr(value, "__module__", "") == "idgate.wiring":
        value()
print(json.dumps([name for name in {names} if name in sys.modules]))
"""


def test_every_function_is_held_to_what_its_first_invocation_leaves_out():
    assert sorted(NEVER_BUILT) == FUNCTIONS


@pytest.mark.parametrize("function", FUNCTIONS)
def test_a_functions_first_invocation_builds_only_what_that_function_uses(function):
    # Given a fresh interpreter with the function's folder, then the layer, first on its path
    paths = [str(REPO / "functions" / function), str(REPO / "layers" / "idgate")]
    # When it imports the handler and builds what its first invocation builds (clients made, nothing called)
    out = subprocess.run(
        [sys.executable, "-c", BUILD_PROBE.format(names=NEVER_BUILT[function]), *paths],
        capture_output=True,
        text=True,
        check=True,
        env={"AWS_DEFAULT_REGION": "us-east-1", "SESSIONS_TABLE": "sessions", "KEYS_TABLE": "keys"},
    )
    # Then what the function never uses is still not imported
    assert json.loads(out.stdout) == []


FREEZE_PROBE = """
import gc, json, sys
sys.path[0:0] = sys.argv[1:]
import app
imported, collecting_after_the_import = gc.get_freeze_count(), gc.isenabled()
for name, value in list(vars(app).items()):
    if name.startswith("default_") and getattr(value, "__module__", "") == "idgate.wiring":
        value()
print(json.dumps([imported, gc.get_freeze_count() - imported, collecting_after_the_import, gc.isenabled()]))
"""


@pytest.mark.parametrize("function", FUNCTIONS)
def test_what_a_cold_start_makes_is_left_out_of_garbage_collection(function):
    # Given a fresh interpreter with the function's folder, then the layer, first on its path
    paths = [str(REPO / "functions" / function), str(REPO / "layers" / "idgate")]
    # When it imports the handler, then builds its first invocation's dependencies
    out = subprocess.run(
        [sys.executable, "-c", FREEZE_PROBE, *paths],
        capture_output=True,
        text=True,
        check=True,
        env={"AWS_DEFAULT_REGION": "us-east-1", "SESSIONS_TABLE": "sessions", "KEYS_TABLE": "keys"},
    )
    # Then what each made is frozen (idgate.wiring.freeze_long_lived): never traversed by a collection again
    frozen_by_the_import, frozen_by_the_build, collecting_after_import, collecting = json.loads(out.stdout)
    assert frozen_by_the_import > 0
    assert frozen_by_the_build > 0
    # and the collector, paused during the import and while the dependencies were built, runs again
    assert collecting_after_import is True
    assert collecting is True


@pytest.mark.parametrize("function", FUNCTIONS)
def test_a_handler_pauses_the_collector_before_its_first_import(function):
    # Given the handler's statements after its docstring and `from __future__ import annotations`
    tree = ast.parse((REPO / "functions" / function / "app.py").read_text())
    statements = [
        node
        for node in tree.body[1:]
        if not (isinstance(node, ast.ImportFrom) and node.module == "__future__")
    ]
    # Then the first two import the collector and pause it (idgate.wiring.freeze_long_lived resumes it)
    assert ast.unparse(statements[0]) == "import gc"
    assert ast.unparse(statements[1]) == "gc.disable()"
    # and the last freezes what the import made and resumes it
    assert ast.unparse(statements[-1]) == "freeze_long_lived()"


def test_a_build_pauses_the_collector_and_leaves_it_as_it_was():
    # Given the collector's state before a build, and the state it is in during the build
    from idgate import wiring

    states: list[bool] = []
    for before in (True, False):
        (gc.enable if before else gc.disable)()
        try:
            # When something is built as the builders build
            with wiring.built_long_lived():
                states.append(gc.isenabled())
            after = gc.isenabled()
        finally:
            gc.enable()
        # Then the collector was paused during the build, and is as it was after it
        assert after is before
    assert states == [False, False]
