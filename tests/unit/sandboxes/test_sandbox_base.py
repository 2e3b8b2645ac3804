"""The sandboxes' shared base: routing to on_<endpoint> methods, error answers, bodies, keys and helpers."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

import pytest
from werkzeug.routing import Rule
from werkzeug.test import Client
from werkzeug.wrappers import Request, Response

from devstack.sandboxes.base import (
    MAX_BODY_BYTES,
    SandboxApp,
    SandboxError,
    is_http_url,
    iso_seconds,
    json_object,
    key_digest,
    matching_digest,
    qr_png_base64,
)
from devstack.sandboxes.pages import json_response, render
from tests.support.http_server import json_answer, scripted_server


class ItemsApp(SandboxApp):
    """A minimal sandbox: GET /items/<id>, POST /items (echoes its JSON object body)."""

    name = "items"

    def __init__(self, public_base_url: str = "http://127.0.0.1:4090/") -> None:
        rules = [
            Rule("/items/<item_id>", endpoint="item", methods=["GET"]),
            Rule("/items", endpoint="create", methods=["POST"]),
        ]
        super().__init__(public_base_url, rules)

    def on_item(self, request: Request, item_id: str) -> Response:
        if item_id == "missing":
            raise SandboxError(404, "No such item")
        if item_id == "taken":
            raise SandboxError(409, "Taken", "ITEM_TAKEN")
        return json_response({"id": item_id, "query": request.args.get("q")})

    def on_create(self, request: Request) -> Response:
        return json_response(json_object(request, empty_ok=request.args.get("empty") == "ok"), 201)


class StatusBodyApp(ItemsApp):
    """The same app answering errors in another provider's shape."""

    def error_body(self, error: SandboxError) -> Mapping[str, object]:
        return {"status": error.status, "message": error.message}


@pytest.fixture
def client() -> Client:
    return Client(ItemsApp())


# -- routing and errors ------------------------------------------------------------------------------------


def test_a_rule_routes_to_its_on_endpoint_method_with_the_path_arguments(client: Client) -> None:
    response = client.get("/items/abc?q=1")

    assert response.status_code == 200
    assert response.json == {"id": "abc", "query": "1"}


def test_an_unknown_path_is_a_json_404(client: Client) -> None:
    response = client.get("/nothing/here")

    assert response.status_code == 404
    assert response.mimetype == "application/json"
    assert response.json == {"error": "NOT_FOUND", "message": "Not Found"}


@pytest.mark.parametrize(
    ("method", "path", "allow"), [("POST", "/items/abc", "GET, HEAD"), ("GET", "/items", "POST")]
)
def test_a_refused_method_is_a_json_405_with_allow(
    client: Client, method: str, path: str, allow: str
) -> None:
    response = client.open(path, method=method)

    assert response.status_code == 405
    assert response.json == {"error": "METHOD_NOT_ALLOWED", "message": "Method Not Allowed"}
    assert response.headers["Allow"] == allow


@pytest.mark.parametrize(
    ("item", "status", "body"),
    [
        ("missing", 404, {"error": "NOT_FOUND", "message": "No such item"}),
        ("taken", 409, {"error": "ITEM_TAKEN", "message": "Taken"}),
    ],
)
def test_a_sandbox_error_is_answered_as_json(
    client: Client, item: str, status: int, body: dict[str, str]
) -> None:
    response = client.get(f"/items/{item}")

    assert response.status_code == status
    assert response.json == body
    assert response.headers["Cache-Control"] == "no-store"


def test_a_sandbox_shapes_every_error_its_own_way() -> None:
    client = Client(StatusBodyApp())

    assert client.get("/items/missing").json == {"status": 404, "message": "No such item"}
    assert client.get("/nothing").json == {"status": 404, "message": "Not Found"}
    assert client.get("/items").json == {"status": 405, "message": "Method Not Allowed"}


def test_the_public_base_url_loses_its_trailing_slash() -> None:
    assert ItemsApp("http://127.0.0.1:4090/").public_base_url == "http://127.0.0.1:4090"


@pytest.mark.parametrize("url", ["127.0.0.1:4090", "ftp://h/", "http://", ""])
def test_the_public_base_url_must_be_http(url: str) -> None:
    with pytest.raises(ValueError, match="http"):
        ItemsApp(url)


