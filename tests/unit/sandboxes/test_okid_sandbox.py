"""The okID sandbox follows the documented contract (seeds/okid-v2client.txt) and its documented choices."""

from __future__ import annotations

import json
import re
import socket
import struct
import threading
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
from werkzeug.test import Client, TestResponse

from devstack.sandboxes.okid import OkidSandbox
from tests.support.clock import FakeClock
from tests.support.http_server import ScriptedServer, json_answer, scripted_server

SDK_KEY = "okid_sandbox_test_key"
OTHER_KEY = "okid_sandbox_other_org"
BASE_URL = "http://127.0.0.1:4020"
START = 1_764_499_200.75  # 2025-11-30T10:40:00Z plus a fraction: okID's times are whole seconds
START_ISO = "2025-11-30T10:40:00Z"
TTL = 1800
EXPIRES_ISO = "2025-11-30T11:10:00Z"
WEBHOOK_PATH = "/v1/webhooks/okid/whk_secret_token_123"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
IMAGE_ENDPOINTS = (
    "get-verification-image",
    "get-verification-image-unredacted",
    "get-verification-image-front",
    "get-verification-image-back",
)
FINAL_OUTCOMES = ("verified", "rejected", "needs_manual_review")
INVALID_KEY = {"error": "INVALID_API_KEY", "message": "Invalid API key provided"}
FORBIDDEN = {"error": "FORBIDDEN", "message": "API key does not have access to this verification"}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def sandbox(clock: FakeClock) -> OkidSandbox:
    sandbox = OkidSandbox(SDK_KEY, BASE_URL + "/", clock=clock, extra_sdk_keys=[OTHER_KEY])
    sandbox.webhook_retry_delays = (0.0, 0.0)
    sandbox.webhook_timeout_seconds = 2.0
    return sandbox


@pytest.fixture
def client(sandbox: OkidSandbox) -> Client:
    return Client(sandbox)


@pytest.fixture
def receiver(sandbox: OkidSandbox) -> Iterator[ScriptedServer]:
    """A real HTTP server on 127.0.0.1 set as the main key's webhook URL; it answers 200."""
    with scripted_server(json_answer({"received": True})) as server:
        sandbox.webhook_url = server.url + WEBHOOK_PATH
        yield server
        sandbox.flush_webhooks()


def generate(client: Client, key: str | None = SDK_KEY, body: object = None) -> TestResponse:
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["X-SDK-Key"] = key
    data = None if body is None else body if isinstance(body, str) else json.dumps(body)
    return client.post("/api/generate-verification", headers=headers, data=data)


def new_verification(client: Client, key: str = SDK_KEY, body: object = None) -> str:
    response = generate(client, key, body)
    assert response.status_code == 200, response.get_data(as_text=True)
    return str(response.json["verificationId"])  # type: ignore[index]


def details(client: Client, verification_id: str, key: str | None = SDK_KEY) -> TestResponse:
    headers = {} if key is None else {"X-SDK-Key": key}
    return client.get(f"/api/get-verification-details/{verification_id}", headers=headers)


def current(client: Client, verification_id: str) -> str:
    response = details(client, verification_id)
    assert response.status_code == 200
    return str(response.json["status"]["current"])  # type: ignore[index]


def image(
    client: Client, endpoint: str, verification_id: str, key: str | None = SDK_KEY, query: str = ""
) -> TestResponse:
    headers = {} if key is None else {"X-SDK-Key": key}
    return client.get(f"/api/{endpoint}/{verification_id}{query}", headers=headers)


def set_outcome(client: Client, verification_id: str, body: object) -> TestResponse:
    data = body if isinstance(body, str) else json.dumps(body)
    return client.post(f"/?verification_id={verification_id}", data=data, content_type="application/json")


def decide(client: Client, verification_id: str, outcome: str, webhook: bool = True) -> None:
    response = set_outcome(client, verification_id, {"outcome": outcome, "webhook": webhook})
    assert response.status_code == 200, response.get_data(as_text=True)


def png_pixels(data: bytes) -> tuple[int, int, str]:
    """Checks the PNG's structure and CRCs; returns (width, height, its tEXt description)."""
    assert data.startswith(PNG_SIGNATURE)
    offset, chunks = len(PNG_SIGNATURE), {}
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind, body = data[offset + 4 : offset + 8], data[offset + 8 : offset + 8 + length]
        (crc,) = struct.unpack(">I", data[offset + 8 + length : offset + 12 + length])
        assert crc == zlib.crc32(kind + body), kind
        chunks[kind] = body
        offset += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert (depth, colour) == (8, 2)
    assert len(zlib.decompress(chunks[b"IDAT"])) == height * (1 + width * 3)
    assert b"IEND" in chunks
    return width, height, chunks[b"tEXt"].split(b"\x00", 1)[1].decode("latin-1")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- generate-verification -----------------------------------------------------------------------


