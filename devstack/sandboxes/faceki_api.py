"""FACEKI's server-to-server API as the sandbox answers it: the access token, the rules, and the KYC links
and records idgate makes and reads.

Separate from ``faceki``, whose ``FacekiSandbox`` adds to this what people use (the hosted page, the
reviewer's decisions, the dashboard's account settings) and its registration in the local stack; the
contract of both is ``faceki``'s docstring. The state both sides share (the account, tokens, links and
records) is held here, behind the sandbox's lock.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from devstack.sandboxes.base import (
    Sandbox,
    SandboxError,
    iso_seconds,
    json_object,
    key_digest,
    matching_digest,
)
from devstack.sandboxes.faceki_records import (
    ACCEPTED,
    DATA_NOT_FOUND,
    DECLINED,
    DOCUMENTS,
    INVALID_VERIFICATION_LINK,
    NO_RULES_FOR_COMPANY,
    REVIEW,
    VALID_AGE,
    VERIFICATION_LINK_EXPIRED,
    Account,
    Link,
    Record,
    Tokens,
    new_id,
)
from devstack.sandboxes.faceki_requests import bearer_token, client_credentials, link_request
from devstack.sandboxes.pages import json_response

__all__ = ["LINK_PATH", "VERIFY_API", "FacekiApi", "short_id"]

VERIFY_API = "/kycverify/api/kycverify"
#: The hosted page of a link: ``LINK_PATH + linkId``.
LINK_PATH = "/kycverify/"
_ID_LOG_CHARS = 12


def short_id(link_id: str) -> str:
    """How logs name a link: its first characters."""
    return link_id[:_ID_LOG_CHARS] + "..."


def _ok(data: object, **more: object) -> Response:
    return json_response({"responseCode": 0, "data": data, **more})


def _refused(answer: tuple[int, str]) -> Response:
    code, name = answer
    return json_response({"responseCode": code, "message": name})


class FacekiApi(Sandbox):
    """The API part of the FACEKI sandbox (``FacekiSandbox`` is the whole, which the stack starts)."""

    api_endpoints = frozenset({"token", "rules", "create_link", "link", "record", "reference", "summary"})

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        public_base_url: str,
        other_rules: Iterable[Rule],
        *,
        account: Account,
        token_ttl_seconds: int,
        minute_seconds: int,
        dashboard_webhook_url: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``other_rules`` route the endpoints of the people's side, which a subclass serves."""
        if not client_id or not client_secret:
            raise ValueError("client_id and client_secret must be non-empty")
        if token_ttl_seconds <= 0 or minute_seconds <= 0:
            raise ValueError("token_ttl_seconds and minute_seconds must be positive")
        rules = [
            Rule("/auth/api/access-token", endpoint="token", methods=["GET"]),
            Rule("/kycrules/api/kycrules", endpoint="rules", methods=["GET"]),
            Rule(f"{VERIFY_API}/kyc-verify-link", endpoint="create_link", methods=["POST"]),
            Rule(f"{VERIFY_API}/link", endpoint="link", methods=["GET"]),
            Rule(f"{VERIFY_API}/records", endpoint="record", methods=["GET"]),
            Rule(f"{VERIFY_API}/reference", endpoint="reference", methods=["GET"]),
            Rule(f"{VERIFY_API}/kyc-verify-summary", endpoint="summary", methods=["GET"]),
            *other_rules,
        ]
        super().__init__(public_base_url, rules, clock=clock, dashboard_webhook_url=dashboard_webhook_url)
        self._credentials = {"client_id": client_id, "client_secret": client_secret}
        self._client_id = key_digest(client_id)
        self._client_secret = key_digest(client_secret)
        self._account = account
        self._tokens = Tokens(token_ttl_seconds)
        self._minute_seconds = minute_seconds
        self._links: dict[str, Link] = {}
        self._records: dict[str, Record] = {}  # by requestId, oldest first

    def error_body(self, error: SandboxError) -> Mapping[str, object]:
        return {"status": False, "message": error.message, "statusCode": error.status, "data": {}}

    def link_url(self, link_id: str) -> str:
        return f"{self.public_base_url}{LINK_PATH}{link_id}"

    def on_token(self, request: Request) -> Response:
        client_id, client_secret = client_credentials(request)
        # Both are compared, whatever the first gives, so timing tells nothing about either.
        id_ok = matching_digest(client_id, (self._client_id,)) is not None
        secret_ok = matching_digest(client_secret, (self._client_secret,)) is not None
        if not (id_ok and secret_ok):
            self.log.info("faceki sandbox: access token refused")
            raise SandboxError(401, "invalid client credentials")
        with self._lock:
            token = self._tokens.issue(self._clock())
            count = self._tokens.issued
        self.log.info("faceki sandbox: access token %d issued (valid %d s)", count, self._tokens.ttl_seconds)
        return _ok({"access_token": token, "expires_in": self._tokens.ttl_seconds, "token_type": "Bearer"})

    def _check_token(self, request: Request) -> None:
        """A 401 unless the request has ``Authorization: Bearer <token>`` with a live token."""
        token = bearer_token(request)
        with self._lock:
            valid = self._tokens.valid(token, self._clock())
        if not valid:
            raise SandboxError(401, "Unauthorized")

    def on_rules(self, request: Request) -> Response:
        self._check_token(request)
        with self._lock:
            has_rules = self._account.rules
        if not has_rules:
            return _refused(NO_RULES_FOR_COMPANY)
        return _ok({"validAge": VALID_AGE, "documents": list(DOCUMENTS), "redirect_url": ""})

    def on_create_link(self, request: Request) -> Response:
        self._check_token(request)
        wanted = link_request(json_object(request))
        now = self._clock()
        with self._lock:
            refusal = self._account.refusal()
            if refusal is None:
                link = Link(
                    link_id=new_id(now),
                    application_id=wanted.application_id,
                    created_at=int(now),
                    expires_at=int(now) + wanted.expiry_minutes * self._minute_seconds,
                    redirect_url=wanted.redirect_url,
                    document_optional=wanted.document_optional,
                )
                self._links[link.link_id] = link
        if refusal is not None:
            self.log.info("faceki sandbox: link refused (%s)", refusal[1])
            return _refused(refusal)
        self.log.info(
            "faceki sandbox: link %s created (expires %s)",
            short_id(link.link_id),
            iso_seconds(link.expires_at),
        )
        return _ok(link.link_id, url=self.link_url(link.link_id))

    def on_link(self, request: Request) -> Response:
        self._check_token(request)
        now = self._clock()
        with self._lock:
            link = self._links.get(request.args.get("linkId", ""))
            if link is None:
                return _refused(INVALID_VERIFICATION_LINK)
            if link.expired(now) and not link.records:
                return _refused(VERIFICATION_LINK_EXPIRED)
            return _ok(link.as_json(now))

    def on_record(self, request: Request) -> Response:
        self._check_token(request)
        with self._lock:
            record = self._records.get(request.args.get("requestId", ""))
            return _refused(DATA_NOT_FOUND) if record is None else _ok(record.as_json())

    def on_reference(self, request: Request) -> Response:
        self._check_token(request)
        reference = request.args.get("referenceId", "")
        with self._lock:
            found = [
                r.as_json() for r in self._records.values() if reference and r.application_id == reference
            ]
        return _ok(found) if found else _refused(DATA_NOT_FOUND)

    def on_summary(self, request: Request) -> Response:
        self._check_token(request)
        with self._lock:
            statuses = [record.status for record in self._records.values()]
        counts = {"accepted": statuses.count(ACCEPTED), "declined": statuses.count(DECLINED)}
        return _ok({"total": len(statuses), **counts, "review": statuses.count(REVIEW)})
