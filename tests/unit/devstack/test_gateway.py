"""The HTTP API emulator behaves as API Gateway does for the template's routes (fake handlers here)."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client

from devstack.gateway import MAX_REQUEST_BYTES, Gateway
from devstack.lambdas import Lambdas
from devstack.template import Template, load_template
from tests.support.clock import FakeClock

TEMPLATE = """
Parameters:
  Burst: {Type: Number, Default: 100}
  Origins: {Type: CommaDelimitedList, Default: "https://app.example"}
Globals:
  Function: {Runtime: python3.12}
Resources:
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      DefaultRouteSettings: {ThrottlingRateLimit: 1, ThrottlingBurstLimit: !Ref Burst}
      CorsConfiguration:
        AllowOrigins: !Ref Origins
        AllowHeaders: [authorization, content-type]
        AllowMethods: [GET, POST, OPTIONS]
        ExposeHeaders: [x-trace]
        MaxAge: 600
      Auth:
        DefaultAuthorizer: KeyAuth
        Authorizers:
          KeyAuth:
            FunctionArn: !GetAtt Guard.Arn
            AuthorizerPayloadFormatVersion: "2.0"
            EnableSimpleResponses: true
            Identity: {Headers: [Authorization], ReauthorizeEvery: 300}
          OpenAuth:
            FunctionArn: !GetAtt Guard.Arn
            AuthorizerPayloadFormatVersion: "2.0"
            EnableSimpleResponses: true
            Identity: {ReauthorizeEvery: 0}
  Guard:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: fns/guard, Handler: app.handler}
  Echo:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fns/echo
      Handler: app.handler
      Events:
        Health:
          Type: HttpApi
          Properties: {ApiId: !Ref Api, Path: /v1/health, Method: GET, Auth: {Authorizer: NONE}}
        Item:
          Type: HttpApi
          Properties: {ApiId: !Ref Api, Path: "/v1/items/{id}", Method: GET}
        Mine:
          Type: HttpApi
          Properties: {ApiId: !Ref Api, Path: /v1/items/mine, Method: GET}
        Upload:
          Type: HttpApi
          Properties: {ApiId: !Ref Api, Path: /v1/upload, Method: POST, Auth: {Authorizer: NONE}}
        Files:
          Type: HttpApi
          Properties: {ApiId: !Ref Api, Path: "/v1/files/{path+}", Method: GET, Auth: {Authorizer: NONE}}
        Session:
          Type: HttpApi
          Properties: {ApiId: !Ref Api, Path: "/v1/sessions/{id}", Method: GET, Auth: {Authorizer: OpenAuth}}
