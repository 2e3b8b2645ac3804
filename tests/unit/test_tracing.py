"""Tracing (idgate.tracing): off, nothing of X-Ray is imported; on, every provider call and every AWS call is
a subsegment, and no secret or personal data is in one.

Each case runs in a fresh interpreter, set up as Lambda sets one up, since tracing is per process (the X-Ray
SDK patches botocore for good). With tracing on, the X-Ray SDK sends what it records where Lambda's X-Ray
daemon would listen: here a UDP socket of the test, which reads exactly what would leave the function.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import idgate
from idgate.tracing import without_query
from tests.support.http_server import json_answer, scripted_server

REPO = Path(__file__).resolve().parents[2]
#: The layer's folder, as imported here (make mutation runs the tests on a copy of the package).
LAYER = str(Path(idgate.__file__).resolve().parents[1])
SECRET = "s3cr3t-credential-of-the-test"
EMAIL = "someone@example.com"
#: What Lambda sets, and what a sampled invocation's trace header says.
LAMBDA_ENVIRONMENT = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "ASIALOCALTRACINGTEST",
    "AWS_SECRET_ACCESS_KEY": "local-tracing-secret",
    "AWS_LAMBDA_FUNCTION_NAME": "idgate-ApiFunction",
    "LAMBDA_TASK_ROOT": str(REPO / "functions" / "api"),
    "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
    "POWERTOOLS_SERVICE_NAME": "idgate",
    "SESSIONS_TABLE": "SessionsTable",
    "KEYS_TABLE": "KeysTable",
}
#: The handler's cold start, its first invocation's dependencies, then provider calls (an answer, a 5xx, an
#: unreachable provider, each with a credential in the query and a header) and an AWS call.
PROBE = f"""
import json, sys
server, paths = sys.argv[1], sys.argv[2:]
sys.path[0:0] = paths
import app
from idgate.wiring import default_key_store, default_service
default_service()
default_key_store()
from idgate.errors import ProviderUnavailable
from idgate.providers.http import new_http_session, send
http = new_http_session(connect_retries=0)
credentials = {{"params": {{"clientSecret": "{SECRET}"}}, "headers": {{"x-api-key": "{SECRET}"}}}}
token = send(http, "GET", server + "/auth/api/access-token", provider="faceki", **credentials)
statuses = [token.status_code]
statuses.append(send(http, "POST", server + "/auth/check?token={SECRET}", provider="jekimo").status_code)
try:
    send(http, "GET", "http://127.0.0.1:9/api/x?clientSecret={SECRET}", provider="okid", **credentials)
except ProviderUnavailable:
    statuses.append("unreachable")
import boto3
from botocore.stub import Stubber
client = boto3.client("dynamodb")
with Stubber(client) as stub:
    stub.add_response("get_item", {{}}, {{"TableName": "SessionsTable", "Key": {{"pk": {{"S": "{EMAIL}"}}}}}})
    client.get_item(TableName="SessionsTable", Key={{"pk": {{"S": "{EMAIL}"}}}})
import botocore.client
xray = sorted(m for m in sys.modules if m.startswith("aws_xray_sdk"))
patched = hasattr(botocore.client, "_xray_enabled")
print(json.dumps({{"statuses": statuses, "xray": xray, "botocore_patched": patched}}))
"""


@pytest.fixture
def daemon() -> Iterator[socket.socket]:
    """Where the X-Ray SDK sends what it records (AWS_XRAY_DAEMON_ADDRESS)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(0.5)
        yield sock


def invoke(tracing: str | None, daemon: socket.socket) -> tuple[dict[str, Any], list[bytes]]:
    """Runs the probe in a fresh interpreter (POWERTOOLS_TRACE_DISABLED=`tracing`, or unset); returns what it
    printed and every datagram it sent to the daemon's address."""
    environment = {**LAMBDA_ENVIRONMENT, "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{daemon.getsockname()[1]}"}
    if tracing is not None:
        environment["POWERTOOLS_TRACE_DISABLED"] = tracing
    with scripted_server(json_answer({"token": "t"}), json_answer({}, status=503)) as server:
        out = subprocess.run(
            [sys.executable, "-c", PROBE, server.url, str(REPO / "functions" / "api"), LAYER],
            capture_output=True,
            text=True,
            check=False,
            env=environment,
            timeout=60,
        )
    assert out.returncode == 0, out.stderr
    datagrams = []
    try:
        while True:
            datagrams.append(daemon.recv(65535))
    except TimeoutError:
        pass
    return json.loads(out.stdout), datagrams