def test_generate_answers_a_ver_id_its_expiry_the_modules_and_the_flow(client: Client) -> None:
    response = generate(client)

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body = response.json
    assert body is not None
    assert set(body) == {"verificationId", "expiresAt", "modules", "flow"}
    assert re.fullmatch(r"ver_[0-9a-f]{24}", body["verificationId"])
    assert body["expiresAt"] == EXPIRES_ISO
    assert set(body["modules"]) == {"document", "liveness"}
    assert body["flow"] == ["terms", "document", "liveness"]


def test_generate_accepts_no_body_as_in_the_documents_curl(client: Client) -> None:
    response = client.post("/api/generate-verification", headers={"X-SDK-Key": SDK_KEY})

    assert response.status_code == 200


def test_generate_accepts_extra_data_and_a_return_url(client: Client) -> None:
    body = {"extra_data": {"reference_id": "ref-1"}, "return_url": "https://shop.example/done"}

    assert generate(client, body=body).status_code == 200


def test_generate_issues_a_new_id_each_call(client: Client) -> None:
    assert new_verification(client) != new_verification(client)


@pytest.mark.parametrize("key", [None, "", "okid_wrong_key"])
def test_generate_refuses_a_missing_or_unknown_sdk_key(client: Client, key: str | None) -> None:
    response = generate(client, key=key)

    assert response.status_code == 401
    assert response.json == INVALID_KEY


@pytest.mark.parametrize(
    ("headers", "query"),
    [
        ({"Authorization": f"Bearer {SDK_KEY}"}, ""),
        ({"x-api-key": SDK_KEY}, ""),
        ({}, f"?api_key={SDK_KEY}"),
    ],
)
def test_the_key_is_read_from_the_x_sdk_key_header_only(
    client: Client, headers: dict[str, str], query: str
) -> None:
    response = client.post(f"/api/generate-verification{query}", headers=headers)

    assert response.status_code == 401


def test_the_header_name_is_case_insensitive_as_in_http(client: Client) -> None:
    response = client.post("/api/generate-verification", headers={"x-sdk-key": SDK_KEY})

    assert response.status_code == 200


def test_any_of_the_configured_keys_may_generate(client: Client) -> None:
    assert generate(client, key=OTHER_KEY).status_code == 200


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("{not json", "application/json"),
        ("[1, 2]", "application/json"),
        ('{"extra_data": "ref-1"}', "application/json"),
        ('{"return_url": "javascript:alert(1)"}', "application/json"),
        ('{"return_url": 42}', "application/json"),
        ("extra_data=1", "application/x-www-form-urlencoded"),
    ],
)
def test_generate_refuses_a_bad_body_with_a_400(client: Client, body: str, content_type: str) -> None:
    response = client.post(
        "/api/generate-verification",
        headers={"X-SDK-Key": SDK_KEY, "Content-Type": content_type},
        data=body,
    )

    assert response.status_code == 400
    assert response.json["error"] == "INVALID_REQUEST"  # type: ignore[index]


def test_generate_checks_the_key_before_the_body(client: Client) -> None:
    assert generate(client, key="okid_wrong_key", body="{not json").json == INVALID_KEY


def test_generate_refuses_a_body_over_64_kib(client: Client) -> None:
    response = generate(client, body={"extra_data": {"blob": "x" * 70_000}})

    assert response.status_code == 413
    assert response.json["error"] == "PAYLOAD_TOO_LARGE"  # type: ignore[index]


def test_generate_only_accepts_post(client: Client) -> None:
    response = client.get("/api/generate-verification", headers={"X-SDK-Key": SDK_KEY})

    assert response.status_code == 405
    assert response.json["error"] == "METHOD_NOT_ALLOWED"  # type: ignore[index]
    assert "POST" in response.headers["Allow"]


def test_unknown_paths_are_a_json_404(client: Client) -> None:
    response = client.get("/api/get-verification-status/ver_x", headers={"X-SDK-Key": SDK_KEY})

    assert response.status_code == 404
    assert response.json["error"] == "NOT_FOUND"  # type: ignore[index]


# -- get-verification-details ----------------------------------------------------------------------


