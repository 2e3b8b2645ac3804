"""Datakeen IDify's session result, read into our terms (the mapping README documents).

Datakeen documents the result of a finished analysis only. What it answers before the analysis ends,
and after a manual review, is not documented; idgate decides (and the local sandbox behaves so):

* `data.sessionStatus` is Datakeen's own state, the `newStatus` values of its webhooks: `ai_approved`,
  `ai_rejected`, `verify` (a manual review), `user_approved`, `user_rejected` (the reviewer's decision);
  `pending` and `expired` before an analysis exists.
* A reviewer's decision (`user_*`) is the verdict. Otherwise the analysis decides: approved when every
  identity document's `globalStatus` and every cross-document control hold (and the minimum age, when
  asked); declined otherwise, with one reason code per failing control family.
* An analysis with no `sessionStatus` (the document's own sample) is decided by its controls.
* Any other shape is "still open" (and logged): never a verdict.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from idgate.domain import Reason, Status
from idgate.providers.base import Observation

#: A declined analysis names each failing family once, in this order. Controls of no family (Datakeen's
#: `rfSymbolIsPresent` is false on valid cards) never decline on their own.
CONTROL_FAMILIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("document_invalid", ("globalStatus",)),
    ("document_expired", ("dateValidity", "dateValidityDelivery")),
    ("mrz_invalid", ("mrzValidity", "mrzConformity")),
    ("name_mismatch", ("matchFirstName", "matchLastName", "matchFullName", "matchNameInAllDocuments")),
    ("photo_missing", ("photoIsPresent",)),
    ("security_features_missing", ("stampIsPresent", "waveIsPresent", "initialsIsPresent")),
)
_FAMILY_OF = {control: family for family, controls in CONTROL_FAMILIES for control in controls}

OPEN_STATES = {"pending": Status.PENDING, "verify": Status.REVIEW}
REVIEWER_VERDICTS = {"user_approved": Status.APPROVED, "user_rejected": Status.DECLINED}
ANALYSIS_STATES = frozenset({"ai_approved", "ai_rejected"})


class UnknownShape(ValueError):
    """The answer is none of the shapes above: the session stays open."""


def observation(body: Any, *, min_age: int | None, today: date) -> Observation:
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict):
        raise UnknownShape("no data object")
    state = data.get("sessionStatus")
    if state is not None and not isinstance(state, str):
        raise UnknownShape("sessionStatus is not a string")
    if state == "expired":
        return Observation(Status.EXPIRED, state, reasons=(Reason.VERIFICATION_EXPIRED.value,))
    if state in OPEN_STATES:
        return Observation(OPEN_STATES[state], state)
    results = _results(data)
    if state in REVIEWER_VERDICTS:
        verdict = REVIEWER_VERDICTS[state]
        if verdict is Status.DECLINED:
            return Observation(Status.DECLINED, state, reasons=(Reason.PROVIDER_DECLINED.value,))
        if min_age is not None and results is not None:
            return _with_age(Observation(Status.APPROVED, state), results, min_age, today)
        return Observation(Status.APPROVED, state)
    if state is not None and state not in ANALYSIS_STATES:
        raise UnknownShape(f"unknown sessionStatus {state[:40]!r}")
    if results is None:
        if state is None:
            raise UnknownShape("neither a session status nor an analysis")
        raise UnknownShape(f"{state} without an analysis")
    return _decided(results, state or "analysis_completed", min_age, today)


def _results(data: dict[str, Any]) -> dict[str, Any] | None:
    job = data.get("job_status")
    if not isinstance(job, dict):
        return None
    predictions = job.get("predictions")
    if not isinstance(predictions, list) or not predictions or not isinstance(predictions[0], dict):
        return None
    results = predictions[0].get("results")
    return results if isinstance(results, dict) else None


def _decided(results: dict[str, Any], provider_status: str, min_age: int | None, today: date) -> Observation:
    documents = [doc for doc in results.get("documents") or [] if isinstance(doc, dict)]
    identity = [doc for doc in documents if "globalStatus" in (doc.get("controls") or {})]
    if not identity:
        return Observation(Status.DECLINED, provider_status, reasons=("document_missing",))
    failing: set[str] = set()
    holds = True
    for doc in identity:
        controls = doc.get("controls") or {}
        holds &= _holds(controls.get("globalStatus"))
        failing |= {name for name, control in controls.items() if not _holds(control)}
    cross = results.get("controls") or {}
    holds &= all(_holds(control) for control in cross.values())
    failing |= {name for name, control in cross.items() if not _holds(control)}
    if not holds:
        families = {_FAMILY_OF[name] for name in failing if name in _FAMILY_OF}
        reasons = [family for family, _ in CONTROL_FAMILIES if family in families] or ["document_invalid"]
        return Observation(Status.DECLINED, provider_status, reasons=tuple(reasons))
    approved = Observation(Status.APPROVED, provider_status)
    return _with_age(approved, results, min_age, today) if min_age is not None else approved


def _with_age(approved: Observation, results: dict[str, Any], min_age: int, today: date) -> Observation:
    """Only `min_age_verified` is kept: the birth date itself never leaves this function."""
    born = _birth_date(results)
    status = approved.provider_status
    if born is None:
        return Observation(Status.DECLINED, status, reasons=("birth_date_unreadable",))
    age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    if age < min_age:
        return Observation(Status.DECLINED, status, reasons=("under_min_age",))
    return Observation(Status.APPROVED, status, data={"min_age_verified": min_age})


def _birth_date(results: dict[str, Any]) -> date | None:
    """The birth date extracted from the first identity document: the MRZ's first, then the printed one."""
    for doc in results.get("documents") or []:
        info = doc.get("extractedInformation") if isinstance(doc, dict) else None
        if not isinstance(info, dict):
            continue
        for field in ("birthDateMRZ", "birthDate"):
            value = (info.get(field) or {}).get("value") if isinstance(info.get(field), dict) else None
            if isinstance(value, str) and value:
                try:
                    return datetime.strptime(value, "%d.%m.%Y").date()
                except ValueError:
                    continue
    return None


def _holds(control: Any) -> bool:
    return isinstance(control, dict) and control.get("value") is True
