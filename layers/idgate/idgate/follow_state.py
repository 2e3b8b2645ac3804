"""The state the poll state machine carries from one check to the next (statemachine/poll.asl.json).

The state machine passes it whole to the poll function and takes back what the function answers, so
this model is its one definition; it is parsed at the handler's boundary.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class FollowState(BaseModel):
    # The state machine adds what it caught (`last_error`); nothing else of it is ours.
    model_config = ConfigDict(extra="ignore")

    session_id: str = Field(min_length=1, max_length=128)
    #: The base interval the provider's schedule is built on (the template's PollIntervalSeconds).
    interval_seconds: int = Field(ge=1)
    #: How long the next Wait state waits.
    wait_seconds: int = Field(ge=1)
    #: Checks made so far for this session, over every execution.
    attempt: int = Field(default=0, ge=0)
    #: Which execution of the follow-up this is (`<session id>` for 0, `<session id>.<n>` after).
    generation: int = Field(default=0, ge=0)
    #: Checks made by this execution (a long follow-up continues in a new one).
    execution_checks: int = Field(default=0, ge=0)
    done: bool = False

    @property
    def execution_name(self) -> str:
        return self.session_id if self.generation == 0 else f"{self.session_id}.{self.generation}"


class AbortRequest(BaseModel):
    """What the state machine's GiveUp step sends."""

    model_config = ConfigDict(extra="ignore")

    session_id: str = Field(min_length=1, max_length=128)
    abort: bool