# -- JSON bodies --------------------------------------------------------------------------------------------


def post(client: Client, data: str | bytes, content_type: str = "application/json", query: str = "") -> Any:
    return client.post(f"/items{query}", data=data, content_type=content_type)


def test_a_json_object_body_is_read(client: Client) -> None:
    response = post(client, '{"a": [1, 2]}')

    assert response.status_code == 201
    assert response.json == {"a": [1, 2]}


@pytest.mark.parametrize(
    ("data", "content_type", "message"),
    [
        ("{not json", "application/json", "The body is not valid JSON"),
        (b"\xff\xfe", "application/json", "The body is not valid JSON"),
        ("[1]", "application/json", "The body must be a JSON object"),
        ('"text"', "application/json", "The body must be a JSON object"),
        ('{"a": 1}', "text/plain", "Content-Type must be application/json"),
        ("", "application/json", "The body is not valid JSON"),
    ],
)
def test_a_bad_body_is_a_400(client: Client, data: str | bytes, content_type: str, message: str) -> None:
    response = post(client, data, content_type)

    assert response.status_code == 400
    assert response.json == {"error": "BAD_REQUEST", "message": message}


def test_an_empty_body_is_an_empty_object_when_allowed_whatever_its_type(client: Client) -> None:
    assert post(client, "", "text/plain", query="?empty=ok").json == {}
    assert post(client, "  \n", "application/json", query="?empty=ok").json == {}


def test_a_body_over_the_limit_is_a_413(client: Client) -> None:
    body = json.dumps({"blob": "x" * MAX_BODY_BYTES})

    response = post(client, body)

    assert response.status_code == 413
    assert response.json["message"] == f"The body is larger than {MAX_BODY_BYTES} bytes"


def test_a_body_at_the_limit_is_read(client: Client) -> None:
    body = '{"blob": "' + "x" * (MAX_BODY_BYTES - 12) + '"}'
    assert len(body) == MAX_BODY_BYTES

    assert post(client, body).status_code == 201


# -- keys and helpers --------------------------------------------------------------------------------------


def test_matching_digest_finds_the_key_among_known_digests() -> None:
    known = [key_digest("first-key"), key_digest("second-key")]

    assert matching_digest("second-key", known) == known[1]
    assert matching_digest("third-key", known) is None
    assert matching_digest("", [key_digest("")]) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("http://127.0.0.1:3000/v1/webhooks/x", True),
        ("https://shop.example", True),
        ("ftp://shop.example/x", False),
        ("javascript:alert(1)", False),
        ("//shop.example/x", False),
        ("https://" + "a" * 2050, False),
        (42, False),
        (None, False),
    ],
)
def test_is_http_url(value: object, expected: bool) -> None:
    assert is_http_url(value) is expected


def test_iso_seconds_is_utc_with_whole_seconds() -> None:
    assert iso_seconds(1_764_499_200.75) == "2025-11-30T10:40:00Z"


def test_qr_png_base64_is_a_bare_base64_png() -> None:
    encoded = qr_png_base64("http://127.0.0.1:3003/client/test?sessionId=1")

    assert base64.b64decode(encoded, validate=True).startswith(b"\x89PNG\r\n\x1a\n")


def test_render_fills_placeholders_with_escaped_values() -> None:
    rendered = render('<a href="__URL__">__TEXT__</a>', {"__URL__": 'x"><b', "__TEXT__": "<i>"})

    assert rendered == '<a href="x&quot;&gt;&lt;b">&lt;i&gt;</a>'


# -- webhooks ---------------------------------------------------------------------------------------------


def test_webhooks_are_logged_by_the_sandboxs_module_under_its_name(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO")
    app = ItemsApp()
    with scripted_server(json_answer({})) as server:
        app.start_webhook(server.url + "/hooks/items/secret-token", {"id": "abc"}, "created for abc")
        app.flush_webhooks()

        assert [json.loads(r.body) for r in server.requests] == [{"id": "abc"}]
        assert server.requests[0].headers["user-agent"] == "sandbox-webhook/1.0"
    ours = [r.getMessage() for r in caplog.records if r.name == __name__]
    assert ours == ["items sandbox: webhook created for abc to /hooks/items/*** -> 200 (attempt 1 of 3)"]
    assert app.webhook_deliveries == [(200, {"id": "abc"})]
