"""Every sandbox makes the registration the local stack relies on to start it (base.Sandbox)."""

from __future__ import annotations

import argparse
import base64
import json
import re
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import pytest
from werkzeug.routing import Rule
from werkzeug.test import Client

from devstack.sandboxes import SANDBOXES, Sandbox
from devstack.sandboxes.datakeen import DatakeenSandbox
from devstack.sandboxes.faceki import FacekiSandbox
from devstack.sandboxes.jekimo import JekimoSandbox
from devstack.sandboxes.okid import OkidSandbox

PUBLIC = "http://127.0.0.1:4099"


def parsed(*argv: str) -> dict[str, Any]:
    parser = argparse.ArgumentParser()
    for kind in SANDBOXES:
        kind.add_arguments(parser)
    return vars(parser.parse_args(list(argv)))


def test_sandboxes_registers_each_provider_once() -> None:
    registered = [(k.name, k.title, k.default_port, k.api_path) for k in SANDBOXES]

    assert registered == [
        ("jekimo", "Jekimo", 3001, "/app.php/v1.1"),
        ("okid", "okID", 3002, ""),
        ("datakeen", "Datakeen IDify", 3003, "/backend"),
        ("faceki", "FACEKI (KYC link)", 3004, ""),
    ]
    assert (JekimoSandbox, OkidSandbox, DatakeenSandbox, FacekiSandbox) == SANDBOXES


def test_the_flags_and_their_defaults_are_the_contract() -> None:
    assert parsed() == {
        "jekimo_token_ttl": 120,
        "jekimo_qrcode": "image",
        "jekimo_timestamp": "seconds",
        "jekimo_without_url": False,
        "jekimo_without_risk": False,
        "okid_verification_ttl": 1800,
        "okid_side_images": "unredacted",
        "okid_unredacted_without_key": False,
        "datakeen_token_ttl": 86400,
        "datakeen_session_ttl": 3600,
        "faceki_token_ttl": 3600,
        "faceki_minute_seconds": 60,
    }
    flags = ["--jekimo-token-ttl", "30", "--okid-verification-ttl", "60"]
    flags += ["--datakeen-token-ttl", "90", "--datakeen-session-ttl", "120", "--faceki-token-ttl", "150"]
    flags += ["--faceki-minute-seconds", "2"]
    flags += ["--jekimo-qrcode", "link", "--jekimo-timestamp", "milliseconds", "--jekimo-without-url"]
    flags += ["--jekimo-without-risk", "--okid-side-images", "redacted", "--okid-unredacted-without-key"]
    assert parsed(*flags) == {
        "jekimo_token_ttl": 30,
        "jekimo_qrcode": "link",
        "jekimo_timestamp": "milliseconds",
        "jekimo_without_url": True,
        "jekimo_without_risk": True,
        "okid_verification_ttl": 60,
        "okid_side_images": "redacted",
        "okid_unredacted_without_key": True,
        "datakeen_token_ttl": 90,
        "datakeen_session_ttl": 120,
        "faceki_token_ttl": 150,
        "faceki_minute_seconds": 2,
    }


@pytest.mark.parametrize("kind", SANDBOXES)
def test_from_arguments_builds_the_sandbox_at_its_public_url(kind: type[Sandbox]) -> None:
    sandbox = kind.from_arguments(PUBLIC + "/", parsed())

    assert type(sandbox) is kind
    assert sandbox.public_base_url == PUBLIC
    assert sandbox.api_url() == PUBLIC + kind.api_path
    assert sandbox.dashboard_webhook_url is None


# -- the credentials open the sandbox's API ---------------------------------------------------------------


def jekimo_call(client: Client, credentials: Mapping[str, str]) -> int:
    headers = {"x-api-key": credentials["api_key"]}
    return client.post("/app.php/v1.1/auth/gettoken", headers=headers).status_code


def okid_call(client: Client, credentials: Mapping[str, str]) -> int:
    return client.post(
        "/api/generate-verification", headers={"X-SDK-Key": credentials["sdk_key"]}
    ).status_code


def datakeen_call(client: Client, credentials: Mapping[str, str]) -> int:
    auth = client.post("/backend/auth", json=dict(credentials))
    if auth.status_code != 200:
        return auth.status_code
    token = auth.json["data"]["token"]  # type: ignore[index]
    return client.get("/backend/admin/templates", headers={"Authorization": f"Basic {token}"}).status_code


