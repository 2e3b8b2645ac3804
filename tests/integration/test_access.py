"""Who may see what, with keys made by the real keys function and checked by the real authorizer
behind the emulated API Gateway."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import requests

from tests.integration.conftest import Integration


def new_key(integration: Integration, kind: str, client_id: str) -> dict:
    answer = integration.stack.lambdas.invoke(
        "KeysFunction", {"action": "create", "kind": kind, "client_id": client_id, "name": "test"}
    )
    assert answer["key"].startswith("sk_" if kind == "secret" else "pk_")
    return answer


def get(integration: Integration, path: str, key: str) -> requests.Response:
    return requests.get(f"{integration.api}{path}", headers={"Authorization": f"Bearer {key}"}, timeout=10)


def test_another_clients_secret_key_gets_the_same_404_as_an_unknown_session(integration: Integration):
    created = integration.create({"provider": "jekimo"})
    other = new_key(integration, "secret", "another-shop")
    theirs = get(integration, f"/v1/sessions/{created['id']}", other["key"])
    unknown = get(integration, "/v1/sessions/ses_doesnotexist0000000000", other["key"])
    assert theirs.status_code == unknown.status_code == 404
    assert theirs.content == unknown.content
    assert get(integration, f"/v1/sessions/{created['id']}", "sk_local_dev").status_code == 200


def test_keys_of_one_client_share_its_sessions(integration: Integration):
    publishable = new_key(integration, "publishable", "shop-7")
    secret = new_key(integration, "secret", "shop-7")
    created = requests.post(
        f"{integration.api}/v1/sessions",
        json={"provider": "okid"},
        headers={"Authorization": f"Bearer {publishable['key']}"},
        timeout=10,
    ).json()
    assert get(integration, f"/v1/sessions/{created['id']}", secret["key"]).status_code == 200
    assert get(integration, f"/v1/sessions/{created['id']}", publishable["key"]).status_code == 404


def test_a_revoked_key_is_refused_by_the_gateway(integration: Integration):
    key = new_key(integration, "secret", "shop-8")
    integration.stack.lambdas.invoke("KeysFunction", {"action": "revoke", "key_id": key["key_id"]})
    answer = get(integration, "/v1/health", key["key"])
    assert answer.status_code == 200  # health needs no key at all
    refused = get(integration, "/v1/providers/okid/webhook", key["key"])
    assert refused.status_code == 403
    assert refused.json() == {"message": "Forbidden"}


def test_a_webhook_with_a_wrong_token_never_reaches_okid(integration: Integration):
    created = integration.create({"provider": "okid"})
    # Stop the poller for this session, so that every call to okID from now on is the webhook's.
    arn = integration.execution(created["id"])["executionArn"]
    integration.client("stepfunctions").stop_execution(executionArn=arn)
    verification_id = created["verification_url"].split("verification_id=")[1]
    details = f"/api/get-verification-details/{verification_id}"
    before = integration.okid.count(details)
    body = {"verification_id": verification_id, "status": "verified"}
    url = integration.stack.webhook_url("okid")
    assert url is not None

    wrong = requests.post(f"{url[:-1]}{'y' if url.endswith('x') else 'x'}", json=body, timeout=10)
    assert wrong.status_code == 404
    assert wrong.json()["error"]["code"] == "webhook_not_found"
    assert integration.okid.count(details) == before

    right = requests.post(url, json=body, timeout=10)
    assert right.status_code == 200
    assert integration.okid.count(details) == before + 1
    # The body claimed "verified"; okID says pending, and that is what counts.
    assert integration.session(created["id"])["status"] == "pending"


def test_webhook_urls_are_built_on_the_apis_own_url_whatever_host_and_scheme_a_caller_sends(
    integration: Integration,
):
    forged = {"Host": "evil.example", "X-Forwarded-Proto": "javascript", "X-Forwarded-Host": "evil.example"}
    answer = requests.get(
        f"{integration.api}/v1/providers/okid/webhook",
        headers={"Authorization": "Bearer sk_local_dev", **forged},
        timeout=10,
    )
    assert answer.status_code == 200
    assert answer.json()["url"].startswith(f"{integration.api}/v1/webhooks/okid/")
    assert answer.json()["url"] == integration.stack.webhook_url("okid")


SESSIONS = 20  # twice the default concurrency: some wait for a free environment


def test_concurrent_requests_of_several_clients_each_get_their_own_answer(integration: Integration):
    # Given many sessions, created at once (the API and the authorizer run concurrently)
    def create(n: int) -> dict:
        return integration.create({"provider": "okid", "reference": f"r-{n}"})

    with ThreadPoolExecutor(max_workers=SESSIONS) as pool:
        created = list(pool.map(create, range(SESSIONS)))
    assert [session["reference"] for session in created] == [f"r-{n}" for n in range(SESSIONS)]

    # When each browser reads its own session with its client secret, all at once
    def read(session: dict) -> requests.Response:
        url = f"{integration.api}/v1/sessions/{session['id']}"
        return requests.get(url, headers={"X-Client-Secret": session["client_secret"]}, timeout=10)

    with ThreadPoolExecutor(max_workers=SESSIONS) as pool:
        answers = list(pool.map(read, created))

    # Then each got its own session, never another request's (the real handlers, run at once: the
    # isolation itself is proven where a handler waits inside the request, tests/unit/devstack)
    assert [a.status_code for a in answers] == [200] * SESSIONS
    assert [(a.json()["id"], a.json()["reference"]) for a in answers] == [
        (s["id"], s["reference"]) for s in created
    ]
