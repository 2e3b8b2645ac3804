"""The state the follow state machines carry from one check to the next (statemachine/).

A session is followed in two phases (idgate.schedule): closely, at its provider's cadence, by the Express
workflow the API starts (statemachine/fast-follow.asl.json), then sparsely by the Standard one
(statemachine/poll.asl.json), which the Express workflow hands the state to. Both pass it whole to the poll
function and take back what the function answers, so this model is its one definition; it is parsed at
the handler's boundary.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Phase = Literal["fast", "long"]


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
    #: Which workflow runs this step: "fast" (Express, until `fast_until`) or "long" (Standard; the
    #: default, as for executions started before the phases existed).
    phase: Phase = "long"
    #: The end of the fast phase (Unix seconds): a next look later than this is the long phase's.
    fast_until: float | None = None
    #: The fast phase is over: the Express workflow starts the Standard one with this state.
    handoff: bool = False
    #: Looks made in the long phase, which spaces them further apart each time (idgate.schedule).
    long_looks: int = Field(default=0, ge=0)

    @property
    def execution_name(self) -> str:
        return self.session_id if self.generation == 0 else f"{self.session_id}.{self.generation}"


class AbortRequest(BaseModel):
    """What the state machine's GiveUp step sends."""

    model_config = ConfigDict(extra="ignore")

    session_id: str = Field(min_length=1, max_length=128)
    abort: bool
