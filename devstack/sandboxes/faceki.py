"""A local FACEKI (KYC V2) sandbox: a WSGI app standing in for ``https://sdk.faceki.com`` and its KYC link.

The API is at the root of ``public_base_url``. Every call but the token needs
``Authorization: Bearer <token>``; errors are ``{"status": false, "message", "statusCode", "data": {}}``,
while FACEKI's own refusals are HTTP 200 ``{"responseCode": N, "message": NAME}``:

``GET /auth/api/access-token?clientId=&clientSecret=`` (or as headers)
    200 ``{"responseCode": 0, "data": {"access_token", "expires_in", "token_type": "Bearer"}}``
``GET /kycrules/api/kycrules``  ``{"validAge": 18, "documents", "redirect_url": ""}``, or 7001
``POST /kycverify/api/kycverify/kyc-verify-link``  JSON ``{"expiryTime", "applicationId", "redirect_url",
"document_optional"}``  200 ``{"responseCode": 0, "data": "<linkId>", "url": "<base>/kycverify/<linkId>"}``
``GET /kycverify/api/kycverify/link?linkId=``  ``{"linkId", "applicationId", "expiresAt", "status",
"records"}``, or 8014 (unknown), 8015 (expired with no record)
``GET .../records?requestId=``, ``.../reference?referenceId=`` (8013 if none), ``.../kyc-verify-summary``

Where each part comes from:

* The seed (``seeds/faceki.txt``): the token call, its query or header parameters, its answer
  (``expires_in`` 3600, ``token_type`` Bearer), the error body and its 422 "client id is required",
  and the response codes 7001-8019 and their names.
* ``PROVIDERS.md`` (FACEKI's public client library and newer pages): the paths of the rules, link,
  records, reference and summary calls, the link call's fields and answer, ``validAge``, the dashboard
  webhook's body ``{"requestId", "fullName", "status", "kycData"}`` (unsigned) and the codes 5003-5010.
* The sandbox's own reading, where no document says: "client secret is required" (422), "invalid
  client credentials" and "Unauthorized" (401); tokens are opaque (FACEKI's are JWTs: do not parse
  them) and live ``token_ttl_seconds``; the shapes of the rules, link and record answers; the order
  the account's refusals are checked in (``faceki_records.Account``); ``expiryTime`` 1-10080 minutes
  and ``applicationId`` up to 128 characters, checked before the account; ids of 24 hex digits; a
  link is EXPIRED from ``expiryTime`` minutes after its creation second, answered as 8015 only
  while it has no record; ``records`` and ``reference`` answer 8013 when nothing matches.

The hosted page (FACEKI's is on apps.faceki.com; here ``/kycverify/<linkId>`` on the sandbox's URL)
stands in for the user and for the dashboard's reviewer: see ``faceki_page``. ``POST`` of JSON
``{"outcome": "accepted"|"declined"|"review"|"abandon", "code": 8002, "documentType": "ID",
"webhook": true}`` does the same for scripted tests. The user captures once while the link is
active (a new record; ``abandon`` makes none and ends the user's part); a record in REVIEW then
takes the reviewer's ``accepted`` or ``declined``, even after the link expired. Answers 200
``{"linkId", "status", "requestId", "redirect_url"}``; 400, 404 (unknown link), 409 (the user's part
is over, or nothing is in review), 410 (the link expired before the user's capture).

When a record is made or changes status (and ``webhook`` is not false) the dashboard webhook is
POSTed to ``dashboard_webhook_url`` from a background thread (``webhooks.WebhookSender``).
``/sandbox/account`` (GET; POST of any of the account's flags) stands in for the dashboard's
account settings and needs no token. State is in memory behind a lock. Nothing logs the client
secret, tokens or the fake person's data; link ids are logged by their first 12 characters.

This module is the people's side (the hosted page, the reviewer, ``/sandbox/account``) and the sandbox's
registration in the local stack; the API idgate calls is ``faceki_api``'s, what a link and a record are
``faceki_records``', what requests say ``faceki_requests``' and the page ``faceki_page``'s.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Self

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from devstack.sandboxes.base import SandboxError, json_object
from devstack.sandboxes.faceki_api import LINK_PATH, FacekiApi, short_id
from devstack.sandboxes.faceki_page import NOT_FOUND_PAGE, link_page
from devstack.sandboxes.faceki_records import ABANDONED, Account
from devstack.sandboxes.faceki_requests import account_changes, outcome
from devstack.sandboxes.pages import PAGE_CSP, html_response, json_response

__all__ = ["LINK_PATH", "FacekiSandbox"]


class FacekiSandbox(FacekiApi):
    """WSGI app standing in for FACEKI KYC V2 (``https://sdk.faceki.com``) in the local stack."""

    name = "faceki"
    title = "FACEKI (KYC link)"
    default_port = 3004
    api_path = ""
    webhook_user_agent = "FACEKI-sandbox-webhook/1.0"
    #: The account ``from_arguments`` gives the sandbox (the local stack's).
    DEV_CLIENT_ID: ClassVar[str] = "faceki-sandbox-client"
    DEV_CLIENT_SECRET: ClassVar[str] = "faceki-sandbox-client-secret"  # noqa: S105 - the sandbox's own
    DEFAULT_TOKEN_TTL: ClassVar[int] = 3600
    #: A minute of a link's `expiryTime`, in seconds: shortened by the local stack's tests of expiry.
    DEFAULT_MINUTE_SECONDS: ClassVar[int] = 60

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        public_base_url: str,
        *,
        token_ttl_seconds: int = DEFAULT_TOKEN_TTL,
        minute_seconds: int = DEFAULT_MINUTE_SECONDS,
        rules: bool = True,
        credit: bool = True,
        kyc_limit_reached: bool = False,
        link_limit_reached: bool = False,
        fail_link: bool = False,
        dashboard_webhook_url: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``public_base_url`` is where clients reach this app; the flags set the account's state."""
        people = [
            Rule(f"{LINK_PATH}<link_id>", endpoint="page", methods=["GET"]),
            Rule(f"{LINK_PATH}<link_id>", endpoint="set_outcome", methods=["POST"]),
            Rule("/sandbox/account", endpoint="account", methods=["GET"]),
            Rule("/sandbox/account", endpoint="set_account", methods=["POST"]),
        ]
        super().__init__(
            client_id,
            client_secret,
            public_base_url,
            people,
            account=Account(rules, credit, kyc_limit_reached, link_limit_reached, fail_link),
            token_ttl_seconds=token_ttl_seconds,
            minute_seconds=minute_seconds,
            dashboard_webhook_url=dashboard_webhook_url,
            clock=clock,
        )

    # -- registration --------------------------------------------------------------------------------

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--faceki-token-ttl",
            type=int,
            default=cls.DEFAULT_TOKEN_TTL,
            help="seconds a FACEKI access token lives",
        )
        parser.add_argument(
            "--faceki-minute-seconds",
            type=int,
            default=cls.DEFAULT_MINUTE_SECONDS,
            help="seconds a minute of a KYC link's expiryTime lasts (shorter to try expiry)",
        )

    @classmethod
    def from_arguments(cls, public_base_url: str, arguments: Mapping[str, Any]) -> Self:
        return cls(
            cls.DEV_CLIENT_ID,
            cls.DEV_CLIENT_SECRET,
            public_base_url,
            token_ttl_seconds=int(arguments.get("faceki_token_ttl", cls.DEFAULT_TOKEN_TTL)),
            minute_seconds=int(arguments.get("faceki_minute_seconds", cls.DEFAULT_MINUTE_SECONDS)),
        )

    def credentials(self) -> dict[str, str]:
        return dict(self._credentials)

    def client_settings(self) -> dict[str, str]:
        # The token's lifetime reaches idgate's client in each token answer's expires_in; a shortened
        # minute must be idgate's too, so that it dates the session's end as the link's.
        if self._minute_seconds == self.DEFAULT_MINUTE_SECONDS:
            return {}
        return {"LINK_MINUTE_SECONDS": str(self._minute_seconds)}

    @property
    def tokens_issued(self) -> int:
        """How many access tokens the sandbox has issued (idgate should cache its token)."""
        with self._lock:
            return self._tokens.issued

    @property
    def account(self) -> dict[str, bool]:
        """The account's flags, as ``GET /sandbox/account`` shows them."""
        with self._lock:
            return self._account.as_json()

    def set_account(self, **flags: bool) -> None:
        """Changes some of the account's flags (``rules``, ``credit``, ``kyc_limit_reached``, ...).

        Raises ValueError for an unknown flag or a value that is not a bool.
        """
        try:
            changes = account_changes(flags)
        except SandboxError as error:
            raise ValueError(error.message) from error
        with self._lock:
            for flag, value in changes.items():
                setattr(self._account, flag, value)

    # -- the dashboard's account settings (the sandbox's own, no token) ----------------------------------

    def on_account(self, request: Request) -> Response:
        return json_response({**self.account, "tokens_issued": self.tokens_issued})

    def on_set_account(self, request: Request) -> Response:
        changes = account_changes(json_object(request, empty_ok=True))
        self.set_account(**changes)
        return json_response(self.account)

    # -- the user's and the reviewer's side (FACEKI's hosted page and dashboard) ------------------------

    def on_set_outcome(self, request: Request, link_id: str) -> Response:
        with self._lock:
            known = link_id in self._links
        if not known:
            raise SandboxError(404, "Verification link not found")
        wanted = outcome(json_object(request))
        now = self._clock()
        with self._lock:
            link = self._links[link_id]
            record = link.apply(wanted.status, wanted.code, wanted.document_type, now)
            if record is not None:
                self._records.setdefault(record.request_id, record)
            status = record.status if record is not None else ABANDONED
            body: dict[str, Any] = {"linkId": link_id, "status": status}
            if record is not None:
                body["requestId"] = record.request_id
            if link.redirect_url:
                body["redirect_url"] = link.redirect_url
            dashboard = self.dashboard_webhook_url if wanted.webhook else None
            payload = record.webhook_body() if record is not None else None
        self.log.info("faceki sandbox: link %s: %s -> %s", short_id(link_id), wanted.outcome, status)
        if dashboard and payload is not None:
            self.start_webhook(dashboard, payload, f"{status} for {short_id(link_id)}")
        return json_response(body)

    def on_page(self, request: Request, link_id: str) -> Response:
        with self._lock:
            link = self._links.get(link_id)
            if link is None:
                return html_response(NOT_FOUND_PAGE, 404, csp=PAGE_CSP)
            return html_response(link_page(link, self._clock(), self._tokens.issued), csp=PAGE_CSP)