def faceki_call(client: Client, credentials: Mapping[str, str]) -> int:
    query = {"clientId": credentials["client_id"], "clientSecret": credentials["client_secret"]}
    answer = client.get("/auth/api/access-token", query_string=query)
    if answer.status_code != 200:
        return answer.status_code
    token = answer.json["data"]["access_token"]  # type: ignore[index]
    return client.get("/kycrules/api/kycrules", headers={"Authorization": f"Bearer {token}"}).status_code


SECRET_FIELDS = {
    "jekimo": {"api_key"},
    "okid": {"sdk_key"},
    "datakeen": {"username", "password"},
    "faceki": {"client_id", "client_secret"},
}
AUTHENTICATED_CALLS: dict[str, Callable[[Client, Mapping[str, str]], int]] = {
    "jekimo": jekimo_call,
    "okid": okid_call,
    "datakeen": datakeen_call,
    "faceki": faceki_call,
}


@pytest.mark.parametrize("kind", SANDBOXES)
def test_the_credentials_are_what_idgates_client_needs_to_call_the_sandbox(kind: type[Sandbox]) -> None:
    sandbox = kind.from_arguments(PUBLIC, parsed())
    credentials = sandbox.credentials()

    wrong = {name: value + "-wrong" for name, value in credentials.items()}

    assert set(credentials) == SECRET_FIELDS[kind.name]
    assert all(isinstance(value, str) and value for value in credentials.values())
    assert AUTHENTICATED_CALLS[kind.name](Client(sandbox), credentials) == 200
    assert AUTHENTICATED_CALLS[kind.name](Client(sandbox), wrong) == 401


# -- the flags set the sandbox up ------------------------------------------------------------------------


def test_jekimo_token_ttl_sets_how_long_a_login_token_lives() -> None:
    sandbox = JekimoSandbox.from_arguments(PUBLIC, {"jekimo_token_ttl": 45})
    client = Client(sandbox)
    answer = client.post(
        "/app.php/v1.1/auth/gettoken", headers={"x-api-key": sandbox.credentials()["api_key"]}
    )
    url = answer.json["url"]  # type: ignore[index]

    page = client.get(url.removeprefix(PUBLIC)).get_data(as_text=True)

    assert re.search(r'data-expires-in="(44|45)"', page)


def test_the_jekimo_answer_flags_shape_its_answers() -> None:
    arguments = parsed(
        "--jekimo-qrcode",
        "link",
        "--jekimo-timestamp",
        "string",
        "--jekimo-without-url",
        "--jekimo-without-risk",
    )
    sandbox = JekimoSandbox.from_arguments(PUBLIC, arguments)
    client = Client(sandbox)
    key = {"x-api-key": sandbox.credentials()["api_key"]}

    token = client.post("/app.php/v1.1/auth/gettoken", headers=key).json
    checked = client.post("/app.php/v1.1/auth/check", headers={**key, "token": token["token"]}).json  # type: ignore[index]

    assert token is not None
    assert set(token) == {"token", "timestamp", "qrcode"}
    assert token["qrcode"].startswith(PUBLIC + "/app.php/v1.1/en/user/login/")
    assert isinstance(token["timestamp"], str)
    assert checked == {"status": "created", "pin": 0}


def test_the_okid_image_flags_pick_a_reading_of_its_images() -> None:
    arguments = parsed("--okid-side-images", "redacted", "--okid-unredacted-without-key")
    sandbox = OkidSandbox.from_arguments(PUBLIC, arguments)

    assert sandbox.images.serves("get-verification-image-back") == ("back", True)
    assert not sandbox.images.needs_key("get-verification-image-unredacted")
    default = OkidSandbox.from_arguments(PUBLIC, parsed())
    assert default.images.serves("get-verification-image-back") == ("back", False)
    assert default.images.needs_key("get-verification-image-unredacted")


