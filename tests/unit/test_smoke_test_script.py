"""scripts/smoke-test against a programmed API on loopback: what it sends, which answers it passes and
fails, and that it never prints the key, the client secret or the verification URL, whatever it is
answered. (tests/e2e/test_smoke_test.py runs it against the local stack.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from werkzeug.wrappers import Request, Response

from tests.support.http_server import scripted_server

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "smoke-test"
KEY = "sk_test_0123456789abcdefghij"
CLIENT_SECRET = "cs_secret_of_the_session_0123"
VERIFICATION_URL = "https://login.example.com/auth?token=tok_0123456789secret"
SESSION_ID = "ses_smoke0123456789"


def created(**changes: Any) -> dict[str, Any]:
    body = {
        "id": SESSION_ID,
        "provider": "jekimo",
        "status": "pending",
        "reference": None,  # replaced by the reference the script sent
        "client_secret": CLIENT_SECRET,
        "verification_url": VERIFICATION_URL,
        "qr_code": "data:image/png;base64,iVBORw0KGgo=",
        "expires_at": "2026-11-22T20:02:00Z",
        "created_at": "2026-11-22T20:00:00Z",
    }
    return {**body, **changes}


def session(**changes: Any) -> dict[str, Any]:
    body = {
        "id": SESSION_ID,
        "provider": "jekimo",
        "status": "pending",
        "reference": "smoke-test-x",
        "verification_url": VERIFICATION_URL,
        "result": None,
        "created_at": "2026-11-22T20:00:00Z",
        "updated_at": "2026-11-22T20:00:00Z",
        "expires_at": "2026-11-22T20:02:00Z",
        "finalized_at": None,
    }
    return {**body, **changes}


def api(
    *,
    create: Callable[[dict[str, Any]], tuple[int, Any]] | None = None,
    read: tuple[int, Any] | None = None,
) -> Callable[[Request], Response]:
    """An idgate API by route; `create` gets the request's body, so a 201 can echo its reference."""

    def answer(request: Request) -> Response:
        if request.path == "/v1/health":
            status, body = 200, {"status": "ok"}
        elif request.path == "/v1/sessions" and request.method == "POST":
            sent = json.loads(request.get_data())
            status, body = create(sent) if create else (201, created(reference=sent["reference"]))
        elif request.path == f"/v1/sessions/{SESSION_ID}":
            status, body = read or (200, session())
        else:
            status, body = 404, {"message": "Not Found"}
        text = body if isinstance(body, str) else json.dumps(body)
        return Response(text, status=status, content_type="application/json")

    return answer


def smoke(url: str, *args: str, key: str | None = KEY) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if name != "IDGATE_SECRET_KEY"}
    if key is not None:
        env["IDGATE_SECRET_KEY"] = key
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--url", url, "--timeout", "5", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def printed(run: subprocess.CompletedProcess[str]) -> str:
    return run.stdout + run.stderr


def assert_nothing_secret(run: subprocess.CompletedProcess[str]) -> None:
    for secret in (KEY, CLIENT_SECRET, VERIFICATION_URL, "tok_0123456789secret"):
        assert secret not in printed(run)


def test_it_is_an_executable_python_script() -> None:
    assert os.access(SCRIPT, os.X_OK)
    assert SCRIPT.read_text().startswith("#!/usr/bin/env python3\n")


def test_a_working_api_passes_every_step_with_the_calls_the_api_documents() -> None:
    # Given an API that answers as openapi.yaml says
    with scripted_server(api()) as server:
        # When the smoke test runs
        run = smoke(server.url + "/")
    # Then each step passes, and it exits 0
    assert run.returncode == 0, printed(run)
    assert [line.split(":")[0] for line in run.stdout.splitlines()] == [
        "PASS health",
        "PASS create",
        "PASS read",
        "smoke test passed",
    ]
    assert SESSION_ID in run.stdout
    # And it asked for health without a key, then created a Jekimo session and read it with the key
    health, create, read = server.requests
    assert (health.method, health.path, "authorization" in health.headers) == ("GET", "/v1/health", False)
    assert (create.method, create.path) == ("POST", "/v1/sessions")
    assert create.headers["authorization"] == f"Bearer {KEY}"
    body = json.loads(create.body)
    assert body["provider"] == "jekimo"
    assert body["reference"].startswith("smoke-test-")
    assert (read.method, read.path, read.headers["authorization"]) == (
        "GET",
        f"/v1/sessions/{SESSION_ID}",
        f"Bearer {KEY}",
    )
    assert_nothing_secret(run)


