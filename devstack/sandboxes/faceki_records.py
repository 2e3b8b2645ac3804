"""The FACEKI sandbox's state: the account's settings, its access tokens, the KYC links and their records.

Response codes and their names are the seed's (``seeds/faceki.txt``) and, for 5003-5010, the newer
FACEKI pages ``PROVIDERS.md`` cites. The fake person below is the only personal data the sandbox
ever answers: it is made distinctive so that idgate's tests can assert it never reaches idgate's
table or logs.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field, fields
from typing import Any

from devstack.sandboxes.base import SandboxError, iso_seconds, key_digest, matching_digest

__all__ = [
    "ABANDONED",
    "ACCEPTED",
    "ACCOUNT_FLAGS",
    "ACTIVE",
    "DECLINED",
    "DECLINE_CODES",
    "DEFAULT_DECLINE_CODE",
    "DOCUMENTS",
    "EXPIRED",
    "FAKE_BIRTH_DATE",
    "FAKE_DOCUMENT_NUMBER",
    "FAKE_FULL_NAME",
    "FAKE_NATIONALITY",
    "REVIEW",
    "VALID_AGE",
    "Account",
    "Link",
    "Record",
    "Tokens",
    "new_id",
]

SUCCESS = 0
#: What a refused call answers (HTTP 200): (responseCode, message).
NO_RULES_FOR_COMPANY = (7001, "NO_RULES_FOR_COMPANY")
NOT_ENOUGH_WALLET_CREDIT = (5003, "NOT_ENOUGH_WALLET_CREDIT")
KYC_VERIFICATION_LIMIT_REACHED = (8017, "KYC_VERIFICATION_LIMIT_REACHED")
LINK_LIMIT_REACH = (5009, "LINK_LIMIT_REACH")
FAIL_TO_GENERATE_LINK = (8016, "FAIL_TO_GENERATE_LINK")
DATA_NOT_FOUND = (8013, "DATA_NOT_FOUND")
INVALID_VERIFICATION_LINK = (8014, "INVALID_VERIFICATION_LINK")
VERIFICATION_LINK_EXPIRED = (8015, "VERIFICATION_LINK_EXPIRED")

#: The codes a declined verification may carry: the seed's capture and document failures (not
#: 8003 PLEASE_TRY_AGAIN, a transient error, nor the link and data codes) and the newer failures.
DECLINE_CODES: dict[int, str] = {
    8001: "NEED_REQUIRED_IMAGES",
    8002: "DOCUMENT_VERIFY_FAILED",
    8004: "FACE_CROPPED",
    8005: "FACE_TOO_CLOSED",
    8006: "FACE_NOT_FOUND",
    8007: "FACE_CLOSED_TO_BORDER",
    8008: "FACE_TOO_SMALL",
    8009: "POOR_LIGHT",
    8010: "ID_VERIFY_FAIL",
    8011: "DL_VERIFY_FAIL",
    8012: "PASSPORT_VERIFY_FAIL",
    8018: "SELFIE_MULTIPLE_FACES",
    8019: "FACE_BLURR",
    5004: "SELFIE_LIVENESS_FAILED",
    5005: "DOCUMENT_FACE_MATCH_FAILED",
    5008: "KYC_FAILED",
    5010: "EXPIRED_DOCUMENT",
}
DEFAULT_DECLINE_CODE = 8002

ACCEPTED = "ACCEPTED"
DECLINED = "DECLINED"
REVIEW = "REVIEW"
ACTIVE = "ACTIVE"
EXPIRED = "EXPIRED"
ABANDONED = "ABANDONED"

#: The account's KYC rules (``GET /kycrules/api/kycrules``).
VALID_AGE = 18
DOCUMENTS = ("ID", "DL", "PASSPORT")

#: The fake person every record shows.
FAKE_FULL_NAME = "Ottoline Brackenridge"
FAKE_BIRTH_DATE = "1983-09-17"
FAKE_DOCUMENT_NUMBER = "ZQ7741093FK"
FAKE_NATIONALITY = "Ruritanian"


def new_id(now: float) -> str:
    """24 lowercase hex digits as MongoDB makes them (FACEKI's ids look so): the second, then random."""
    return f"{int(now):08x}{secrets.token_hex(8)}"


# -- the account ----------------------------------------------------------------------------------------


@dataclass
class Account:
    """What FACEKI's dashboard would show of the account: whether it may generate links at all."""

    rules: bool = True
    credit: bool = True
    kyc_limit_reached: bool = False
    link_limit_reached: bool = False
    fail_link: bool = False

    def refusal(self) -> tuple[int, str] | None:
        """Why generating a link is refused, in the order the sandbox checks; None if it is not."""
        checks = (
            (not self.rules, NO_RULES_FOR_COMPANY),
            (not self.credit, NOT_ENOUGH_WALLET_CREDIT),
            (self.kyc_limit_reached, KYC_VERIFICATION_LIMIT_REACHED),
            (self.link_limit_reached, LINK_LIMIT_REACH),
            (self.fail_link, FAIL_TO_GENERATE_LINK),
        )
        return next((answer for refused, answer in checks if refused), None)

    def as_json(self) -> dict[str, bool]:
        return {name: bool(getattr(self, name)) for name in ACCOUNT_FLAGS}


ACCOUNT_FLAGS = tuple(f.name for f in fields(Account))


class Tokens:
    """The access tokens issued, each kept only as its SHA-256 digest with the second it expires."""

    def __init__(self, ttl_seconds: int) -> None:
        self.ttl_seconds = ttl_seconds
        self.issued = 0
        self._expiry: dict[str, int] = {}

    def issue(self, now: float) -> str:
        for stale in [digest for digest, until in self._expiry.items() if now >= until]:
            del self._expiry[stale]
        token = secrets.token_urlsafe(32)
        self._expiry[key_digest(token)] = int(now) + self.ttl_seconds
        self.issued += 1
        return token

    def valid(self, token: str, now: float) -> bool:
        found = matching_digest(token, self._expiry)
        return found is not None and now < self._expiry[found]


# -- records and links ---------------------------------------------------------------------------------


@dataclass
class Record:
    """One verification made on a link: the user's capture, and later the reviewer's decision."""

    request_id: str
    link_id: str
    application_id: str
    status: str
    response_code: int
    document_type: str
    created_at: int
    updated_at: int

    def as_json(self) -> dict[str, Any]:
        return {
            "requestId": self.request_id,
            "linkId": self.link_id,
            "applicationId": self.application_id,
            "status": self.status,
            "responseCode": self.response_code,
            "documentType": self.document_type,
            "createdAt": iso_seconds(self.created_at),
            "updatedAt": iso_seconds(self.updated_at),
            "fullName": FAKE_FULL_NAME,
            "kycData": kyc_data(self.document_type),
        }

    def webhook_body(self) -> dict[str, Any]:
        """The dashboard webhook's body, as the newer FACEKI pages document it."""
        return {
            "requestId": self.request_id,
            "fullName": FAKE_FULL_NAME,
            "status": self.status,
            "kycData": kyc_data(self.document_type),
        }


def kyc_data(document_type: str) -> dict[str, str]:
    """What the document would have read: always the fake person."""
    return {
        "name": FAKE_FULL_NAME,
        "dateOfBirth": FAKE_BIRTH_DATE,
        "documentNumber": FAKE_DOCUMENT_NUMBER,
        "nationality": FAKE_NATIONALITY,
        "documentType": document_type,
    }


@dataclass
class Link:
    """A KYC link: active until ``expires_at``; the user captures once, a reviewer may decide once."""

    link_id: str
    application_id: str
    created_at: int
    expires_at: int
    redirect_url: str | None
    document_optional: bool
    abandoned: bool = False
    records: list[Record] = field(default_factory=list)

    def expired(self, now: float) -> bool:
        return now >= self.expires_at

    @property
    def latest(self) -> Record | None:
        return self.records[-1] if self.records else None

    @property
    def in_review(self) -> bool:
        return self.latest is not None and self.latest.status == REVIEW

    def state(self, now: float) -> str:
        """What the page shows: the latest record's status, else EXPIRED, ABANDONED or ACTIVE."""
        if self.latest is not None:
            return self.latest.status
        if self.expired(now):
            return EXPIRED
        return ABANDONED if self.abandoned else ACTIVE

    def user_may_act(self, now: float) -> bool:
        return not self.records and not self.abandoned and not self.expired(now)

    def apply(self, status: str | None, code: int, document_type: str | None, now: float) -> Record | None:
        """The page's outcome: ``status`` ACCEPTED, DECLINED or REVIEW, or None when the user abandons.

        The user's capture makes a record; on a record in REVIEW, ACCEPTED or DECLINED is the
        reviewer's decision, even after the link expired. Answers the record made or changed (None
        for abandon); raises SandboxError 400, 409 or 410 and then changes nothing.
        """
        if self.in_review:
            if status not in (ACCEPTED, DECLINED):
                raise SandboxError(409, "The verification is in review: only the reviewer can decide it")
            if document_type is not None:
                raise SandboxError(400, "documentType is the user's capture, not the reviewer's")
            return self._decide(status, code, now)
        if self.records:
            raise SandboxError(409, "The verification of this link is already decided")
        if self.expired(now):
            raise SandboxError(410, "Verification link expired")
        if self.abandoned:
            raise SandboxError(409, "The user has left this verification")
        if status is None:
            self.abandoned = True
            return None
        return self._capture(status, code, document_type or DOCUMENTS[0], now)

    def _capture(self, status: str, code: int, document_type: str, now: float) -> Record:
        record = Record(
            request_id=new_id(now),
            link_id=self.link_id,
            application_id=self.application_id,
            status=status,
            response_code=code,
            document_type=document_type,
            created_at=int(now),
            updated_at=int(now),
        )
        self.records.append(record)
        return record

    def _decide(self, status: str, code: int, now: float) -> Record:
        record = self.records[-1]
        record.status, record.response_code, record.updated_at = status, code, int(now)
        return record

    def as_json(self, now: float) -> dict[str, Any]:
        return {
            "linkId": self.link_id,
            "applicationId": self.application_id,
            "expiresAt": iso_seconds(self.expires_at),
            "status": EXPIRED if self.expired(now) else ACTIVE,
            "records": [record.as_json() for record in self.records],
        }