def test_details_of_a_new_verification_are_pending_with_no_results(client: Client) -> None:
    verification_id = new_verification(client)

    response = details(client, verification_id)

    assert response.status_code == 200
    assert response.json == {
        "verification_id": verification_id,
        "status": {
            "current": "pending",
            "updated_at": START_ISO,
            "progress": {"document": "pending", "liveness": "pending"},
        },
        "results": {},
    }


@pytest.mark.parametrize("key", [None, "", "okid_wrong_key"])
def test_details_refuse_a_missing_or_unknown_key(client: Client, key: str | None) -> None:
    verification_id = new_verification(client)

    response = details(client, verification_id, key=key)

    assert response.status_code == 401
    assert response.json == INVALID_KEY


def test_details_of_another_keys_verification_are_forbidden(client: Client) -> None:
    verification_id = new_verification(client, key=OTHER_KEY)

    response = details(client, verification_id)

    assert response.status_code == 403
    assert response.json == FORBIDDEN


def test_details_of_an_unknown_verification_are_a_404(client: Client) -> None:
    response = details(client, "ver_000000000000000000000000")

    assert response.status_code == 404
    assert response.json["error"] == "NOT_FOUND"  # type: ignore[index]


def test_details_check_the_key_before_the_id(client: Client) -> None:
    assert details(client, "ver_unknown", key="okid_wrong_key").status_code == 401


@pytest.mark.parametrize(
    ("outcome", "document", "liveness"),
    [
        ("verified", "accepted", "passed"),
        ("rejected", "rejected", "failed"),
        ("needs_manual_review", "review", "passed"),
    ],
)
def test_details_after_an_outcome_show_it_with_completed_modules_and_fake_results(
    client: Client, clock: FakeClock, outcome: str, document: str, liveness: str
) -> None:
    verification_id = new_verification(client)
    clock.advance(60)
    decide(client, verification_id, outcome, webhook=False)

    status = details(client, verification_id).json

    assert status is not None
    assert status["status"] == {
        "current": outcome,
        "updated_at": "2025-11-30T10:41:00Z",
        "progress": {"document": "completed", "liveness": "completed"},
    }
    assert status["results"]["document"]["status"] == document
    assert status["results"]["document"]["last_name"] == "TEST PERSON"
    assert status["results"]["liveness"]["status"] == liveness


def test_a_verification_expires_at_expires_at(client: Client, clock: FakeClock) -> None:
    verification_id = new_verification(client)

    clock.now = int(START) + TTL - 1
    assert current(client, verification_id) == "pending"
    clock.now = int(START) + TTL
    status = details(client, verification_id).json

    assert status is not None
    assert status["status"]["current"] == "expired"
    assert status["status"]["updated_at"] == EXPIRES_ISO


def test_the_verification_lifetime_is_configurable(clock: FakeClock) -> None:
    client = Client(OkidSandbox(SDK_KEY, BASE_URL, clock=clock, verification_ttl_seconds=60))

    response = generate(client)

    assert response.json["expiresAt"] == "2025-11-30T10:41:00Z"  # type: ignore[index]


def test_an_outcome_set_before_expiry_does_not_expire(client: Client, clock: FakeClock) -> None:
    verification_id = new_verification(client)
    decide(client, verification_id, "verified", webhook=False)

    clock.advance(TTL * 10)

    assert current(client, verification_id) == "verified"


def test_verifications_are_forgotten_seven_days_after_they_expire(client: Client, clock: FakeClock) -> None:
    old = new_verification(client)
    clock.advance(TTL + 7 * 24 * 3600)

    new_verification(client)

    assert details(client, old).status_code == 404


# -- images ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", IMAGE_ENDPOINTS)
def test_no_image_exists_before_the_users_outcome(client: Client, endpoint: str) -> None:
    verification_id = new_verification(client)

    response = image(client, endpoint, verification_id)

    assert response.status_code == 404
    assert response.json["error"] == "NOT_FOUND"  # type: ignore[index]


@pytest.mark.parametrize("outcome", FINAL_OUTCOMES)
@pytest.mark.parametrize("endpoint", IMAGE_ENDPOINTS)
def test_every_image_is_a_png_after_an_outcome(client: Client, endpoint: str, outcome: str) -> None:
    verification_id = new_verification(client)
    decide(client, verification_id, outcome, webhook=False)

    response = image(client, endpoint, verification_id)

    assert response.status_code == 200
    assert response.mimetype == "image/png"
    png_pixels(response.data)


