"""Why a Jekimo answer is unreadable, as the operator reads it: the client turns it into a typed error
(tests/unit/test_jekimo_documented_answers.py) chained to pydantic's, whose message says which field and
what about it was refused (idgate.providers.jekimo_answers)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from idgate.providers.jekimo_answers import CheckAnswer, TokenAnswer
from tests.support.messages import says

TOKEN = "b916b66831cab6567be9956b6f87cf64c539f1f89e1f04577a8be24af73d5d8d"


def refusal(model: type[BaseModel], answer: dict[str, Any]) -> tuple[tuple[str | int, ...], str]:
    """The field pydantic refused and its message (one error expected)."""
    with pytest.raises(ValidationError) as refused:
        model.model_validate(answer)
    [error] = refused.value.errors()
    return error["loc"], error["msg"]


@pytest.mark.parametrize(
    ("timestamp", "why"),
    [
        (True, "boolean"),
        ("2025-11-30T10:40:00", "no time zone"),
        (-1, "not a time"),
        (float("inf"), "not a time"),
        ([1764499200], "not a time"),
        (0, "out of range"),  # 1970, in seconds
        (4102444800, "out of range"),  # 2100, in seconds
        ("2019-12-31T23:59:59+00:00", "out of range"),
        ("2100-01-01T00:00:00+00:00", "out of range"),
    ],
)
def test_an_unreadable_timestamp_says_why(timestamp: object, why: str):
    field, message = refusal(TokenAnswer, {"token": TOKEN, "timestamp": timestamp, "url": "https://x.test"})
    assert field == ("timestamp",)
    says(message, "timestamp", why)


@pytest.mark.parametrize("pin", [1_000_000, -1, "1234567", "12a", True, 12.5])
def test_an_unreadable_pin_says_what_a_pin_is(pin: object):
    field, message = refusal(CheckAnswer, {"status": "OK", "pin": pin})
    assert field == ("pin",)
    says(message, "pin", "6 digits")