def test_the_provider_is_a_flag() -> None:
    faceki = api(
        create=lambda sent: (201, created(provider="faceki", reference=sent["reference"])),
        read=(200, session(provider="faceki")),
    )
    with scripted_server(faceki) as server:
        run = smoke(server.url, "--provider", "faceki")
        sent = json.loads(server.requests[1].body)
    assert run.returncode == 0, printed(run)
    assert sent["provider"] == "faceki"


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        (
            lambda sent: (201, {**created(reference=sent["reference"]), "client_secret": None}),
            "no client secret",
        ),
        (
            lambda sent: (
                201,
                {k: v for k, v in created(reference=sent["reference"]).items() if k != "qr_code"},
            ),
            "lacks qr_code",
        ),
        (lambda sent: (201, created(reference=sent["reference"], status="approved")), "not pending"),
        (lambda sent: (201, created(reference="someone else's")), "reference"),
        (lambda sent: (201, created(reference=sent["reference"], provider="okid")), "provider is not jekimo"),
        (lambda sent: (201, created(reference=sent["reference"], expires_at="soon")), "expires_at"),
        (
            lambda sent: (201, created(reference=sent["reference"], verification_url="nope")),
            "verification_url",
        ),
        (lambda sent: (200, created(reference=sent["reference"])), "answered 200"),
        (lambda sent: (201, "<html>"), "not a JSON object"),
    ],
)
def test_a_creation_the_api_does_not_document_fails(
    answer: Callable[[dict[str, Any]], tuple[int, Any]], said: str
) -> None:
    with scripted_server(api(create=answer)) as server:
        run = smoke(server.url)
        paths = [request.path for request in server.requests]
    assert run.returncode == 1
    assert "PASS health" in run.stdout
    fail = next(line for line in run.stdout.splitlines() if line.startswith("FAIL"))
    assert fail.startswith("FAIL create:")
    assert said in fail
    # And the read that needs the session is skipped, not attempted
    assert "SKIP read" in run.stdout
    assert paths == ["/v1/health", "/v1/sessions"]
    assert_nothing_secret(run)


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        ((200, session(id="ses_another")), "another session"),
        ((200, session(status="finished")), "documented"),
        ((200, session(status="approved")), "result must be present"),
        ((200, session(result={"decision": "pending"})), "result must be present"),
        ((200, session(status="declined", result={"decision": "declined"})), "result lacks"),
        ((200, {k: v for k, v in session().items() if k != "updated_at"}), "lacks updated_at"),
        ((404, {"error": {"code": "session_not_found", "message": "no such session"}}), "session_not_found"),
    ],
)
def test_a_read_the_api_does_not_document_fails(answer: tuple[int, Any], said: str) -> None:
    with scripted_server(api(read=answer)) as server:
        run = smoke(server.url)
    assert run.returncode == 1
    fail = next(line for line in run.stdout.splitlines() if line.startswith("FAIL"))
    assert fail.startswith("FAIL read:")
    assert said in fail
    assert_nothing_secret(run)


def test_a_refused_key_fails_with_why_and_never_prints_the_key() -> None:
    # Given API Gateway's answer to an unknown key
    with scripted_server(api(create=lambda _sent: (403, {"message": "Forbidden"}))) as server:
        run = smoke(server.url)
    assert run.returncode == 1
    assert "FAIL create: answered 403 Forbidden" in run.stdout
    assert "IDGATE_SECRET_KEY is not a key of this deployment, or it was revoked" in run.stdout
    assert_nothing_secret(run)


def test_the_key_is_hidden_even_where_an_answer_repeats_it() -> None:
    # Given a (misbehaving) API whose error message repeats the Authorization header and the session's secrets
    echoed = f"Bearer {KEY} {CLIENT_SECRET} {VERIFICATION_URL}"
    with scripted_server(api(read=(500, {"error": {"code": "internal_error", "message": echoed}}))) as server:
        run = smoke(server.url)
    assert run.returncode == 1
    assert "FAIL read: answered 500 internal_error: Bearer [hidden] [hidden] [hidden]" in run.stdout
    assert_nothing_secret(run)


def test_a_provider_without_credentials_points_at_its_secret() -> None:
    refused = {"error": {"code": "provider_auth_failed", "message": "the jekimo secret has no api_key"}}
    with scripted_server(api(create=lambda _sent: (502, refused))) as server:
        run = smoke(server.url)
    assert run.returncode == 1
    assert "provider_auth_failed" in run.stdout
    assert "put the provider's credentials in its secret" in run.stdout


def test_an_unreachable_api_fails_the_first_step() -> None:
    with scripted_server(api()) as server:
        url = server.url  # the port is free again once the server is gone
    run = smoke(url)
    assert run.returncode == 1
    assert run.stdout.startswith("FAIL health: could not reach the API")
    assert "SKIP create\nSKIP read" in run.stdout


@pytest.mark.parametrize(
    ("key", "url", "said"),
    [
        (None, "https://api.example.com", "set IDGATE_SECRET_KEY"),
        ("", "https://api.example.com", "set IDGATE_SECRET_KEY"),
        ("pk_test_0123456789", "https://api.example.com", "is not a secret key"),
        (KEY, "http://api.example.com", "must be https"),
        (KEY, "ftp://api.example.com", "absolute https URL"),
        (KEY, "api.example.com", "absolute https URL"),
        (KEY, "https://api.example.com/?stage=prod", "without a query"),
    ],
)
def test_a_wrong_command_is_refused_before_any_request(key: str | None, url: str, said: str) -> None:
    # api.example.com is never asked: a request would fail the run with 1, not 2
    run = smoke(url, key=key)
    assert run.returncode == 2
    assert said in run.stderr
    assert run.stdout == ""
    assert_nothing_secret(run)


def test_http_is_allowed_on_this_machine_only() -> None:
    with scripted_server(api()) as server:
        run = smoke(server.url.replace("127.0.0.1", "localhost"))
    assert run.returncode == 0, printed(run)