@pytest.mark.parametrize("endpoint", IMAGE_ENDPOINTS)
def test_no_image_exists_after_the_user_abandons(client: Client, endpoint: str) -> None:
    verification_id = new_verification(client)
    decide(client, verification_id, "abandon")

    assert image(client, endpoint, verification_id).status_code == 404


def test_no_image_exists_for_an_expired_verification(client: Client, clock: FakeClock) -> None:
    verification_id = new_verification(client)
    clock.advance(TTL)

    assert image(client, "get-verification-image-front", verification_id).status_code == 404


def test_images_differ_per_side_redaction_and_image_type_and_say_which_they_are(client: Client) -> None:
    verification_id = new_verification(client)
    decide(client, verification_id, "verified", webhook=False)

    def get(endpoint: str, image_type: str = "original") -> bytes:
        response = image(client, endpoint, verification_id, query=f"?image_type={image_type}")
        assert response.status_code == 200
        return response.get_data()

    front, back = get("get-verification-image-front"), get("get-verification-image-back")
    redacted, unredacted = get("get-verification-image"), get("get-verification-image-unredacted")
    cropped = get("get-verification-image", "cropped")

    assert len({front, back, redacted, cropped}) == 4
    # The document images without a side are the front; okID never says -front/-back are redacted.
    assert unredacted == front
    assert png_pixels(redacted)[2] == "okID sandbox FRONT redacted original"
    assert png_pixels(front)[2] == "okID sandbox FRONT unredacted original"
    assert png_pixels(back)[2] == "okID sandbox BACK unredacted original"
    assert png_pixels(cropped)[2] == "okID sandbox FRONT redacted cropped"
    assert png_pixels(cropped)[:2] < png_pixels(redacted)[:2]


def test_side_images_may_be_served_redacted_the_other_reading(clock: FakeClock) -> None:
    client = Client(OkidSandbox(SDK_KEY, BASE_URL, clock=clock, side_images="redacted"))
    verification_id = new_verification(client)
    decide(client, verification_id, "verified", webhook=False)

    front = image(client, "get-verification-image-front", verification_id).get_data()
    back = image(client, "get-verification-image-back", verification_id).get_data()

    assert png_pixels(front)[2] == "okID sandbox FRONT redacted original"
    assert png_pixels(back)[2] == "okID sandbox BACK redacted original"
    assert front == image(client, "get-verification-image", verification_id).get_data()


def test_the_unredacted_image_may_be_served_without_a_key_as_in_the_code_samples(clock: FakeClock) -> None:
    sandbox = OkidSandbox(
        SDK_KEY, BASE_URL, clock=clock, extra_sdk_keys=[OTHER_KEY], unredacted_needs_key=False
    )
    client = Client(sandbox)
    verification_id = new_verification(client)
    decide(client, verification_id, "verified", webhook=False)
    unredacted = "get-verification-image-unredacted"

    keyless = image(client, unredacted, verification_id, key=None)

    assert keyless.status_code == 200
    assert png_pixels(keyless.get_data())[2] == "okID sandbox FRONT unredacted original"
    assert image(client, unredacted, "ver_000000000000000000000000", key=None).status_code == 404
    # A key that is sent is still checked, and every other endpoint still needs one.
    assert image(client, unredacted, verification_id, key="okid_wrong_key").json == INVALID_KEY
    assert image(client, unredacted, verification_id, key=OTHER_KEY).json == FORBIDDEN
    assert image(client, unredacted, verification_id).status_code == 200
    for endpoint in ("get-verification-image", "get-verification-image-front", "get-verification-image-back"):
        assert image(client, endpoint, verification_id, key=None).json == INVALID_KEY


def test_attempt_index_0_is_the_default_and_the_only_attempt(client: Client) -> None:
    verification_id = new_verification(client)
    decide(client, verification_id, "verified", webhook=False)
    default = image(client, "get-verification-image", verification_id).data

    explicit = image(
        client, "get-verification-image", verification_id, query="?attempt_index=0&image_type=original"
    )
    other = image(client, "get-verification-image", verification_id, query="?attempt_index=1")

    assert explicit.data == default
    assert other.status_code == 404


@pytest.mark.parametrize("query", ["?attempt_index=-1", "?attempt_index=first", "?image_type=thumbnail"])
def test_bad_image_query_values_are_a_400(client: Client, query: str) -> None:
    verification_id = new_verification(client)
    decide(client, verification_id, "verified", webhook=False)

    response = image(client, "get-verification-image-front", verification_id, query=query)

    assert response.status_code == 400
    assert response.json["error"] == "INVALID_REQUEST"  # type: ignore[index]


