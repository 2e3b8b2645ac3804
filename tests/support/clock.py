"""A clock the test moves by hand (seconds since the epoch, as time.time gives)."""

from __future__ import annotations


class FakeClock:
    def __init__(self, now: float = 1_764_499_200.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
