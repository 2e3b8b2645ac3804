"""The analysis the Datakeen sandbox answers once a session has an outcome.

It has the shape of the sample answer in ``seeds/datakeen-idify.txt`` (one prediction whose results hold
``controls.matchNameInAllDocuments``, the ID card in ``documents[0]`` with its ``controls`` and
``extractedInformation``, and the ``entities``). What changes with the session's status:

* ``ai_approved``: every control is true; the card is valid for years.
* ``ai_rejected``: an expired card: ``dateValidity`` and ``globalStatus`` are false.
* ``verify`` and ``user_approved``: every control is true but some with a low confidence, and
  ``globalStatus`` has a middling score: the case a human reviews.
* ``user_rejected``: as ``verify``, with ``globalStatus`` false (the reviewer's verdict).

Dates are ``dd.mm.yyyy`` as in the sample; the card's dates are counted from the session's creation day.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

__all__ = ["AI_APPROVED", "AI_REJECTED", "USER_APPROVED", "USER_REJECTED", "VERIFY", "analysis"]

AI_APPROVED = "ai_approved"
AI_REJECTED = "ai_rejected"
VERIFY = "verify"
USER_APPROVED = "user_approved"
USER_REJECTED = "user_rejected"

#: The document controls and their confidence when the analysis is clear.
_CONFIDENT = {
    "dateValidity": 0.9410978288185845,
    "dateValidityDelivery": 0.8780886995840937,
    "globalStatus": 1,
    "initialsIsPresent": 0.838485836982727,
    "matchFirstName": 0.8,
    "matchFullName": 0.8,
    "matchLastName": 0.8,
    "mrzConformity": 1,
    "mrzValidity": 1,
    "photoIsPresent": 0.9731155633926392,
    "rfSymbolIsPresent": 0.8,
    "stampIsPresent": 0.9458823204040527,
    "waveIsPresent": 0.920028030872345,
}
#: What a reviewed analysis is unsure of.
_UNSURE = {"stampIsPresent": 0.46, "waveIsPresent": 0.51, "matchLastName": 0.55}
_GLOBAL_SCORE = {AI_APPROVED: 1, AI_REJECTED: 0.32, VERIFY: 0.64, USER_APPROVED: 0.64, USER_REJECTED: 0.64}
_DAY = timedelta(days=1)


def _day(value: date) -> str:
    return value.strftime("%d.%m.%Y")


def _years(value: date, years: int) -> date:
    """``value`` moved by whole calendar years (29 February becomes 28 February)."""
    if value.month == 2 and value.day == 29:
        value = value.replace(day=28)
    return value.replace(year=value.year + years)


def _field(
    value: object, confidence: float | None, top: float | None = None, page: int = 0
) -> dict[str, Any]:
    """One extracted field; ``top`` places its box on the page (fields read from the MRZ have none)."""
    bbox: dict[str, Any] = {}
    if top is not None:
        bbox = {"height": 0.025, "page_num": page, "topleft": [0.70, top], "width": 0.2}
    return {"bbox": bbox, "confidence": confidence, "value": value}


def _controls(status: str) -> dict[str, dict[str, Any]]:
    confidences = dict(_CONFIDENT)
    if status in (VERIFY, USER_APPROVED, USER_REJECTED):
        confidences.update(_UNSURE)
    controls: dict[str, dict[str, Any]] = {
        name: {"confidence": confidence, "value": True} for name, confidence in confidences.items()
    }
    controls["globalStatus"]["score"] = _GLOBAL_SCORE[status]
    if status == AI_REJECTED:
        controls["dateValidity"]["value"] = False
    if status in (AI_REJECTED, USER_REJECTED):
        controls["globalStatus"]["value"] = False
    return controls


def _mrz(last_name: str) -> str:
    letters = re.sub(r"[^A-Z]", "<", last_name.upper())
    return f"IDFRA{letters}".ljust(30, "<")[:30] + "000000"


def analysis(
    status: str,
    *,
    first_name: str,
    last_name: str,
    birth_date: date,
    created: date,
    entity_id: str,
) -> dict[str, Any]:
    """``data.job_status`` of a session in ``status`` (one of the five statuses with an analysis)."""
    if status not in _GLOBAL_SCORE:
        raise ValueError(f"no analysis for a session in {status!r}")
    # A card is valid 15 years, to the day before its delivery date; a rejected one expired a year ago.
    if status == AI_REJECTED:
        expiry = _years(created, -1)
        delivery = _years(expiry, -15) + _DAY
    else:
        delivery = _years(created, -5)
        expiry = _years(delivery, 15) - _DAY
    full_name = f"{first_name} {last_name}"
    extracted = {
        "address": _field("rue test", 0.8494784035838663, 0.146, page=1),
        "birthCountry": _field("FR", 0.9),
        "birthDate": _field(_day(birth_date), 0.8965237202750131, 0.197),
        "birthDateMRZ": _field(_day(birth_date), 1),
        "birthDepartment": _field("58", 0.9),
        "birthPlace": _field("NEVERS", 0.8697428888736098, 0.222),
        "countryCode": _field("FR", 0.9),
        "deliveryDate": _field(_day(delivery), 0.8780886995840937, 0.232, page=1),
        "expiryDate": _field(_day(expiry), 0.9410978288185845, 0.203, page=1),
        "expiryDateMRZ": _field("", 1),
        "firstName": _field(first_name, 0.8395038864262432, 0.142),
        "firstNameMRZ": _field(first_name, 1),
        "fullName": _field(full_name, 0, 0.100),
        "gender": _field("M", 0.8518331084707675, 0.204),
        "genderMRZ": _field("", 1),
        "idNumber": _field("000000000000", 0.9566656017742048, 0.062),
        "idNumberMRZ": _field("000000000000", 1),
        "lastName": _field(last_name, 0.9243657590001533, 0.100),
        "lastNameMRZ": _field(last_name, 1),
        "mrz": _field(_mrz(last_name), 0.9094363349968262, 0.368),
        "nationality": _field("FR", 0.9),
        "spouseName": _field("", None),
    }
    document = {
        "cardSide": "front-back",
        "cardType": "national_id_card_fr_2003",
        "controls": _controls(status),
        "entities": [entity_id],
        "extractedInformation": extracted,
        "origin": "CNI.pdf",
        "pages": [
            {"num": 0, "path": "CNI.pdf", "type": "national-id-card-fr-recto"},
            {"num": 1, "path": "CNI.pdf", "type": "national-id-card-fr-verso"},
        ],
        "path": "CNI_sandbox.pdf",
        "type": "id-card",
    }
    results = {
        "controls": {"matchNameInAllDocuments": {"confidence": 1, "value": True}},
        "documents": [document],
        "entities": [
            {"firstName": first_name, "fullName": full_name, "id": entity_id, "lastName": last_name}
        ],
        "report": None,
    }
    prediction = {
        "message": "Success",
        "results": results,
        "status": 200,
        "verificationId": "",
        "webhook": None,
    }
    return {"predictions": [prediction]}