@pytest.mark.parametrize("endpoint", IMAGE_ENDPOINTS)
def test_images_need_the_key_that_created_the_verification(client: Client, endpoint: str) -> None:
    verification_id = new_verification(client)
    decide(client, verification_id, "verified", webhook=False)

    assert image(client, endpoint, verification_id, key=None).json == INVALID_KEY
    assert image(client, endpoint, verification_id, key="okid_wrong_key").json == INVALID_KEY
    forbidden = image(client, endpoint, verification_id, key=OTHER_KEY)
    assert forbidden.status_code == 403
    assert forbidden.json == FORBIDDEN
    assert image(client, endpoint, "ver_000000000000000000000000").status_code == 404


# -- the user's page ---------------------------------------------------------------------------------


def test_the_page_shows_the_status_the_outcome_buttons_and_the_webhook_checkbox(client: Client) -> None:
    verification_id = new_verification(client)

    response = client.get(f"/?verification_id={verification_id}")
    page = response.get_data(as_text=True)

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert "<title>okID sandbox</title>" in page
    for button in ("verified", "rejected", "needs_manual_review", "abandon"):
        assert f'<button id="{button}"' in page
    assert '<input id="send-webhook" type="checkbox" checked>' in page
    assert '<p id="status" data-status="pending">pending</p>' in page
    assert '<section id="select-mode" hidden>' in page
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_the_page_is_also_at_verify_as_in_the_documents_example_journey(client: Client) -> None:
    verification_id = new_verification(client)

    page = client.get(f"/verify?verification_id={verification_id}")
    chosen = client.post(
        f"/verify?verification_id={verification_id}",
        data=json.dumps({"outcome": "verified", "webhook": False}),
        content_type="application/json",
    )

    assert page.status_code == 200
    assert '<button id="verified"' in page.get_data(as_text=True)
    assert chosen.status_code == 200
    assert current(client, verification_id) == "verified"


def test_select_mode_shows_the_qr_code_or_same_device_choice(client: Client) -> None:
    verification_id = new_verification(client)

    page = client.get(f"/?verification_id={verification_id}&mode=select").get_data(as_text=True)

    assert '<section id="select-mode">' in page
    assert "scan this QR code with your phone, or continue on this device" in page
    assert '<img id="qr" alt="QR code of this verification" src="data:image/svg+xml' in page
    assert f'<a id="same-device" href="{BASE_URL}/?verification_id={verification_id}">' in page


def test_the_page_shows_the_status_after_an_outcome(client: Client) -> None:
    verification_id = new_verification(client)
    decide(client, verification_id, "needs_manual_review", webhook=False)

    page = client.get(f"/?verification_id={verification_id}").get_data(as_text=True)

    assert '<p id="status" data-status="needs_manual_review">needs_manual_review</p>' in page
    assert 'data-allowed="verified rejected"' in page


def test_the_page_says_when_the_user_abandoned(client: Client) -> None:
    verification_id = new_verification(client)
    decide(client, verification_id, "abandon")

    page = client.get(f"/?verification_id={verification_id}").get_data(as_text=True)

    assert "pending (abandoned by the user)" in page
    assert 'data-allowed=""' in page


@pytest.mark.parametrize("query", ["?verification_id=ver_000000000000000000000000", "", "?verification_id="])
def test_the_page_of_an_unknown_verification_is_an_html_404(client: Client, query: str) -> None:
    response = client.get(f"/{query}")

    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert 'id="not-found"' in response.get_data(as_text=True)


def test_the_page_of_an_expired_verification_is_an_html_404(client: Client, clock: FakeClock) -> None:
    verification_id = new_verification(client)
    clock.advance(TTL)

    response = client.get(f"/?verification_id={verification_id}")

    assert response.status_code == 404
    assert response.mimetype == "text/html"


def test_the_page_escapes_the_return_url(client: Client) -> None:
    verification_id = new_verification(
        client, body={"return_url": 'https://shop.example/done?x="><script>alert(1)</script>'}
    )

    page = client.get(f"/?verification_id={verification_id}").get_data(as_text=True)

    assert "<script>alert(1)" not in page
    assert "&quot;&gt;&lt;script&gt;" in page


# -- outcomes ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("outcome", FINAL_OUTCOMES)
def test_an_outcome_answers_the_new_status(client: Client, outcome: str) -> None:
    verification_id = new_verification(client)

    response = set_outcome(client, verification_id, {"outcome": outcome, "webhook": False})

    assert response.status_code == 200
    assert response.json == {"verification_id": verification_id, "status": outcome}
    assert current(client, verification_id) == outcome


