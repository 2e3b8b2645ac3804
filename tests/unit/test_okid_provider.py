"""The okID client, over real HTTP against the okID sandbox (the documented contract)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import requests

from devstack.sandboxes.okid import OkidSandbox
from idgate.domain import Reason, Session, Status
from idgate.errors import InvalidJson, ProviderFailed, ProviderRejected, ProviderUnavailable, ValidationFailed
from idgate.providers.base import Image, StartRequest, WebhookRequest
from idgate.providers.okid import OkidOptions, OkidProvider
from tests.support.http_server import json_answer, scripted_server, serve_sandbox
from tests.support.providers import provider_context
from tests.support.sessions import open_session

SDK_KEY = "okid-test-key"
OTHER_KEY = "okid-other-key"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
#: What any HTTP client adds by itself (requests does): not a header of okID's API.
TRANSPORT = {"host", "user-agent", "accept-encoding", "accept", "connection", "content-length"}


@pytest.fixture
def sandbox() -> Iterator[tuple[OkidSandbox, str]]:
    with serve_sandbox(lambda url: OkidSandbox(SDK_KEY, url, extra_sdk_keys=[OTHER_KEY])) as served:
        yield served


def provider_for(url: str, sdk_key: str = SDK_KEY, hosts: frozenset[str] = frozenset({"shop.example.com"})):
    return OkidProvider.from_context(
        provider_context("okid", {"sdk_key": sdk_key}, variables={"BASE_URL": url}, return_url_hosts=hosts)
    )


def png_answer(content_type: str | None = "image/png"):
    def answer(_request):
        from werkzeug.wrappers import Response

        response = Response(PNG)
        del response.headers["Content-Type"]
        if content_type is not None:
            response.headers["Content-Type"] = content_type
        return response

    return answer


def session_for(started) -> Session:
    return open_session("okid", started)


def user_does(verification_url: str, outcome: str) -> None:
    answer = requests.post(verification_url, json={"outcome": outcome, "webhook": False}, timeout=5)
    assert answer.status_code == 200, answer.text


def test_start_gives_the_direct_portal_url_and_okid_s_expiry(sandbox):
    _, url = sandbox
    started = provider_for(url).start(StartRequest("ses_1", "order-9", OkidOptions()))
    assert started.verification_url == f"{url}/?verification_id={started.provider_ref}"
    assert started.provider_ref.startswith("ver_")
    assert started.expires_at > datetime.now(UTC)
    assert started.provider_token is None


def test_select_mode_adds_the_mode_to_the_url(sandbox):
    _, url = sandbox
    started = provider_for(url).start(StartRequest("ses_1", None, OkidOptions(mode="select")))
    assert started.verification_url.endswith("&mode=select")


def test_our_session_id_and_the_reference_travel_in_extra_data():
    generated = {"verificationId": "ver_1", "expiresAt": "2030-01-01T12:00:00Z", "modules": {}, "flow": []}
    with scripted_server(json_answer(generated)) as server:
        provider_for(server.url).start(
            StartRequest("ses_1", "order-9", OkidOptions(return_url="https://shop.example.com/done"))
        )
    (request,) = server.requests
    assert request.path == "/api/generate-verification"
    assert request.headers["x-sdk-key"] == SDK_KEY
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.body) == {
        "extra_data": {"session_id": "ses_1", "reference": "order-9"},
        "return_url": "https://shop.example.com/done",
    }


def test_okid_is_sent_only_the_headers_it_documents():
    generated = {"verificationId": "ver_1", "expiresAt": "2030-01-01T12:00:00Z", "modules": {}, "flow": []}
    details = {"verification_id": "ver_1", "status": {"current": "verified"}}
    with scripted_server(json_answer(generated), json_answer(details), png_answer()) as server:
        provider = provider_for(server.url)
        started = provider.start(StartRequest("ses_1", None, OkidOptions()))
        provider.observe(session_for(started))
        provider.image(session_for(started), side="front", redacted=True)
    generate, get_details, get_image = server.requests
    # POST: Content-Type and X-SDK-Key, as in every example of the document; GETs: X-SDK-Key alone.
    assert {name: generate.headers[name] for name in set(generate.headers) - TRANSPORT} == {
        "content-type": "application/json",
        "x-sdk-key": SDK_KEY,
    }
    for request in (get_details, get_image):
        assert {name: request.headers[name] for name in set(request.headers) - TRANSPORT} == {
            "x-sdk-key": SDK_KEY
        }
        assert request.headers.get("accept", "*/*") == "*/*"  # an image is never asked for as JSON


# ---- the document's examples, one test each -------------------------------------------------------


def test_the_documents_generate_verification_answer_is_accepted():
    # The document's "modules": {...} is a placeholder, not JSON.
    generated = {
        "verificationId": "ver_abc123...",
        "expiresAt": "2024-01-01T12:00:00Z",
        "modules": {},
        "flow": ["terms", "document", "liveness"],
    }
    with scripted_server(json_answer(generated)) as server:
        started = provider_for(server.url).start(StartRequest("ses_1", None, OkidOptions(mode="select")))
    assert started.provider_ref == "ver_abc123..."
    assert started.expires_at == datetime(2024, 1, 1, 12, tzinfo=UTC)
    assert started.verification_url == f"{server.url}/?verification_id=ver_abc123...&mode=select"


@pytest.mark.parametrize(
    "details",
    [
        {  # the API endpoint's example, with results
            "verification_id": "ver_abc123...",
            "status": {
                "current": "verified",
                "updated_at": "2024-01-01T12:00:00Z",
                "progress": {"document": "completed", "liveness": "completed", "form_data": "completed"},
            },
            "results": {"document": {}, "liveness": {}, "form_data": {}},
        },
        {  # the curl example's answer, without results
            "verification_id": "ver_abc123...",
            "status": {
                "current": "verified",
                "updated_at": "2024-01-01T12:00:00Z",
                "progress": {"document": "completed", "liveness": "completed"},
            },
        },
    ],
)
def test_the_documents_verification_details_are_accepted(details):
    with scripted_server(json_answer(details)) as server:
        seen = provider_for(server.url).observe(_session("ver_abc123..."))
    assert (seen.status, seen.provider_status, seen.reasons) == (Status.APPROVED, "verified", ())
    assert server.requests[0].path == "/api/get-verification-details/ver_abc123..."


@pytest.mark.parametrize(
    ("current", "status", "reasons"),
    [  # the polling example's final statuses, and the SDKs' manual review
        ("verified", Status.APPROVED, ()),
        ("rejected", Status.DECLINED, (Reason.PROVIDER_DECLINED.value,)),
        ("expired", Status.EXPIRED, (Reason.VERIFICATION_EXPIRED.value,)),
        ("needs_manual_review", Status.REVIEW, ()),
    ],
)
def test_the_documents_statuses_are_accepted(current, status, reasons):
    with scripted_server(json_answer({"verification_id": "ver_1", "status": {"current": current}})) as server:
        seen = provider_for(server.url).observe(_session("ver_1"))
    assert (seen.status, seen.provider_status, seen.reasons) == (status, current, reasons)


def test_the_documents_403_for_another_keys_verification_is_access_denied():
    answer = json_answer({"error": "API key does not have access to this verification"}, status=403)
    with scripted_server(answer) as server, pytest.raises(ProviderRejected) as failure:
        provider_for(server.url).observe(_session("ver_1"))
    assert failure.value.reason == Reason.PROVIDER_ACCESS_DENIED


def test_an_image_without_a_content_type_is_a_jpeg_as_in_the_documents_examples():
    with scripted_server(png_answer(content_type=None)) as server:
        image = provider_for(server.url).image(_session("ver_1"), side="front", redacted=True)
    assert image == Image(PNG, "image/jpeg")


def test_the_documents_404_for_a_side_without_an_accepted_image_is_no_image():
    answer = json_answer({"error": "No accepted back image"}, status=404)
    with scripted_server(answer) as server:
        assert provider_for(server.url).image(_session("ver_1"), side="back", redacted=False) is None


@pytest.mark.parametrize(
    ("outcome", "status", "reasons"),
    [
        ("verified", Status.APPROVED, ()),
        ("rejected", Status.DECLINED, (Reason.PROVIDER_DECLINED.value,)),
        ("needs_manual_review", Status.REVIEW, ()),
    ],
)
def test_okid_statuses_map_to_ours(sandbox, outcome, status, reasons):
    _, url = sandbox
    provider = provider_for(url)
    started = provider.start(StartRequest("ses_1", None, OkidOptions()))
    session = session_for(started)
    assert provider.observe(session).status is Status.PENDING
    user_does(started.verification_url, outcome)
    seen = provider.observe(session)
    assert (seen.status, seen.provider_status, seen.reasons) == (status, outcome, reasons)


def test_a_verification_of_another_key_is_access_denied_for_good(sandbox):
    _, url = sandbox
    started = provider_for(url, sdk_key=OTHER_KEY).start(StartRequest("s", None, OkidOptions()))
    with pytest.raises(ProviderRejected) as failure:
        provider_for(url).observe(session_for(started))
    assert failure.value.reason == Reason.PROVIDER_ACCESS_DENIED


def test_a_wrong_key_fails_the_start(sandbox):
    _, url = sandbox
    with pytest.raises(ProviderFailed) as failure:
        provider_for(url, sdk_key="nope").start(StartRequest("s", None, OkidOptions()))
    assert failure.value.code == Reason.PROVIDER_AUTH_FAILED.value


def test_images_exist_after_the_document_was_accepted(sandbox):
    _, url = sandbox
    provider = provider_for(url)
    started = provider.start(StartRequest("s", None, OkidOptions()))
    session = session_for(started)
    assert provider.image(session, side="front", redacted=True) is None
    user_does(started.verification_url, "verified")
    front = provider.image(session, side="front", redacted=True)
    back = provider.image(session, side="back", redacted=True)
    unredacted = provider.image(session, side="front", redacted=False)
    assert front is not None
    assert back is None  # okID's redacted endpoint has no side: it is the front
    assert unredacted is not None
    assert front.content_type == "image/png"
    assert front.content.startswith(b"\x89PNG")
    assert front.content != unredacted.content
    unredacted_back = provider.image(session, side="back", redacted=False)
    assert unredacted_back is not None
    assert len({front.content, unredacted.content, unredacted_back.content}) == 3


@pytest.mark.parametrize(
    ("side", "redacted", "path"),
    [
        ("front", True, "/api/get-verification-image/ver_1"),
        ("front", False, "/api/get-verification-image-front/ver_1"),
        ("back", False, "/api/get-verification-image-back/ver_1"),
    ],
)
def test_redacted_comes_from_the_redacted_endpoint_and_the_sides_are_unredacted(side, redacted, path):
    with scripted_server(png_answer()) as server:
        image = provider_for(server.url).image(_session("ver_1"), side=side, redacted=redacted)
    assert image == Image(PNG, "image/png")
    assert [request.path for request in server.requests] == [path]


def test_there_is_no_redacted_back_and_okid_is_not_asked_for_one():
    with scripted_server(png_answer()) as server:
        assert provider_for(server.url).image(_session("ver_1"), side="back", redacted=True) is None
    assert server.requests == []


def test_the_sandboxs_images_are_what_idgate_asked_for(sandbox):
    _, url = sandbox
    provider = provider_for(url)
    started = provider.start(StartRequest("s", None, OkidOptions()))
    user_does(started.verification_url, "verified")
    session = session_for(started)
    for side, redacted, description in [
        ("front", True, b"okID sandbox FRONT redacted original"),
        ("front", False, b"okID sandbox FRONT unredacted original"),
        ("back", False, b"okID sandbox BACK unredacted original"),
    ]:
        image = provider.image(session, side=side, redacted=redacted)
        assert image is not None
        assert description in image.content  # the sandbox's PNG says what it is


@pytest.mark.parametrize("status", [500, 502, 429])
def test_server_errors_and_throttling_are_transient(status):
    with (
        scripted_server(json_answer({"error": "busy"}, status=status)) as server,
        pytest.raises(ProviderUnavailable),
    ):
        provider_for(server.url).observe(_session("ver_1"))


def test_an_unreadable_answer_is_transient():
    with (
        scripted_server(json_answer({"verification_id": "ver_1"})) as server,
        pytest.raises(ProviderUnavailable) as failure,
    ):
        provider_for(server.url).observe(_session("ver_1"))
    assert failure.value.reason == Reason.PROVIDER_BAD_RESPONSE


def _session(reference: str) -> Session:
    return open_session("okid", provider_ref=reference)


def test_the_schedule_starts_at_the_base_interval_and_backs_off_to_a_ceiling():
    provider = provider_for("http://127.0.0.1:9")
    session = _session("ver_1")
    waits = [provider.next_wait_seconds(session, attempt=n, base_interval=5) for n in range(1, 40)]
    assert waits[:5] == [5, 5, 5, 5, 5]
    assert waits == sorted(waits)
    assert max(waits) == 60
    review = session.model_copy(update={"status": Status.REVIEW})
    assert provider.next_wait_seconds(review, attempt=1, base_interval=5) == 60


@pytest.mark.parametrize(
    "return_url",
    [
        "http://shop.example.com/done",
        "https://evil.example.net/phish",
        "https://shop.example.com.evil.net/",
        "https://user@shop.example.com/",
        "javascript:alert(1)",
        "//shop.example.com/done",
    ],
)
def test_return_urls_outside_the_allow_list_are_refused(return_url):
    with pytest.raises(ValidationFailed) as failure:
        provider_for("http://127.0.0.1:9").parse_options({"return_url": return_url}, email=None)
    assert failure.value.code == "return_url_not_allowed"
    assert failure.value.message


def test_an_allowed_https_return_url_is_accepted():
    parsed = provider_for("http://127.0.0.1:9").parse_options(
        {"return_url": "https://Shop.example.com/done?x=1", "mode": "select"}, email=None
    )
    assert parsed.return_url == "https://Shop.example.com/done?x=1"


@pytest.mark.parametrize(
    "body",
    [
        {"verification_id": "ver_1"},
        {"verificationId": "ver_1"},
        {"event": "x", "data": {"verification_id": "ver_1"}},
        [{"verification": {"verificationId": "ver_1"}}],
    ],
)
def test_a_webhook_body_may_name_the_verification_anywhere(body):
    assert provider_for("http://127.0.0.1:9").webhook_reference(body) == "ver_1"


@pytest.mark.parametrize("body", [{}, {"status": "verified"}, None, "ver_1", {"verification_id": 7}])
def test_a_webhook_body_naming_no_verification_names_none(body):
    assert provider_for("http://127.0.0.1:9").webhook_reference(body) is None


def test_a_deeply_nested_webhook_body_is_searched_within_bounds():
    body: dict = {"verification_id": None}
    for _ in range(5000):
        body = {"data": body}
    assert provider_for("http://127.0.0.1:9").webhook_reference(body) is None


def test_the_shallowest_verification_id_of_a_webhook_body_wins():
    body = {"data": {"verification_id": "ver_deep"}, "verificationId": "ver_top"}
    assert provider_for("http://127.0.0.1:9").webhook_reference(body) == "ver_top"


@pytest.mark.parametrize("content_type", ["image/svg+xml", "text/html", "application/octet-stream"])
def test_an_image_answer_of_another_type_is_not_passed_through(content_type):
    def answer(_request):
        from werkzeug.wrappers import Response

        return Response(b"<svg onload='alert(1)'/>", content_type=content_type)

    with scripted_server(answer) as server, pytest.raises(ProviderUnavailable) as failure:
        provider_for(server.url).image(_session("ver_1"), side="front", redacted=True)
    assert failure.value.reason == Reason.PROVIDER_BAD_RESPONSE


def test_a_webhook_is_read_from_its_raw_body():
    provider = provider_for("http://127.0.0.1:9")
    request = WebhookRequest({"content-type": "application/json"}, b'{"verification_id": "ver_1"}')
    assert provider.webhook_references(request) == ["ver_1"]
    assert provider.webhook_references(WebhookRequest({}, b"{}")) == []
    with pytest.raises(InvalidJson):
        provider.webhook_references(WebhookRequest({}, b"{not json"))


@pytest.mark.parametrize("status", [500, 501, 503, 599])
def test_every_server_error_is_transient_and_unreachable(status):
    with (
        scripted_server(json_answer({"error": "busy"}, status=status)) as server,
        pytest.raises(ProviderUnavailable) as failure,
    ):
        provider_for(server.url).observe(_session("ver_1"))
    assert failure.value.reason == "provider_unreachable"


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (400, "provider_error"),
        (401, "provider_auth_failed"),
        (403, "provider_access_denied"),
        (404, "provider_not_found"),
        (409, "provider_error"),
        (499, "provider_error"),
    ],
)
def test_each_client_error_is_a_final_refusal_with_its_reason(status, reason):
    with (
        scripted_server(json_answer({"error": "no"}, status=status)) as server,
        pytest.raises(ProviderRejected) as failure,
    ):
        provider_for(server.url).observe(_session("ver_1"))
    assert failure.value.reason == reason


@pytest.mark.parametrize(
    ("current", "status", "reasons"),
    [
        ("processing", "processing", ()),
        ("expired", "expired", ("verification_expired",)),
        ("rejected", "declined", ("provider_declined",)),
        ("pending", "pending", ()),
        ("in_progress", "pending", ()),
    ],
)
def test_okid_statuses_are_ours_as_strings(current, status, reasons):
    with scripted_server(json_answer({"verification_id": "ver_1", "status": {"current": current}})) as server:
        seen = provider_for(server.url).observe(_session("ver_1"))
    assert (seen.status.value, seen.provider_status, seen.reasons) == (status, current, reasons)


def test_a_verification_okid_is_processing_is_followed_like_a_review():
    provider = provider_for("http://127.0.0.1:9")
    processing = _session("ver_1").model_copy(update={"status": Status.PROCESSING})
    assert provider.next_wait_seconds(processing, attempt=1, base_interval=5) == 60
    assert (
        provider.follow_limit(Status.PROCESSING) == provider.follow_limit(Status.REVIEW) == timedelta(hours=1)
    )
    assert provider.follow_limit(Status.PENDING) is None


def test_the_schedule_doubles_every_six_checks():
    provider = provider_for("http://127.0.0.1:9")
    waits = [provider.next_wait_seconds(_session("ver_1"), attempt=n, base_interval=5) for n in range(0, 31)]
    assert waits == [5] * 6 + [10] * 6 + [20] * 6 + [40] * 6 + [60] * 7


def _listed_before(count: int) -> dict:
    """A body whose verification id is the (count + 3)th object or array a breadth-first search meets."""
    return {"events": [{} for _ in range(count)] + [{"verification_id": "ver_far"}]}


def test_a_webhook_body_is_searched_through_its_first_200_objects_and_arrays_and_no_further():
    provider = provider_for("http://127.0.0.1:9")
    assert provider.webhook_reference(_listed_before(197)) == "ver_far"  # the 200th node
    assert provider.webhook_reference(_listed_before(198)) is None  # the 201st: past the bound
    assert provider.webhook_reference(_listed_before(100_000)) is None


@pytest.mark.parametrize("value", ["", "v" * 201, ["ver_1"], {"id": "ver_1"}])
def test_a_verification_id_that_is_no_short_string_is_skipped(value):
    body = {"verification_id": value, "data": {"verificationID": "ver_2"}}
    assert provider_for("http://127.0.0.1:9").webhook_reference(body) == "ver_2"


def test_the_verification_url_is_okids_portal_with_the_id_escaped():
    generated = {"verificationId": "ver/1?x=&y", "expiresAt": "2030-01-01T12:00:00+00:00"}
    with scripted_server(json_answer(generated)) as server:
        started = provider_for(server.url + "/").start(
            StartRequest("ses_1", None, OkidOptions(mode="select"))
        )
    assert started.verification_url == f"{server.url}/?verification_id=ver%2F1%3Fx%3D%26y&mode=select"
    assert started.provider_ref == "ver/1?x=&y"
    assert started.expires_at == datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
    assert started.qr_image is None  # okID gives no QR image: idgate draws one of this URL


@pytest.mark.parametrize("status", [500, 501, 503])
def test_an_image_answered_with_a_server_error_is_never_passed_through(status):
    def answer(_request):
        from werkzeug.wrappers import Response

        return Response(PNG, status=status, content_type="image/png")

    with scripted_server(answer) as server, pytest.raises(ProviderUnavailable) as failure:
        provider_for(server.url).image(_session("ver_1"), side="front", redacted=True)
    assert failure.value.reason == "provider_unreachable"


def test_options_okid_does_not_know_are_named_under_options():
    with pytest.raises(ValidationFailed) as failure:
        provider_for("http://127.0.0.1:9").parse_options({"mode": "qr", "colour": "red"}, email=None)
    assert failure.value.code == "validation_error"
    assert [field["field"] for field in failure.value.details["fields"]] == ["options.mode", "options.colour"]


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, "provider_error"),
        (401, "provider_auth_failed"),
        (403, "provider_auth_failed"),
        (404, "provider_error"),
        (499, "provider_error"),
    ],
)
def test_a_start_okid_refuses_is_a_502_with_a_code(status, code):
    with (
        scripted_server(json_answer({"error": "no"}, status=status)) as server,
        pytest.raises(ProviderFailed) as failure,
    ):
        provider_for(server.url).start(StartRequest("ses_1", None, OkidOptions()))
    assert (failure.value.status, failure.value.code) == (502, code)
    assert failure.value.message


@pytest.mark.parametrize("status", [500, 503])
def test_a_start_okid_fails_to_answer_is_transient(status):
    with (
        scripted_server(json_answer({"error": "busy"}, status=status)) as server,
        pytest.raises(ProviderUnavailable),
    ):
        provider_for(server.url).start(StartRequest("ses_1", None, OkidOptions()))


@pytest.mark.parametrize(
    "generated",
    [{"expiresAt": "2030-01-01T12:00:00Z"}, {"verificationId": "ver_1", "expiresAt": "2030-01-01T12:00:00"}],
)
def test_a_start_answer_without_a_verification_or_a_zoned_expiry_is_a_bad_response(generated):
    with scripted_server(json_answer(generated)) as server, pytest.raises(ProviderFailed) as failure:
        provider_for(server.url).start(StartRequest("ses_1", None, OkidOptions()))
    assert (failure.value.status, failure.value.code) == (502, "provider_bad_response")
    assert failure.value.message


def test_the_verification_id_is_escaped_in_every_path():
    raw: list[str] = []  # as sent: the server's decoded path would hide a missing escape

    def recording(answer):
        def respond(request):
            raw.append(request.environ["RAW_URI"])
            return answer(request)

        return respond

    details = {"verification_id": "ver/1", "status": {"current": "verified"}}
    with scripted_server(recording(json_answer(details)), recording(png_answer())) as server:
        provider = provider_for(server.url)
        provider.observe(_session("ver/1?x"))
        provider.image(_session("ver/1?x"), side="back", redacted=False)
    assert raw == [
        "/api/get-verification-details/ver%2F1%3Fx",
        "/api/get-verification-image-back/ver%2F1%3Fx",
    ]


@pytest.mark.parametrize("reference", ["v", "v" * 200])
def test_a_verification_id_of_one_to_200_characters_is_taken(reference):
    assert provider_for("http://127.0.0.1:9").webhook_reference({"verification_id": reference}) == reference


@pytest.mark.parametrize("content_type", ["image/png; charset=binary", "Image/PNG", " image/png ;q=1"])
def test_an_image_type_is_read_without_its_parameters_or_case(content_type):
    with scripted_server(png_answer(content_type)) as server:
        image = provider_for(server.url).image(_session("ver_1"), side="front", redacted=True)
    assert image == Image(PNG, "image/png")


def test_an_image_larger_than_an_api_answer_may_be_is_refused():
    from idgate.providers.okid import MAX_IMAGE_BYTES

    def answer(size: int):
        def respond(_request):
            from werkzeug.wrappers import Response

            return Response(b"\xff\xd8\xff" + b"\x00" * (size - 3), content_type="image/jpeg")

        return respond

    with scripted_server(answer(MAX_IMAGE_BYTES), answer(MAX_IMAGE_BYTES + 1)) as server:
        provider = provider_for(server.url)
        largest = provider.image(_session("ver_1"), side="front", redacted=True)
        with pytest.raises(ProviderRejected) as failure:
            provider.image(_session("ver_1"), side="front", redacted=True)
    assert largest is not None
    assert len(largest.content) == 4 * 1024 * 1024
    assert failure.value.reason == "provider_error"


def test_a_portal_under_a_path_keeps_its_path():
    generated = {"verificationId": "ver_1", "expiresAt": "2030-01-01T12:00:00Z"}
    with scripted_server(json_answer(generated)) as server:
        started = provider_for(server.url + "/okidX/").start(StartRequest("ses_1", None, OkidOptions()))
    assert server.requests[0].path == "/okidX/api/generate-verification"
    assert started.verification_url == f"{server.url}/okidX/?verification_id=ver_1"
