"""Reading Datakeen's session result (idgate.providers.datakeen_result): the mapping README documents."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from idgate.domain import Status
from idgate.providers import datakeen_result

SAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "datakeen" / "result-sample.json"


OK, KO = {"value": True}, {"value": False}
TODAY = date(2026, 11, 23)


def analysed(*documents: dict[str, Any], controls: dict[str, Any] | None = None) -> dict[str, Any]:
    results: dict[str, Any] = {"documents": list(documents)}
    if controls is not None:
        results["controls"] = controls
    job = {"predictions": [{"results": results}]}
    return {"data": {"sessionStatus": "ai_approved", "job_status": job}}


def card(mrz: Any = None, printed: Any = None, **controls: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"controls": {"globalStatus": OK, **controls}}
    info = {
        name: {"value": value} for name, value in (("birthDateMRZ", mrz), ("birthDate", printed)) if value
    }
    if info:
        doc["extractedInformation"] = info
    return doc


def read(body: Any, min_age: int | None = None) -> tuple[Any, ...]:
    seen = datakeen_result.observation(body, min_age=min_age, today=TODAY)
    return (seen.status, seen.provider_status, seen.reasons, seen.data)


def test_an_expired_session_is_expired_with_its_state():
    assert read({"data": {"sessionStatus": "expired"}}) == (
        Status.EXPIRED,
        "expired",
        ("verification_expired",),
        {},
    )


@pytest.mark.parametrize(
    "body",
    [[], {"data": {"sessionStatus": "ai_approved", "job_status": {"predictions": [{"results": []}]}}}],
)
def test_what_is_no_analysis_is_an_unknown_shape(body: Any):
    with pytest.raises(datakeen_result.UnknownShape):
        read(body)


@pytest.mark.parametrize(
    ("body", "reasons"),
    [
        (analysed({"type": "selfie"}), ("document_missing",)),
        # every failing control of every document counts, each family once, in the README's order
        (
            analysed(card(globalStatus=KO, dateValidity=KO), card(mrzValidity=KO, photoIsPresent=OK)),
            ("document_invalid", "document_expired", "mrz_invalid"),
        ),
        (
            analysed(card(photoIsPresent=KO), controls={"matchLastName": KO, "dateValidity": OK}),
            ("name_mismatch", "photo_missing"),
        ),
        (analysed(card(), controls={"rfSymbolIsPresent": KO}), ("document_invalid",)),  # of no family
    ],
)
def test_a_declined_analysis_names_its_failing_families(body: dict[str, Any], reasons: tuple[str, ...]):
    assert read(body) == (Status.DECLINED, "ai_approved", reasons, {})


def test_an_analysis_holds_only_if_every_identity_document_and_cross_control_holds():
    assert read(analysed(card(), card(), controls={"matchLastName": OK}))[0] is Status.APPROVED
    assert read(analysed(card(globalStatus=KO), card()))[0] is Status.DECLINED
    assert read(analysed(card(), card(globalStatus=KO)))[0] is Status.DECLINED


@pytest.mark.parametrize(
    ("document", "seen"),
    [
        (card(mrz="23.11.2008"), (Status.APPROVED, "ai_approved", (), {"min_age_verified": 18})),  # 18 today
        (card(mrz="24.11.2008"), (Status.DECLINED, "ai_approved", ("under_min_age",), {})),
        (
            card(mrz="01.01.2000", printed="01.01.2010"),
            (Status.APPROVED, "ai_approved", (), {"min_age_verified": 18}),
        ),
        (card(printed="01.01.2000"), (Status.APPROVED, "ai_approved", (), {"min_age_verified": 18})),
        (
            card(mrz="31.02.2000", printed="01.01.2000"),
            (Status.APPROVED, "ai_approved", (), {"min_age_verified": 18}),
        ),
        (card(mrz=20000101), (Status.DECLINED, "ai_approved", ("birth_date_unreadable",), {})),
        (card(), (Status.DECLINED, "ai_approved", ("birth_date_unreadable",), {})),
    ],
)
def test_the_minimum_age_is_read_from_the_mrz_then_the_printed_birth_date(document, seen):
    assert read(analysed(document), min_age=18) == seen


def test_the_birth_date_is_read_from_the_first_document_that_has_one():
    selfie = {"type": "selfie"}
    assert read(analysed(selfie, card(mrz="01.01.2000")), min_age=18)[0] is Status.APPROVED


def test_what_is_no_object_where_a_document_or_a_birth_date_field_belongs_is_passed_over():
    # A birth date field that is bare text (no `value` object), and a document that is no object at all
    printed_only = card(printed="01.01.2000")
    printed_only["extractedInformation"]["birthDateMRZ"] = "01.01.2010"
    body = analysed(printed_only)
    body["data"]["job_status"]["predictions"][0]["results"]["documents"].insert(0, "a document?")
    # The printed birth date is the one read
    assert read(body, min_age=18) == (Status.APPROVED, "ai_approved", (), {"min_age_verified": 18})


def reviewed(state: str, *documents: dict[str, Any]) -> dict[str, Any]:
    body = analysed(*documents) if documents else {"data": {}}
    body["data"]["sessionStatus"] = state
    return body


@pytest.mark.parametrize(
    ("body", "min_age", "seen"),
    [
        (reviewed("pending"), None, (Status.PENDING, "pending", (), {})),
        (reviewed("verify"), None, (Status.REVIEW, "verify", (), {})),
        (reviewed("user_rejected"), None, (Status.DECLINED, "user_rejected", ("provider_declined",), {})),
        (reviewed("user_approved"), None, (Status.APPROVED, "user_approved", (), {})),
        (reviewed("user_approved"), 18, (Status.APPROVED, "user_approved", (), {})),  # no analysis to read
        (
            reviewed("user_approved", card(mrz="24.11.2008")),
            18,
            (Status.DECLINED, "user_approved", ("under_min_age",), {}),
        ),
        (
            reviewed("user_approved", card(globalStatus=KO, mrz="01.01.2000")),
            None,
            (Status.APPROVED, "user_approved", (), {}),  # the reviewer decides, not the controls
        ),
    ],
)
def test_open_states_and_a_reviewers_verdict_with_the_minimum_age(body, min_age, seen):
    assert read(body, min_age=min_age) == seen


def test_an_analysis_without_a_session_status_is_analysis_completed():
    body = analysed(card())
    del body["data"]["sessionStatus"]
    assert read(body) == (Status.APPROVED, "analysis_completed", (), {})


def test_the_documents_own_sample_result_maps_to_approved():
    body = json.loads(SAMPLE.read_text())
    seen = datakeen_result.observation(body, min_age=18, today=date(2026, 11, 23))
    assert (seen.status, seen.data) == (Status.APPROVED, {"min_age_verified": 18})


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"data": None},
        {"data": {"sessionStatus": "something_new"}},
        {"data": {"sessionStatus": "ai_approved", "job_status": None}},
        {"data": {"sessionStatus": 7}},
        {"data": {"job_status": {"predictions": []}}},
    ],
)
def test_an_unknown_result_shape_is_never_a_verdict(body):
    with pytest.raises(datakeen_result.UnknownShape):
        datakeen_result.observation(body, min_age=None, today=date(2026, 11, 23))