def test_okid_verification_ttl_sets_expires_at() -> None:
    sandbox = OkidSandbox.from_arguments(PUBLIC, {"okid_verification_ttl": 600})
    before = int(time.time())

    answer = Client(sandbox).post(
        "/api/generate-verification", headers={"X-SDK-Key": sandbox.credentials()["sdk_key"]}
    )
    expires_at = answer.json["expiresAt"]  # type: ignore[index]

    lifetime = datetime.strptime(expires_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp() - before
    assert 600 <= lifetime <= 602


@pytest.mark.parametrize(
    ("arguments", "token_ttl", "session_ttl"),
    [({}, 86400, 3600), ({"datakeen_token_ttl": 90, "datakeen_session_ttl": 120}, 90, 120)],
)
def test_datakeen_ttls_set_the_token_and_session_lifetimes(
    arguments: dict[str, int], token_ttl: int, session_ttl: int
) -> None:
    sandbox = DatakeenSandbox.from_arguments(PUBLIC, arguments)
    client = Client(sandbox)
    token = client.post("/backend/auth", json=sandbox.credentials()).json["data"]["token"]  # type: ignore[index]
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    created = client.post("/backend/api/v1/session", headers={"Authorization": f"Basic {token}"})
    session_id = created.json["data"]["sessionId"]  # type: ignore[index]

    page = client.get(f"/client/test?sessionId={session_id}").get_data(as_text=True)

    assert claims["exp"] - claims["iat"] == token_ttl
    created = int(session_id[:8], 16)
    expires = datetime.fromtimestamp(created + session_ttl, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert f'<dd id="expires-at">{expires}</dd>' in page


@pytest.mark.parametrize(("arguments", "token_ttl"), [({}, 3600), ({"faceki_token_ttl": 150}, 150)])
def test_faceki_token_ttl_sets_the_tokens_expires_in(arguments: dict[str, int], token_ttl: int) -> None:
    sandbox = FacekiSandbox.from_arguments(PUBLIC, arguments)
    credentials = sandbox.credentials()
    query = {"clientId": credentials["client_id"], "clientSecret": credentials["client_secret"]}

    answer = Client(sandbox).get("/auth/api/access-token", query_string=query).json

    assert answer["data"]["expires_in"] == token_ttl  # type: ignore[index]
    assert sandbox.client_settings() == {}  # the client reads the lifetime from expires_in


# -- the dashboard webhook URL -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", SANDBOXES)
def test_the_dashboard_webhook_url_is_settable_and_must_be_http(kind: type[Sandbox]) -> None:
    sandbox = kind.from_arguments(PUBLIC, {})

    sandbox.dashboard_webhook_url = "http://127.0.0.1:3000/v1/webhooks/x/token"
    assert sandbox.dashboard_webhook_url == "http://127.0.0.1:3000/v1/webhooks/x/token"
    sandbox.dashboard_webhook_url = None
    assert sandbox.dashboard_webhook_url is None
    with pytest.raises(ValueError, match="dashboard_webhook_url"):
        sandbox.dashboard_webhook_url = "file:///etc/passwd"


def test_okids_webhook_url_is_its_dashboard_webhook_url() -> None:
    sandbox = OkidSandbox("okid-key", PUBLIC, webhook_url="http://127.0.0.1:3000/a")

    assert sandbox.dashboard_webhook_url == "http://127.0.0.1:3000/a"
    sandbox.dashboard_webhook_url = "http://127.0.0.1:3000/b"
    assert sandbox.webhook_url == "http://127.0.0.1:3000/b"


def test_a_sandbox_must_implement_the_whole_registration() -> None:
    class Incomplete(Sandbox):
        name, title, default_port, api_path = "incomplete", "Incomplete", 3999, ""

        @classmethod
        def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
            return None

    with pytest.raises(TypeError, match="abstract"):
        Incomplete(PUBLIC, [Rule("/", endpoint="x")])  # type: ignore[abstract]


def test_a_shortened_faceki_minute_is_the_clients_too() -> None:
    sandbox = FacekiSandbox.from_arguments(PUBLIC, {"faceki_minute_seconds": 2})
    assert sandbox.client_settings() == {"LINK_MINUTE_SECONDS": "2"}
    credentials = sandbox.credentials()
    query = {"clientId": credentials["client_id"], "clientSecret": credentials["client_secret"]}
    client = Client(sandbox)
    token = client.get("/auth/api/access-token", query_string=query).json["data"]["access_token"]  # type: ignore[index]
    created = client.post(
        "/kycverify/api/kycverify/kyc-verify-link",
        json={"expiryTime": 5, "applicationId": "ses_x"},
        headers={"Authorization": f"Bearer {token}"},
    ).json
    link = client.get(
        "/kycverify/api/kycverify/link",
        query_string={"linkId": created["data"]},  # type: ignore[index]
        headers={"Authorization": f"Bearer {token}"},
    ).json
    expires = datetime.fromisoformat(link["data"]["expiresAt"])  # type: ignore[index]
    assert 9 <= (expires - datetime.now(UTC)).total_seconds() <= 10
