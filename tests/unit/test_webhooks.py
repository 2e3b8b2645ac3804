"""Provider webhooks (idgate.webhooks): the URL a provider is given, and what a call to it does. The body is
a hint only: a webhook is accepted on its path's token alone, names sessions, and what is applied is what
the provider says when we look with our own credentials."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from idgate.api import Caller
from idgate.domain import Cause, Reason, Status
from idgate.errors import (
    Forbidden,
    NotFound,
    ProviderFailed,
    ProviderRejected,
    ProviderUnavailable,
    ServiceUnavailable,
    ValidationFailed,
)
from idgate.providers.base import Observation
from idgate.service import Idgate
from idgate.webhooks import MAX_REFERENCES
from tests.support.emf import emitted, provider_call_failures
from tests.support.world import CALLER, FakeWebhookProvider, make_world, store_of

APPROVED = Observation(Status.APPROVED, "verified")
PENDING = Observation(Status.PENDING, "pending")
TOKEN = "token-of-hooked"


def tokens(provider: str) -> str:
    return f"token-of-{provider}"


@pytest.fixture
def hooked() -> tuple[Idgate, FakeWebhookProvider]:
    provider = FakeWebhookProvider(answers=[APPROVED])
    service, _, _, _ = make_world(others=(provider,), webhook_tokens=tokens)
    return service, provider


def new_hooked_session(service: Idgate) -> Any:
    session, _, _ = service.create_session(CALLER, {"provider": "hooked"})
    return session


def status_of(service: Idgate, session_id: str) -> Status:
    session = store_of(service).get(session_id)
    assert session is not None
    return session.status


def outcome(error: Any) -> tuple[Any, ...]:
    assert isinstance(error.message, str)
    assert error.message
    return (type(error).__name__, error.status, error.code)


def received(capsys: pytest.CaptureFixture[str]) -> list[tuple[str, str]]:
    """The WebhooksReceived metrics emitted: (provider, outcome) each."""
    return [(line["provider"], line["outcome"]) for line in emitted(capsys, "WebhooksReceived")]


# ---- the URL --------------------------------------------------------------------------------------------


def test_the_dashboard_url_of_a_webhook_provider_holds_its_path_token(hooked):
    service, _ = hooked
    assert service.webhook_url(CALLER, "hooked", "https://api.example/") == {
        "provider": "hooked",
        "url": "https://api.example/v1/webhooks/hooked/token-of-hooked",
    }


def test_only_the_trailing_slash_of_the_apis_url_is_dropped(hooked):
    service, _ = hooked
    url = service.webhook_url(CALLER, "hooked", "https://api.example/STAGEX/")["url"]
    assert url == "https://api.example/STAGEX/v1/webhooks/hooked/token-of-hooked"


def test_the_dashboard_url_needs_a_secret_key(hooked):
    service, _ = hooked
    with pytest.raises(Forbidden) as raised:
        service.webhook_url(Caller(kind="publishable", client_id="shop"), "hooked", "https://api.example")
    assert outcome(raised.value) == ("Forbidden", 403, "secret_key_required")


@pytest.mark.parametrize("provider", ["fake", "nobody"])
def test_a_provider_without_webhooks_has_no_url(hooked, provider):
    service, _ = hooked
    with pytest.raises(NotFound) as raised:
        service.webhook_url(CALLER, provider, "https://api.example")
    assert outcome(raised.value) == ("NotFound", 404, "webhook_not_found")


def test_a_deployment_without_a_webhook_secret_has_no_url():
    service, _, _, _ = make_world(others=(FakeWebhookProvider(),))  # its tokens are all ""
    with pytest.raises(NotFound) as raised:
        service.webhook_url(CALLER, "hooked", "https://api.example")
    assert outcome(raised.value) == ("NotFound", 404, "webhook_not_found")


# ---- who may call it ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "token"),
    [("hooked", "token-of-fake"), ("hooked", ""), ("fake", "token-of-fake"), ("nobody", "token-of-nobody")],
)
def test_a_webhook_with_a_wrong_token_or_for_no_webhook_provider_is_a_404(hooked, provider, token, capsys):
    service, hooked_provider = hooked
    session = new_hooked_session(service)
    hooked_provider.references = ["hook-1"]
    with pytest.raises(NotFound) as raised:
        service.receive_webhook(provider, token, {}, b"{}")
    assert outcome(raised.value) == ("NotFound", 404, "webhook_not_found")
    assert hooked_provider.webhooks == []
    assert status_of(service, session.id) is Status.PENDING
    # a name from the path becomes a metric's dimension only when it is a provider's
    assert received(capsys) == [("unknown" if provider == "nobody" else provider, "refused")]


def test_no_webhook_is_accepted_where_the_deployment_has_no_webhook_secret():
    provider = FakeWebhookProvider(references=["hook-1"])
    service, _, _, _ = make_world(others=(provider,))
    with pytest.raises(NotFound) as raised:
        service.receive_webhook("hooked", "", {}, b"{}")
    assert outcome(raised.value) == ("NotFound", 404, "webhook_not_found")
    assert provider.webhooks == []


# ---- what it does ---------------------------------------------------------------------------------------


def test_a_webhook_applies_what_the_provider_says_when_we_look(hooked, capsys):
    service, provider = hooked
    session = new_hooked_session(service)
    provider.references = ["hook-1"]
    answer = service.receive_webhook("hooked", TOKEN, {"X-Signature": "s1"}, b'{"id": "hook-1"}')
    assert answer == {"received": True}
    assert status_of(service, session.id) is Status.APPROVED
    assert provider.observed == [session.id]
    (request,) = provider.webhooks
    assert (dict(request.headers), request.body) == ({"x-signature": "s1"}, b'{"id": "hook-1"}')
    assert received(capsys) == [("hooked", "applied")]


def test_a_webhook_that_changes_nothing_is_ignored(hooked, capsys):
    service, provider = hooked
    session = new_hooked_session(service)
    provider.answers, provider.references = [PENDING], ["hook-1"]
    assert service.receive_webhook("hooked", TOKEN, {}, b"{}") == {"received": True}
    assert status_of(service, session.id) is Status.PENDING
    assert received(capsys) == [("hooked", "ignored")]


def test_the_shorter_timed_webhook_providers_are_those_that_look(hooked):
    service, slow = hooked
    session = new_hooked_session(service)
    fast = FakeWebhookProvider(answers=[APPROVED], references=["hook-1"])
    deps = dataclasses.replace(service.deps, webhook_providers={"hooked": fast})
    Idgate(deps).receive_webhook("hooked", TOKEN, {}, b"{}")
    assert (fast.looks, slow.looks, len(slow.webhooks)) == (1, 0, 0)
    assert status_of(service, session.id) is Status.APPROVED


def test_a_webhook_for_a_final_session_changes_nothing(hooked, capsys):
    service, provider = hooked
    session = new_hooked_session(service)
    provider.references = ["hook-1"]
    service.receive_webhook("hooked", TOKEN, {}, b"{}")
    capsys.readouterr()
    provider.answers = [Observation(Status.DECLINED, "KO")]
    service.receive_webhook("hooked", TOKEN, {}, b"{}")
    assert status_of(service, session.id) is Status.APPROVED
    assert provider.looks == 1  # not looked at again
    assert received(capsys) == [("hooked", "ignored")]


def test_each_named_session_is_looked_at_once_and_at_most_five(hooked):
    service, provider = hooked
    sessions = [new_hooked_session(service) for _ in range(MAX_REFERENCES + 1)]
    refs = [f"hook-{n}" for n in range(1, MAX_REFERENCES + 2)]
    provider.references = [refs[0], refs[0], *refs[1:]]
    service.receive_webhook("hooked", TOKEN, {}, b"{}")
    assert provider.looks == MAX_REFERENCES
    assert [status_of(service, s.id) for s in sessions] == [Status.APPROVED] * MAX_REFERENCES + [
        Status.PENDING
    ]


def test_unknown_references_are_skipped_and_known_ones_applied(hooked):
    service, provider = hooked
    session = new_hooked_session(service)
    provider.references = ["someone-elses", "hook-1"]
    service.receive_webhook("hooked", TOKEN, {}, b"{}")
    assert status_of(service, session.id) is Status.APPROVED


def test_a_webhook_naming_no_verification_is_a_422(hooked, capsys):
    service, provider = hooked
    new_hooked_session(service)
    with pytest.raises(ValidationFailed) as raised:
        service.receive_webhook("hooked", TOKEN, {}, b"{}")
    assert outcome(raised.value) == ("ValidationFailed", 422, "verification_id_missing")
    assert provider.looks == 0
    assert received(capsys) == [("hooked", "refused")]


def test_a_webhook_naming_no_session_of_ours_is_a_404(hooked):
    service, provider = hooked
    new_hooked_session(service)
    provider.references = ["someone-elses"]
    with pytest.raises(NotFound) as raised:
        service.receive_webhook("hooked", TOKEN, {}, b"{}")
    assert outcome(raised.value) == ("NotFound", 404, "session_not_found")
    assert provider.looks == 0


def test_a_reference_is_looked_up_among_its_own_providers_sessions(hooked):
    service, provider = hooked
    store_of(service).add(
        store_of(service)
        .get(new_hooked_session(service).id)
        .model_copy(  # type: ignore[union-attr]
            update={"id": "ses_other", "provider": "fake", "provider_ref": "hook-9"}
        )
    )
    provider.references = ["hook-9"]
    with pytest.raises(NotFound) as raised:
        service.receive_webhook("hooked", TOKEN, {}, b"{}")
    assert raised.value.code == "session_not_found"


def test_a_webhook_whose_reference_cannot_be_looked_up_is_a_503_or_a_502(hooked):
    service, provider = hooked
    provider.references = ProviderUnavailable(Reason.PROVIDER_UNREACHABLE, "down")
    with pytest.raises(ServiceUnavailable) as unavailable:
        service.receive_webhook("hooked", TOKEN, {}, b"{}")
    assert outcome(unavailable.value) == ("ServiceUnavailable", 503, "provider_unavailable")
    provider.references = ProviderRejected(Reason.PROVIDER_AUTH_FAILED, "no")
    with pytest.raises(ProviderFailed) as refused:
        service.receive_webhook("hooked", TOKEN, {}, b"{}")
    assert outcome(refused.value) == ("ProviderFailed", 502, "provider_auth_failed")


def test_a_failed_look_leaves_the_session_to_the_follow_up_and_the_others_are_applied(hooked, capsys):
    service, provider = hooked
    first, second = new_hooked_session(service), new_hooked_session(service)
    provider.answers = [ProviderUnavailable(Reason.PROVIDER_UNREACHABLE, "down"), APPROVED]
    provider.references = ["hook-1", "hook-2"]
    assert service.receive_webhook("hooked", TOKEN, {}, b"{}") == {"received": True}
    assert (status_of(service, first.id), status_of(service, second.id)) == (Status.PENDING, Status.APPROVED)
    stored = store_of(service).get(first.id)
    assert stored is not None
    assert (stored.last_poll_error, stored.failed_looks) == (None, 0)  # only the follow-up counts failures
    assert received(capsys) == [("hooked", "applied")]


def test_a_look_the_provider_refuses_ends_the_session_in_error(hooked, capsys):
    service, provider = hooked
    session = new_hooked_session(service)
    provider.answers = [ProviderRejected(Reason.PROVIDER_ACCESS_DENIED, "no")]
    provider.references = ["hook-1"]
    service.receive_webhook("hooked", TOKEN, {}, b"{}")
    stored = store_of(service).get(session.id)
    assert stored is not None
    assert (stored.status, stored.result.reasons if stored.result else None) == (
        Status.ERROR,
        ["provider_access_denied"],
    )
    assert received(capsys) == [("hooked", "applied")]


def test_only_an_unreachable_look_is_ignored(hooked, capsys):
    service, provider = hooked
    new_hooked_session(service)
    provider.answers = [ProviderUnavailable(Reason.PROVIDER_UNREACHABLE, "down")]
    provider.references = ["hook-1"]
    service.receive_webhook("hooked", TOKEN, {}, b"{}")
    assert received(capsys) == [("hooked", "ignored")]


def test_a_final_session_named_first_does_not_stop_the_others(hooked):
    service, provider = hooked
    first, second = new_hooked_session(service), new_hooked_session(service)
    store_of(service).advance(first.id, Status.DECLINED, now=service.deps.clock(), cause=Cause.POLL)
    provider.references = ["hook-1", "hook-2"]
    service.receive_webhook("hooked", TOKEN, {}, b"{}")
    assert provider.observed == [second.id]
    assert status_of(service, second.id) is Status.APPROVED


@pytest.mark.parametrize(
    "failure",
    [
        ProviderUnavailable(Reason.PROVIDER_UNREACHABLE, "down"),
        ProviderRejected(Reason.PROVIDER_AUTH_FAILED, "no"),
    ],
)
def test_a_failed_look_does_not_stop_the_others_and_is_counted(hooked, capsys, failure):
    service, provider = hooked
    first, second = new_hooked_session(service), new_hooked_session(service)
    provider.answers = [failure, APPROVED]
    provider.references = ["hook-1", "hook-2"]
    service.receive_webhook("hooked", TOKEN, {}, b"{}")
    assert provider.observed == [first.id, second.id]
    assert status_of(service, second.id) is Status.APPROVED
    assert provider_call_failures(capsys) == [("hooked", failure.reason)]


def test_a_webhook_that_ended_one_session_in_error_counts_as_applied_whatever_came_after(hooked, capsys):
    service, provider = hooked
    refused, unchanged = new_hooked_session(service), new_hooked_session(service)
    provider.answers = [ProviderRejected(Reason.PROVIDER_ACCESS_DENIED, "no"), PENDING]
    provider.references = ["hook-1", "hook-2"]
    service.receive_webhook("hooked", TOKEN, {}, b"{}")
    assert (status_of(service, refused.id), status_of(service, unchanged.id)) == (
        Status.ERROR,
        Status.PENDING,
    )
    assert received(capsys) == [("hooked", "applied")]


def test_a_session_another_trigger_ended_meanwhile_does_not_undo_what_the_webhook_applied(hooked, capsys):
    service, provider = hooked
    applied, raced = new_hooked_session(service), new_hooked_session(service)
    look = provider.observe

    def observe(session: Any) -> Observation:
        if session.id == raced.id:  # the follow-up ends it between our read and our write
            store_of(service).advance(raced.id, Status.EXPIRED, now=service.deps.clock(), cause=Cause.POLL)
            raise ProviderRejected(Reason.PROVIDER_NOT_FOUND, "gone")
        return look(session)

    provider.observe = observe  # type: ignore[method-assign]
    provider.references = ["hook-1", "hook-2"]
    service.receive_webhook("hooked", TOKEN, {}, b"{}")
    assert (status_of(service, applied.id), status_of(service, raced.id)) == (Status.APPROVED, Status.EXPIRED)
    assert received(capsys) == [("hooked", "applied")]