@pytest.mark.parametrize("first", FINAL_OUTCOMES[:2])
@pytest.mark.parametrize("second", [*FINAL_OUTCOMES, "abandon"])
def test_a_final_outcome_is_set_only_once(client: Client, first: str, second: str) -> None:
    verification_id = new_verification(client)
    decide(client, verification_id, first, webhook=False)

    response = set_outcome(client, verification_id, {"outcome": second, "webhook": False})

    assert response.status_code == 409
    assert response.json["error"] == "CONFLICT"  # type: ignore[index]
    assert current(client, verification_id) == first


@pytest.mark.parametrize("decision", ["verified", "rejected"])
def test_after_manual_review_the_reviewer_decides_once(client: Client, decision: str) -> None:
    verification_id = new_verification(client)
    decide(client, verification_id, "needs_manual_review", webhook=False)

    response = set_outcome(client, verification_id, {"outcome": decision, "webhook": False})
    again = set_outcome(client, verification_id, {"outcome": "verified", "webhook": False})

    assert response.json == {"verification_id": verification_id, "status": decision}
    assert again.status_code == 409
    body = details(client, verification_id).json
    assert body is not None
    assert body["status"]["current"] == decision
    assert body["results"]["review"]["decision"] == decision


@pytest.mark.parametrize("second", ["needs_manual_review", "abandon"])
def test_a_review_takes_only_a_verified_or_rejected_decision(client: Client, second: str) -> None:
    verification_id = new_verification(client)
    decide(client, verification_id, "needs_manual_review", webhook=False)

    assert set_outcome(client, verification_id, {"outcome": second}).status_code == 409


def test_the_reviewer_may_decide_after_expires_at(client: Client, clock: FakeClock) -> None:
    verification_id = new_verification(client)
    decide(client, verification_id, "needs_manual_review", webhook=False)
    clock.advance(TTL * 4)

    decide(client, verification_id, "rejected", webhook=False)

    assert current(client, verification_id) == "rejected"


def test_abandon_keeps_the_verification_pending_until_it_expires_and_ends_the_users_choices(
    client: Client, clock: FakeClock
) -> None:
    verification_id = new_verification(client)

    response = set_outcome(client, verification_id, {"outcome": "abandon"})
    later = set_outcome(client, verification_id, {"outcome": "verified"})

    assert response.json == {"verification_id": verification_id, "status": "pending"}
    assert later.status_code == 409
    body = details(client, verification_id).json
    assert body is not None
    assert body["status"]["progress"] == {"document": "in_progress", "liveness": "pending"}
    clock.advance(TTL)
    assert current(client, verification_id) == "expired"


@pytest.mark.parametrize(
    "body",
    [
        '{"outcome": "approved"}',
        '{"outcome": "expired"}',
        "{}",
        '{"outcome": "verified", "webhook": "yes"}',
        "not json",
        '["verified"]',
    ],
)
def test_a_bad_outcome_request_is_a_400_and_changes_nothing(client: Client, body: str) -> None:
    verification_id = new_verification(client)

    response = set_outcome(client, verification_id, body)

    assert response.status_code == 400
    assert response.json["error"] == "INVALID_REQUEST"  # type: ignore[index]
    assert current(client, verification_id) == "pending"


def test_an_outcome_for_an_unknown_verification_is_a_404(client: Client) -> None:
    response = set_outcome(client, "ver_000000000000000000000000", {"outcome": "verified"})

    assert response.status_code == 404
    assert response.json["error"] == "NOT_FOUND"  # type: ignore[index]


def test_an_outcome_for_an_expired_verification_is_a_404(client: Client, clock: FakeClock) -> None:
    verification_id = new_verification(client)
    clock.advance(TTL)

    response = set_outcome(client, verification_id, {"outcome": "verified"})

    assert response.status_code == 404
    assert response.json["error"] == "VERIFICATION_EXPIRED"  # type: ignore[index]
    assert current(client, verification_id) == "expired"