def documents(datagrams: list[bytes]) -> list[dict[str, Any]]:
    """The trace documents: each datagram is a header line, then one document."""
    found = []
    for datagram in datagrams:
        header, body = datagram.decode().split("\n", 1)
        assert json.loads(header) == {"format": "json", "version": 1}
        found.append(json.loads(body))
    return found


@pytest.mark.parametrize("setting", ["true", None])
def test_tracing_off_imports_no_xray_code_and_sends_nothing(daemon, setting):
    # Given a function whose tracing is off (the template's default), or not said
    # When it starts, builds its dependencies and calls providers and AWS
    printed, datagrams = invoke(setting, daemon)

    # Then the calls went through, nothing of X-Ray was imported or patched in, and nothing was sent
    assert printed["statuses"] == [200, 503, "unreachable"]
    assert printed["xray"] == []
    assert printed["botocore_patched"] is False
    assert datagrams == []


def test_tracing_on_records_each_provider_call_by_provider_and_each_aws_call(daemon):
    # Given a function whose tracing is on, in a sampled invocation
    # When it makes the same calls
    printed, datagrams = invoke("false", daemon)
    assert printed["statuses"] == [200, 503, "unreachable"]
    assert printed["xray"]
    assert printed["botocore_patched"] is True
    sent = documents(datagrams)
    calls = {document["name"]: document for document in sent}

    # Then each provider call is a remote subsegment named and annotated by its provider, in the invocation's
    # trace, with the method, the URL without its query string, and how it ended
    assert sorted(calls) == ["dynamodb", "faceki", "jekimo", "okid"]
    for document in sent:
        assert document["trace_id"] == "1-5759e988-bd862e3fe1be46a994272793"
        assert document["parent_id"] == "53995c3f42cd8ad8"
        assert document["type"] == "subsegment"
    faceki, jekimo, okid = calls["faceki"], calls["jekimo"], calls["okid"]
    assert (faceki["namespace"], faceki["annotations"]) == ("remote", {"provider": "faceki"})
    assert faceki["http"]["request"] == {"method": "GET", "url": faceki["http"]["request"]["url"]}
    assert faceki["http"]["request"]["url"].endswith("/auth/api/access-token")
    assert faceki["http"]["response"] == {"status": 200}
    assert "fault" not in faceki
    assert jekimo["annotations"] == {"provider": "jekimo"}
    assert jekimo["http"]["request"]["url"].endswith("/auth/check")
    assert (jekimo["http"]["response"], jekimo["fault"]) == ({"status": 503}, True)
    assert okid["annotations"] == {"provider": "okid"}
    assert okid["http"]["request"]["url"] == "http://127.0.0.1:9/api/x"
    [failure] = okid["cause"]["exceptions"]
    assert failure["type"] == "ProviderUnavailable"
    assert failure["message"] == "GET http://127.0.0.1:9/api/x failed: ConnectionError"

    # And the AWS call is the X-Ray SDK's subsegment of it
    dynamodb = calls["dynamodb"]
    assert dynamodb["namespace"] == "aws"
    assert dynamodb["aws"]["operation"] == "GetItem"
    assert dynamodb["aws"]["table_name"] == "SessionsTable"

    # And no credential, query string or item value left the function
    for datagram in datagrams:
        assert SECRET.encode() not in datagram
        assert b"clientSecret" not in datagram
        assert EMAIL.encode() not in datagram


def test_a_traced_url_keeps_no_query_fragment_or_user_info():
    assert (
        without_query("https://user:pw@api.example:8443/a/b?secret=1#frag") == "https://api.example:8443/a/b"
    )
    assert without_query("https://api.example/a") == "https://api.example/a"
    assert without_query("http://[::1]:8080/x?y=1") == "http://[::1]:8080/x"
