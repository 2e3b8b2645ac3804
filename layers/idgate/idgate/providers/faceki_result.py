"""FACEKI's response codes and KYC records, read into our terms (the tables README documents).

Every code the seed lists (1000, 7001, 8001-8019) and the newer ones of FACEKI's docs (5001-5010) is
here once: a code that declines a user's verification gives a stable reason code; a code about our
account gives a clear API error when a session is created; a code that says "try again" is transient.

The shape of the records of a link is not documented (the paths come from FACEKI's client libraries);
idgate reads it defensively and the local sandbox answers so:

* `data` is the link (`{"linkId", "records": [...]}`) or the list of its records itself;
* a record has `status` (`ACCEPTED`, `DECLINED`, `REVIEW`, the values of FACEKI's webhook), its
  `responseCode` (why it was declined) and `documentType`; its personal data (`fullName`, `kycData`)
  is never read;
* a link holds one record per attempt of its user: an accepted attempt approves, an attempt in review
  makes the session wait for the reviewer, and only declined attempts decline (with the reasons of
  every declined attempt).

Any other record status leaves the session as it is (and is logged): never a verdict.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from idgate.domain import Reason, Status
from idgate.providers.base import Observation

PROVIDER_NOT_CONFIGURED = "provider_not_configured"
PROVIDER_QUOTA_EXCEEDED = "provider_quota_exceeded"
LINK_EXPIRED = "verification_link_expired"


@dataclass(frozen=True)
class Code:
    name: str  # FACEKI's name of the code
    #: The reason a declined record gives in `result.reasons`, or the API error code of a creation
    #: refused for it; None for codes that are not a verdict (success, "no data yet").
    reason: str | None
    #: Whether it means "try again" (a transient failure, retried with backoff).
    transient: bool = False


CODES: dict[int, Code] = {
    0: Code("SUCCESS", None),
    1000: Code("INTERNAL_SYSTEM_ERROR", Reason.PROVIDER_ERROR.value, transient=True),
    7001: Code("NO_RULES_FOR_COMPANY", PROVIDER_NOT_CONFIGURED),
    8001: Code("NEED_REQUIRED_IMAGES", "images_missing"),
    8002: Code("DOCUMENT_VERIFY_FAILED", "document_invalid"),
    8003: Code("PLEASE_TRY_AGAIN", "capture_failed", transient=True),
    8004: Code("FACE_CROPPED", "face_cropped"),
    8005: Code("FACE_TOO_CLOSED", "face_too_close"),
    8006: Code("FACE_NOT_FOUND", "face_not_found"),
    8007: Code("FACE_CLOSED_TO_BORDER", "face_near_border"),
    8008: Code("FACE_TOO_SMALL", "face_too_small"),
    8009: Code("POOR_LIGHT", "poor_lighting"),
    8010: Code("ID_VERIFY_FAIL", "id_card_invalid"),
    8011: Code("DL_VERIFY_FAIL", "driving_licence_invalid"),
    8012: Code("PASSPORT_VERIFY_FAIL", "passport_invalid"),
    8013: Code("DATA_NOT_FOUND", None),
    8014: Code("INVALID_VERIFICATION_LINK", Reason.PROVIDER_NOT_FOUND.value),
    8015: Code("VERIFICATION_LINK_EXPIRED", LINK_EXPIRED),
    8016: Code("FAIL_TO_GENERATE_LINK", Reason.PROVIDER_ERROR.value, transient=True),
    8017: Code("KYC_VERIFICATION_LIMIT_REACHED", PROVIDER_QUOTA_EXCEEDED),
    8018: Code("SELFIE_MULTIPLE_FACES", "selfie_multiple_faces"),
    8019: Code("FACE_BLURR", "face_blurred"),
    5001: Code("WORKFLOW_RULES_MISSING", PROVIDER_NOT_CONFIGURED),
    5003: Code("NOT_ENOUGH_WALLET_CREDIT", PROVIDER_QUOTA_EXCEEDED),
    5004: Code("SELFIE_LIVENESS_FAILED", "selfie_liveness_failed"),
    5005: Code("DOCUMENT_FACE_MATCH_FAILED", "face_mismatch"),
    5008: Code("KYC_FAILED", "kyc_failed"),
    5009: Code("LINK_LIMIT_REACH", PROVIDER_QUOTA_EXCEEDED),
    5010: Code("EXPIRED_DOCUMENT", "document_expired"),
}
#: Codes about our account: a session cannot be created until the operator acts.
ACCOUNT_CODES = frozenset(
    code
    for code, meaning in CODES.items()
    if meaning.reason in (PROVIDER_NOT_CONFIGURED, PROVIDER_QUOTA_EXCEEDED)
)
NO_RECORD_YET = 8013
INVALID_LINK = 8014
EXPIRED_LINK = 8015

_DOCUMENT_TYPES = {"ID": "id_card", "DL": "driving_licence", "PASSPORT": "passport"}
_STATUSES = {"ACCEPTED": Status.APPROVED, "REVIEW": Status.REVIEW, "DECLINED": Status.DECLINED}


class UnknownShape(ValueError):
    """The answer is none of the shapes above: the session stays open."""


def response_code(body: dict[str, Any]) -> int | None:
    """The answer's `responseCode` (FACEKI's errors may also carry `statusCode`); None when absent."""
    code = body.get("responseCode")
    return code if isinstance(code, int) and not isinstance(code, bool) else None


def decline_reason(code: Any) -> str:
    """The reason a declined record gives: its code's, or `provider_declined` for an unknown code."""
    meaning = CODES.get(code) if isinstance(code, int) else None
    reason = meaning.reason if meaning is not None else None
    if reason is None or meaning is None or meaning.transient or code in ACCOUNT_CODES:
        return Reason.PROVIDER_DECLINED.value
    return reason


def records_of(data: Any) -> list[dict[str, Any]]:
    """The records of a link answer's `data` (the link object or the bare list)."""
    records = data.get("records") if isinstance(data, dict) else data
    if not isinstance(records, list):
        raise UnknownShape("no list of records")
    return [record for record in records if isinstance(record, dict)]


def observation(records: list[dict[str, Any]]) -> Observation:
    """The session's state from its link's records (see the module's rules)."""
    if not records:
        return Observation(Status.PENDING, "NO_RECORD")
    by_status: dict[Status, list[dict[str, Any]]] = {}
    for record in records:
        status = record.get("status")
        if not isinstance(status, str) or status.upper() not in _STATUSES:
            raise UnknownShape(f"unknown record status {str(status)[:40]!r}")
        by_status.setdefault(_STATUSES[status.upper()], []).append(record)
    if Status.APPROVED in by_status:
        record = by_status[Status.APPROVED][-1]
        return Observation(Status.APPROVED, "ACCEPTED", data=_document(record))
    if Status.REVIEW in by_status:
        return Observation(Status.REVIEW, "REVIEW")
    declined = by_status[Status.DECLINED]
    reasons = tuple(dict.fromkeys(decline_reason(record.get("responseCode")) for record in declined))
    return Observation(Status.DECLINED, "DECLINED", reasons=reasons, data=_document(declined[-1]))


def _document(record: dict[str, Any]) -> dict[str, Any]:
    """The document type, where FACEKI names it: nothing personal."""
    kind = record.get("documentType")
    normalized = _DOCUMENT_TYPES.get(kind.upper()) if isinstance(kind, str) else None
    return {"document_type": normalized} if normalized else {}