def test_concurrent_outcomes_let_exactly_one_win(client: Client, sandbox: OkidSandbox) -> None:
    verification_id = new_verification(client)
    codes: list[int] = []
    lock = threading.Lock()

    def click(outcome: str) -> None:
        response = Client(sandbox).post(
            f"/?verification_id={verification_id}",
            data=json.dumps({"outcome": outcome, "webhook": False}),
            content_type="application/json",
        )
        with lock:
            codes.append(response.status_code)

    threads = [threading.Thread(target=click, args=(FINAL_OUTCOMES[i % 2],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(codes) == [200] + [409] * 7


# -- webhooks ----------------------------------------------------------------------------------------


def test_an_outcome_posts_the_webhook_to_the_configured_url(
    client: Client, sandbox: OkidSandbox, receiver: ScriptedServer
) -> None:
    verification_id = new_verification(client, body={"extra_data": {"reference_id": "ref-42"}})

    decide(client, verification_id, "verified")
    sandbox.flush_webhooks()

    assert len(receiver.requests) == 1
    received = receiver.requests[0]
    assert (received.method, received.path) == ("POST", WEBHOOK_PATH)
    assert received.headers["content-type"] == "application/json"
    payload = json.loads(received.body)
    assert payload == {
        "event": "verification.status_changed",
        "verification_id": verification_id,
        "status": "verified",
        "extra_data": {"reference_id": "ref-42"},
        "timestamp": START_ISO,
    }
    assert sandbox.webhook_deliveries == [(200, payload)]


def test_the_webhook_carries_an_empty_extra_data_when_none_was_given(
    client: Client, sandbox: OkidSandbox, receiver: ScriptedServer
) -> None:
    decide(client, new_verification(client), "rejected")
    sandbox.flush_webhooks()

    assert json.loads(receiver.requests[0].body)["extra_data"] == {}


def test_webhook_false_sends_no_webhook(
    client: Client, sandbox: OkidSandbox, receiver: ScriptedServer
) -> None:
    decide(client, new_verification(client), "verified", webhook=False)
    sandbox.flush_webhooks()

    assert receiver.requests == []
    assert sandbox.webhook_deliveries == []


def test_abandon_sends_no_webhook(client: Client, sandbox: OkidSandbox, receiver: ScriptedServer) -> None:
    decide(client, new_verification(client), "abandon")
    sandbox.flush_webhooks()

    assert receiver.requests == []


def test_a_review_and_its_decision_send_one_webhook_each(
    client: Client, sandbox: OkidSandbox, receiver: ScriptedServer
) -> None:
    verification_id = new_verification(client)

    decide(client, verification_id, "needs_manual_review")
    sandbox.flush_webhooks()
    decide(client, verification_id, "verified")
    sandbox.flush_webhooks()

    statuses = [json.loads(r.body)["status"] for r in receiver.requests]
    assert statuses == ["needs_manual_review", "verified"]


def test_no_webhook_is_sent_without_a_webhook_url(client: Client, sandbox: OkidSandbox) -> None:
    decide(client, new_verification(client), "verified")
    sandbox.flush_webhooks()

    assert sandbox.webhook_url is None
    assert sandbox.webhook_deliveries == []


def test_the_webhook_url_can_be_set_at_run_time(client: Client, sandbox: OkidSandbox) -> None:
    verification_id = new_verification(client)
    with scripted_server(json_answer({})) as server:
        sandbox.webhook_url = server.url + "/later"

        decide(client, verification_id, "verified")
        sandbox.flush_webhooks()

        assert [r.path for r in server.requests] == ["/later"]


def test_another_keys_verifications_do_not_notify_the_main_keys_url(
    client: Client, sandbox: OkidSandbox, receiver: ScriptedServer
) -> None:
    decide(client, new_verification(client, key=OTHER_KEY), "verified")
    sandbox.flush_webhooks()

    assert receiver.requests == []


def test_a_failing_webhook_is_retried_at_most_twice(client: Client, sandbox: OkidSandbox) -> None:
    with scripted_server(json_answer({}, status=500)) as server:
        sandbox.webhook_url = server.url + WEBHOOK_PATH

        decide(client, new_verification(client), "verified")
        sandbox.flush_webhooks()

        assert len(server.requests) == 3
        assert [code for code, _ in sandbox.webhook_deliveries] == [500, 500, 500]
        assert len({r.body for r in server.requests}) == 1  # each retry is the same notification


def test_a_webhook_that_succeeds_on_retry_is_not_sent_again(client: Client, sandbox: OkidSandbox) -> None:
    with scripted_server(json_answer({}, status=503), json_answer({})) as server:
        sandbox.webhook_url = server.url + WEBHOOK_PATH

        decide(client, new_verification(client), "verified")
        sandbox.flush_webhooks()

        assert [code for code, _ in sandbox.webhook_deliveries] == [503, 200]


def test_a_webhook_refused_with_a_4xx_is_not_retried(client: Client, sandbox: OkidSandbox) -> None:
    with scripted_server(json_answer({}, status=401)) as server:
        sandbox.webhook_url = server.url + WEBHOOK_PATH

        decide(client, new_verification(client), "verified")
        sandbox.flush_webhooks()

        assert [code for code, _ in sandbox.webhook_deliveries] == [401]


def test_an_unreachable_webhook_url_records_none_per_attempt(client: Client, sandbox: OkidSandbox) -> None:
    sandbox.webhook_url = f"http://127.0.0.1:{closed_port()}{WEBHOOK_PATH}"

    decide(client, new_verification(client), "verified")
    sandbox.flush_webhooks()

    assert [code for code, _ in sandbox.webhook_deliveries] == [None, None, None]


def test_send_webhook_delivers_a_duplicate_or_late_notification_on_demand(
    client: Client, sandbox: OkidSandbox, receiver: ScriptedServer, clock: FakeClock
) -> None:
    verification_id = new_verification(client)
    decide(client, verification_id, "verified")
    sandbox.flush_webhooks()
    clock.advance(3600)

    assert sandbox.send_webhook(verification_id, "verified") == 200
    assert sandbox.send_webhook(verification_id, "needs_manual_review") == 200

    sent = [json.loads(r.body) for r in receiver.requests]
    assert [p["status"] for p in sent] == ["verified", "verified", "needs_manual_review"]
    assert sent[1]["timestamp"] == "2025-11-30T11:40:00Z"
    assert len(sandbox.webhook_deliveries) == 3


def test_send_webhook_refuses_an_unknown_verification(sandbox: OkidSandbox) -> None:
    with pytest.raises(KeyError):
        sandbox.send_webhook("ver_000000000000000000000000", "verified")


def test_wait_for_webhooks_times_out_when_nothing_is_sent(sandbox: OkidSandbox) -> None:
    with pytest.raises(TimeoutError):
        sandbox.wait_for_webhooks(1, timeout=0.05)


def test_logs_show_each_delivery_with_a_masked_path_and_never_the_key(
    client: Client, sandbox: OkidSandbox, receiver: ScriptedServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    verification_id = new_verification(client)

    decide(client, verification_id, "verified")
    sandbox.flush_webhooks()
    details(client, verification_id)

    # The receiving test server logs its own requests; only the sandbox's lines are checked.
    ours = [r.getMessage() for r in caplog.records if r.name == "devstack.sandboxes.okid"]
    deliveries = [line for line in ours if "webhook" in line]
    assert len(deliveries) == 1
    assert "/v1/webhooks/okid/*** -> 200" in deliveries[0]
    text = "\n".join(ours)
    assert "whk_secret_token_123" not in text
    assert SDK_KEY not in caplog.text
    assert verification_id not in text


@pytest.mark.parametrize(
    ("url", "logged"),
    [
        ("http://h/v1/webhooks/okid/tok", "/v1/webhooks/okid/***"),
        ("http://h/v1/webhooks/okid/tok/extra?x=1", "/v1/webhooks/okid/***"),
        ("http://h/hooks/tok", "/hooks/***"),
        ("http://h/tok", "/***"),
        ("http://h/", "/"),
    ],
)
def test_webhook_paths_are_logged_without_their_last_segment(url: str, logged: str) -> None:
    from devstack.sandboxes.webhooks import loggable_path as _loggable_path

    assert _loggable_path(url) == logged


# -- construction ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"sdk_key": "", "public_base_url": BASE_URL}, "non-empty"),
        ({"sdk_key": SDK_KEY, "public_base_url": BASE_URL, "extra_sdk_keys": [""]}, "non-empty"),
        ({"sdk_key": SDK_KEY, "public_base_url": "127.0.0.1:4020"}, "http"),
        ({"sdk_key": SDK_KEY, "public_base_url": BASE_URL, "verification_ttl_seconds": 0}, "positive"),
        ({"sdk_key": SDK_KEY, "public_base_url": BASE_URL, "webhook_url": "ftp://h/x"}, "webhook_url"),
        ({"sdk_key": SDK_KEY, "public_base_url": BASE_URL, "side_images": "blurred"}, "side_images"),
    ],
)
def test_constructor_refuses_bad_settings(kwargs: dict[str, Any], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        OkidSandbox(**kwargs)


def test_the_webhook_url_setter_refuses_a_non_http_url(sandbox: OkidSandbox) -> None:
    with pytest.raises(ValueError, match="webhook_url"):
        sandbox.webhook_url = "file:///etc/passwd"
