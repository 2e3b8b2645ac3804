"""What the FACEKI sandbox reads from a request: credentials, the bearer token and the JSON bodies.

Each reader raises ``SandboxError`` (a 400 unless said otherwise) and leaves state alone, so a
handler parses first and changes state after.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from werkzeug.wrappers import Request

from devstack.sandboxes.base import SandboxError, is_http_url
from devstack.sandboxes.faceki_records import (
    ACCEPTED,
    ACCOUNT_FLAGS,
    DECLINE_CODES,
    DECLINED,
    DEFAULT_DECLINE_CODE,
    DOCUMENTS,
    REVIEW,
)

__all__ = [
    "MAX_APPLICATION_ID_LENGTH",
    "MAX_EXPIRY_MINUTES",
    "OUTCOMES",
    "LinkRequest",
    "Outcome",
    "account_changes",
    "bearer_token",
    "client_credentials",
    "link_request",
    "outcome",
]

MAX_EXPIRY_MINUTES = 7 * 24 * 60
MAX_APPLICATION_ID_LENGTH = 128
#: The page's outcomes and the record status each gives (abandon gives none).
OUTCOMES: dict[str, str | None] = {
    "accepted": ACCEPTED,
    "declined": DECLINED,
    "review": REVIEW,
    "abandon": None,
}


def client_credentials(request: Request) -> tuple[str, str]:
    """(clientId, clientSecret) from the query, else from the headers: the seed shows both ways."""
    client_id = request.args.get("clientId") or request.headers.get("clientId", "")
    client_secret = request.args.get("clientSecret") or request.headers.get("clientSecret", "")
    if not client_id:
        raise SandboxError(422, "client id is required")
    if not client_secret:
        raise SandboxError(422, "client secret is required")
    return client_id, client_secret


def bearer_token(request: Request) -> str:
    """The token of ``Authorization: Bearer <token>`` (the word in any case), else ``""``."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token if scheme.lower() == "bearer" else ""


@dataclass(frozen=True)
class LinkRequest:
    expiry_minutes: int
    application_id: str
    redirect_url: str | None
    document_optional: bool


def link_request(body: dict[str, Any]) -> LinkRequest:
    """The body of ``POST .../kyc-verify-link``."""
    expiry = body.get("expiryTime")
    # bool is an int in Python; JSON's true is not a number of minutes.
    if not isinstance(expiry, int) or isinstance(expiry, bool) or not 1 <= expiry <= MAX_EXPIRY_MINUTES:
        raise SandboxError(
            400, f"expiryTime must be a whole number of minutes from 1 to {MAX_EXPIRY_MINUTES}"
        )
    application_id = body.get("applicationId")
    if (
        not isinstance(application_id, str)
        or not application_id.strip()
        or len(application_id) > MAX_APPLICATION_ID_LENGTH
    ):
        raise SandboxError(
            400, f"applicationId must be a non-empty string of at most {MAX_APPLICATION_ID_LENGTH} characters"
        )
    redirect_url = body.get("redirect_url")
    if redirect_url == "":
        redirect_url = None  # what the rules answer when no redirect is set
    if redirect_url is not None and not is_http_url(redirect_url):
        raise SandboxError(400, "redirect_url must be an http(s) URL")
    document_optional = body.get("document_optional", False)
    if not isinstance(document_optional, bool):
        raise SandboxError(400, "document_optional must be true or false")
    return LinkRequest(expiry, application_id, redirect_url, document_optional)


@dataclass(frozen=True)
class Outcome:
    outcome: str
    code: int  # the record's responseCode: 0, or the decline code
    document_type: str | None  # None: the user did not say (ID by default)
    webhook: bool

    @property
    def status(self) -> str | None:
        return OUTCOMES[self.outcome]


def outcome(body: dict[str, Any]) -> Outcome:
    """The body of ``POST /kycverify/<linkId>`` (the page, or a scripted test)."""
    name = body.get("outcome")
    if not isinstance(name, str) or name not in OUTCOMES:
        raise SandboxError(400, "outcome must be one of " + ", ".join(OUTCOMES))
    code = body.get("code")
    if code is not None and name != "declined":
        raise SandboxError(400, "code is only for a declined outcome")
    if name == "declined":
        code = DEFAULT_DECLINE_CODE if code is None else code
        if not isinstance(code, int) or isinstance(code, bool) or code not in DECLINE_CODES:
            raise SandboxError(400, "code must be one of " + ", ".join(str(c) for c in DECLINE_CODES))
    document_type = body.get("documentType")
    if document_type is not None and (name == "abandon" or document_type not in DOCUMENTS):
        raise SandboxError(400, "documentType must be one of " + ", ".join(DOCUMENTS) + " (not for abandon)")
    webhook = body.get("webhook", True)
    if not isinstance(webhook, bool):
        raise SandboxError(400, "webhook must be true or false")
    return Outcome(name, code or 0, document_type, webhook)


def account_changes(body: dict[str, Any]) -> dict[str, bool]:
    """The body of ``POST /sandbox/account``: any of the account's flags, each true or false."""
    unknown = sorted(set(body) - set(ACCOUNT_FLAGS))
    if unknown:
        raise SandboxError(400, "unknown account settings: " + ", ".join(unknown))
    if not all(isinstance(value, bool) for value in body.values()):
        raise SandboxError(400, "account settings must be true or false")
    return dict(body)
