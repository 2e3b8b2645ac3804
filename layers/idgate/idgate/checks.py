"""Checks: what a client asks to verify ("age", "identity") when it leaves the provider to idgate
(`"provider": "auto"`), with options in one vocabulary whatever provider does it.

A provider declares the checks it can do in its own module (`checks`, see providers.base.CheckingProvider):
for each, how these normalized options become its own. The core knows the checks, never which provider
does which.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError

from idgate.validation import validation_failed

#: `provider` of a session whose provider idgate chooses by the routing policy (idgate.routing).
AUTO = "auto"


class Check(StrEnum):
    AGE = "age"  # is the user at least `min_age` years old
    IDENTITY = "identity"  # an identity document, verified


class AgeCheckOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_age: StrictInt = Field(ge=1, le=99, description="Approve only a user at least this old.")


class IdentityCheckOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    return_url: StrictStr | None = Field(
        default=None, max_length=2048, description="Where the provider sends the user at the end (https)."
    )
    # Personal data: handed to a provider that compares it with the document, never stored.
    first_name: StrictStr | None = Field(default=None, max_length=100, exclude=True)
    last_name: StrictStr | None = Field(default=None, max_length=100, exclude=True)
    birth_date: StrictStr | None = Field(default=None, max_length=10, exclude=True)


OPTIONS: Mapping[Check, type[BaseModel]] = {Check.AGE: AgeCheckOptions, Check.IDENTITY: IdentityCheckOptions}


def check_options(check: Check, options: Mapping[str, Any]) -> dict[str, Any]:
    """The check's options validated (ValidationFailed, with the fields, otherwise), as a plain mapping
    with the unset ones left out, for a provider's declaration to translate."""
    try:
        parsed = OPTIONS[check].model_validate(options)
    except ValidationError as exc:
        raise validation_failed(exc, prefix=("options",)) from exc
    return {name: value for name, value in parsed.__dict__.items() if value is not None}


def verdict_data(check: Check, approved: bool) -> dict[str, Any]:
    """What every provider's approval of `check` adds to `result.data`, in the one vocabulary: an identity
    check says `document_verified`; an age check's `min_age_verified` is the provider's to give (the
    age it checked)."""
    if check is Check.IDENTITY and approved:
        return {"document_verified": True}
    return {}