"""

KEY = {"Authorization": "Bearer good"}


class Fakes:
    """Fake handlers registered in a real `Lambdas`; records the events each received."""

    def __init__(self) -> None:
        self.lambdas = Lambdas()
        self.events: dict[str, list[dict[str, Any]]] = {"Guard": [], "Echo": []}
        self.guard: Callable[[dict[str, Any]], Any] = lambda event: {
            "isAuthorized": event["headers"].get("authorization") == "Bearer good",
            "context": {"client_id": "c1"},
        }
        self.echo: Callable[[dict[str, Any]], Any] = lambda event: {"statusCode": 200, "body": "ok"}
        self.lambdas.register("Guard", lambda event, context: self._call("Guard", self.guard, event))
        self.lambdas.register("Echo", lambda event, context: self._call("Echo", self.echo, event))

    def _call(self, name: str, handler: Callable[[dict[str, Any]], Any], event: dict[str, Any]) -> Any:
        self.events[name].append(event)
        return handler(event)


@pytest.fixture
def template(tmp_path: Path) -> Template:
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    return load_template(tmp_path / "template.yaml")


@pytest.fixture
def web_root(tmp_path: Path) -> Path:
    web = tmp_path / "web"
    (web / "v1").mkdir(parents=True)
    (web / "index.html").write_text("<h1>demo</h1>")
    (web / "app.js").write_text("console.log(1)")
    (web / "style.css").write_text("h1 {}")
    (web / "v1" / "health").write_text("a file shadowing an API path")
    (tmp_path / "secret.txt").write_text("outside the web root")
    return web


@pytest.fixture
def fakes() -> Fakes:
    return Fakes()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1000.0)


def make_client(
    template: Template, fakes: Fakes, clock: FakeClock, web_root: Path | None = None, **params: Any
) -> Client:
    api = template.http_api(template.resolver(parameters=params))
    return Client(Gateway(api, fakes.lambdas.invoke, web_root=web_root, clock=clock), use_cookies=False)


@pytest.fixture
def client(template: Template, fakes: Fakes, clock: FakeClock, web_root: Path) -> Client:
    return make_client(template, fakes, clock, web_root)


# ---- routing and events --------------------------------------------------------------------------------


def test_path_parameters_are_matched_and_passed(client: Client, fakes: Fakes) -> None:
    response = client.get("/v1/items/42", headers=KEY)

    assert response.status_code == 200
    event = fakes.events["Echo"][0]
    assert event["routeKey"] == "GET /v1/items/{id}"
    assert event["pathParameters"] == {"id": "42"}


def test_a_literal_route_wins_over_a_parameter_route(client: Client, fakes: Fakes) -> None:
    client.get("/v1/items/mine", headers=KEY)

    assert fakes.events["Echo"][0]["routeKey"] == "GET /v1/items/mine"


def test_a_greedy_parameter_takes_the_rest_of_the_path(client: Client, fakes: Fakes) -> None:
    client.get("/v1/files/a/b/c.txt")

    assert fakes.events["Echo"][0]["pathParameters"] == {"path": "a/b/c.txt"}


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/v1/nothing"), ("DELETE", "/v1/health"), ("GET", "/v1")]
)
def test_unknown_routes_are_404_not_found(client: Client, fakes: Fakes, method: str, path: str) -> None:
    response = client.open(path, method=method)

    assert response.status_code == 404
    assert response.json == {"message": "Not Found"}
    assert fakes.events["Echo"] == []


def test_the_proxy_event_has_the_payload_2_0_shape(client: Client, fakes: Fakes) -> None:
    client.get(
        "/v1/health?a=1&b=x&a=2",
        headers={"X-Custom": "V", "User-Agent": "tests/1", "Cookie": "c1=v1; c2=v2"},
    )

    event = fakes.events["Echo"][0]
    assert event["version"] == "2.0"
    assert event["rawPath"] == "/v1/health"
    assert event["rawQueryString"] == "a=1&b=x&a=2"
    assert event["queryStringParameters"] == {"a": "1,2", "b": "x"}
    assert event["cookies"] == ["c1=v1", "c2=v2"]
    assert event["headers"]["x-custom"] == "V"
    assert "cookie" not in event["headers"]
    assert "pathParameters" not in event
    assert event["isBase64Encoded"] is False
    assert "body" not in event
    context = event["requestContext"]
    assert context["http"] == {
        "method": "GET",
        "path": "/v1/health",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": "tests/1",
    }
    assert context["stage"] == "$default"
    assert context["routeKey"] == "GET /v1/health"
    assert context["requestId"]
    assert isinstance(context["timeEpoch"], int)
    assert "authorizer" not in context


def test_text_bodies_travel_as_text(client: Client, fakes: Fakes) -> None:
    client.post("/v1/upload", json={"name": "é"})

    event = fakes.events["Echo"][0]
    assert (json.loads(event["body"]), event["isBase64Encoded"]) == ({"name": "é"}, False)


def test_binary_bodies_travel_base64_encoded(client: Client, fakes: Fakes) -> None:
    data = bytes(range(256))

    client.post("/v1/upload", data=data, headers={"Content-Type": "image/png"})

    event = fakes.events["Echo"][0]
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == data


def test_requests_over_10_mb_are_413_without_calling_the_handler(client: Client, fakes: Fakes) -> None:
    response = client.post("/v1/upload", data=b"x" * (MAX_REQUEST_BYTES + 1))

    assert response.status_code == 413
    assert fakes.events["Echo"] == []


# ---- responses -----------------------------------------------------------------------------------------


def test_handler_results_map_to_status_headers_cookies_and_body(client: Client, fakes: Fakes) -> None:
    fakes.echo = lambda event: {
        "statusCode": 201,
        "headers": {"Content-Type": "image/png", "X-One": "1"},
        "multiValueHeaders": {"X-Many": ["a", "b"]},
        "cookies": ["s=1; HttpOnly", "t=2"],
        "body": base64.b64encode(b"\x89PNG").decode(),
        "isBase64Encoded": True,
    }

    response = client.get("/v1/health")

    assert response.status_code == 201
    assert response.data == b"\x89PNG"
    assert response.headers["Content-Type"] == "image/png"
    assert response.headers["X-One"] == "1"
    assert response.headers.getlist("X-Many") == ["a", "b"]
    assert response.headers.getlist("Set-Cookie") == ["s=1; HttpOnly", "t=2"]


def test_a_result_without_status_code_is_a_200_json_body(client: Client, fakes: Fakes) -> None:
    fakes.echo = lambda event: {"hello": "world"}

    response = client.get("/v1/health")

    assert (response.status_code, response.json) == (200, {"hello": "world"})
    assert response.headers["Content-Type"] == "application/json"


def test_a_handler_exception_is_a_500_with_the_traceback_on_the_console(
    client: Client, fakes: Fakes, caplog: pytest.LogCaptureFixture
) -> None:
    def fail(event: dict[str, Any]) -> Any:
        raise RuntimeError("boom")

    fakes.echo = fail

    with caplog.at_level(logging.ERROR, logger="devstack.gateway"):
        response = client.get("/v1/health")

    assert (response.status_code, response.json) == (500, {"message": "Internal Server Error"})
    assert "RuntimeError: boom" in caplog.text


def test_the_console_line_of_a_request_shows_its_path_escaped(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a path whose escapes decode to a line break, a space, ESC, a bidi override, and a literal "%0A"
    sent = "/v1/files/a%0A12:00:00%20devstack.gateway:%20GET%20/forged%1B[2J%E2%80%AE/%250A/%C3%A9"

    # When it is requested
    with caplog.at_level(logging.INFO, logger="devstack.gateway"):
        client.get(sent)

    # Then its console line is one line, with the path encoded again (as sent), and nothing else in it
    [line] = [r.getMessage() for r in caplog.records if r.name == "devstack.gateway"]
    assert line.startswith(f"GET {sent} 404 ")  # no route: `{path+}` stops at the line break
    assert line.isprintable()


def test_a_webhook_path_is_logged_without_its_token(client: Client, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="devstack.gateway"):
        client.post("/v1/webhooks/okid/s3cr3t%0Atoken")

    [line] = [r.getMessage() for r in caplog.records if r.name == "devstack.gateway"]
    assert line.startswith("POST /v1/webhooks/okid/*** 404 ")


# ---- authorizers ---------------------------------------------------------------------------------------


def test_a_missing_identity_source_is_401_without_calling_the_authorizer(
    client: Client, fakes: Fakes
) -> None:
    missing = client.get("/v1/items/1")
    empty = client.get("/v1/items/1", headers={"Authorization": ""})

    assert (missing.status_code, missing.json) == (401, {"message": "Unauthorized"})
    assert empty.status_code == 401
    assert fakes.events["Guard"] == []


def test_a_denial_is_403_and_the_route_is_not_called(client: Client, fakes: Fakes) -> None:
    response = client.get("/v1/items/1", headers={"Authorization": "Bearer bad"})

    assert (response.status_code, response.json) == (403, {"message": "Forbidden"})
    assert fakes.events["Echo"] == []


@pytest.mark.parametrize("answer", ["raise", {"no": "isAuthorized"}, None])
def test_an_authorizer_failure_is_500(client: Client, fakes: Fakes, answer: Any) -> None:
    def guard(event: dict[str, Any]) -> Any:
        if answer == "raise":
            raise RuntimeError("authorizer down")
        return answer

    fakes.guard = guard

    response = client.get("/v1/items/1", headers=KEY)

    assert (response.status_code, response.json) == (500, {"message": "Internal Server Error"})


def test_the_authorizer_gets_a_request_event_and_its_context_reaches_the_route(
    client: Client, fakes: Fakes
) -> None:
    client.get("/v1/items/7?x=1", headers=KEY)

    auth_event = fakes.events["Guard"][0]
    assert auth_event["type"] == "REQUEST"
    assert auth_event["version"] == "2.0"
    assert auth_event["identitySource"] == ["Bearer good"]
    assert auth_event["routeArn"].endswith("/$default/GET/v1/items/7")
    assert auth_event["routeKey"] == "GET /v1/items/{id}"
    assert auth_event["pathParameters"] == {"id": "7"}
    assert auth_event["queryStringParameters"] == {"x": "1"}
    assert fakes.events["Echo"][0]["requestContext"]["authorizer"] == {"lambda": {"client_id": "c1"}}


def test_decisions_are_cached_per_identity_for_reauthorize_every_seconds(
    client: Client, fakes: Fakes, clock: FakeClock
) -> None:
    client.get("/v1/items/1", headers=KEY)
    client.get("/v1/items/2", headers=KEY)
    client.get("/v1/items/2", headers={"Authorization": "Bearer bad"})
    denied_again = client.get("/v1/items/2", headers={"Authorization": "Bearer bad"})
    assert len(fakes.events["Guard"]) == 2  # one per distinct key, denials included
    assert denied_again.status_code == 403

    clock.now += 301
    client.get("/v1/items/3", headers=KEY)

    assert len(fakes.events["Guard"]) == 3
    assert len(fakes.events["Echo"]) == 3
    assert all(
        e["requestContext"]["authorizer"] == {"lambda": {"client_id": "c1"}} for e in fakes.events["Echo"]
    )


def test_an_authorizer_without_identity_source_runs_on_every_request(client: Client, fakes: Fakes) -> None:
    fakes.guard = lambda event: {"isAuthorized": True, "context": {"n": len(fakes.events["Guard"])}}

    client.get("/v1/sessions/s1")
    client.get("/v1/sessions/s1")

    assert len(fakes.events["Guard"]) == 2
    assert fakes.events["Guard"][0]["identitySource"] == []
    assert [e["requestContext"]["authorizer"]["lambda"]["n"] for e in fakes.events["Echo"]] == [1, 2]


# ---- throttling and CORS -------------------------------------------------------------------------------


def test_routes_are_throttled_by_a_token_bucket_with_429(
    template: Template, fakes: Fakes, clock: FakeClock
) -> None:
    client = make_client(template, fakes, clock, Burst=2)

    statuses = [client.get("/v1/health").status_code for _ in range(3)]
    other_route = client.post("/v1/upload", data=b"x").status_code
    clock.now += 1.0  # the rate is 1 request per second
    after_refill = client.get("/v1/health").status_code

    assert statuses == [200, 200, 429]
    assert client.get("/v1/health").json == {"message": "Too Many Requests"}
    assert other_route == 200
    assert after_refill == 200


def test_the_gateway_answers_cors_preflights_itself(client: Client, fakes: Fakes) -> None:
    response = client.options(
        "/v1/items/1",
        headers={
            "Origin": "https://app.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization",
        },
    )

    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert response.headers["Access-Control-Allow-Methods"] == "GET,POST,OPTIONS"
    assert response.headers["Access-Control-Allow-Headers"] == "authorization,content-type"
    assert response.headers["Access-Control-Max-Age"] == "600"
    assert fakes.events == {"Guard": [], "Echo": []}


def test_a_preflight_from_another_origin_gets_no_cors_headers(client: Client) -> None:
    response = client.options(
        "/v1/health", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
    )

    assert "Access-Control-Allow-Origin" not in response.headers


def test_responses_carry_the_allowed_origin_only_for_allowed_origins(client: Client, fakes: Fakes) -> None:
    fakes.echo = lambda event: {
        "statusCode": 200,
        "headers": {"Access-Control-Allow-Origin": "*"},
        "body": "",
    }

    allowed = client.get("/v1/health", headers={"Origin": "https://app.example"})
    unauthorized = client.get("/v1/items/1", headers={"Origin": "https://app.example"})
    other = client.get("/v1/health", headers={"Origin": "https://evil.example"})

    assert allowed.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert allowed.headers["Access-Control-Expose-Headers"] == "x-trace"
    assert unauthorized.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert other.headers["Access-Control-Allow-Origin"] == "*"  # the handler's own header, untouched


# ---- static files --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "content_type", "text"),
    [
        ("/", "text/html; charset=utf-8", "<h1>demo</h1>"),
        ("/index.html", "text/html; charset=utf-8", "<h1>demo</h1>"),
        ("/app.js", "text/javascript; charset=utf-8", "console.log(1)"),
        ("/style.css", "text/css; charset=utf-8", "h1 {}"),
    ],
)
def test_other_paths_serve_the_web_folder_with_content_types(
    client: Client, path: str, content_type: str, text: str
) -> None:
    response = client.get(path)

    assert response.status_code == 200
    assert response.headers["Content-Type"] == content_type
    assert response.text == text


TRAVERSALS = [
    "/../secret.txt",
    "/%2e%2e/secret.txt",
    "/a/../../secret.txt",
    "/..%2fsecret.txt",
    "/web/%2e%2e/%2e%2e/secret.txt",
    "/missing.js",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_static_files_never_leave_the_web_folder(client: Client, path: str) -> None:
    response = client.get(path)

    assert response.status_code == 404
    assert b"outside" not in response.data


def test_paths_under_an_api_prefix_never_fall_back_to_static_files(client: Client, fakes: Fakes) -> None:
    response = client.get("/v1/missing")
    api_route = client.get("/v1/health")

    assert response.json == {"message": "Not Found"}
    assert api_route.text == "ok"  # the route, not web/v1/health
