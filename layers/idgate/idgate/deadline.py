"""What a session becomes when its deadline passes with no verdict: the rules README documents.

* A session whose user did nothing ends `expired`, whatever transient faults happened on the way.
* It ends in `error` only when the provider refused us for a reason that is ours (our credentials,
  our access, a request it would not take), or when it stayed unreachable through the whole *final
  stretch*: every look at it from the stretch's start to the deadline failed, the last look included
  (retried with backoff), and at least `MIN_FAILED_LOOKS` looks failed in a row. The final stretch is
  the last six poll intervals before the deadline (30 s at the default 5 s), at most half the
  session's life. Counting looks as well as time keeps a few unlucky failures (a hang takes a look's
  whole time-out) from deciding: a provider that is really down fails every look.
* A provider saying the verification or its token is over (Jekimo's "Invalid Token", a reference it no
  longer knows) within `CLOCK_SKEW` of our deadline is the deadline arriving by its clock: `expired`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from idgate.domain import Reason, Result, Session, Status
from idgate.errors import ProviderRejected

#: Providers' clocks and ours may differ by this much: "it is over" this close to the deadline is expiry.
CLOCK_SKEW = timedelta(seconds=15)
#: Pauses between the tries of the last look, and the time after which no new try starts (the poll
#: function's time-out is 20 s; a try may take a provider call's 11 s time-out).
LAST_LOOK_PAUSES = (0.5, 1.0, 1.0, 2.0, 2.0)
LAST_LOOK_BUDGET_SECONDS = 8.0
#: Refusals that are ours to fix: they end the session in `error`, never in `expired`.
OUR_REFUSALS = frozenset({Reason.PROVIDER_AUTH_FAILED, Reason.PROVIDER_ACCESS_DENIED, Reason.PROVIDER_ERROR})
#: Refusals that say the verification (or its token) is over.
OVER = frozenset({Reason.PROVIDER_TOKEN_REJECTED, Reason.PROVIDER_NOT_FOUND})
FINAL_STRETCH_INTERVALS = 6
#: Looks that must have failed in a row for an unreachable provider to end a session in `error`.
MIN_FAILED_LOOKS = 8


def final_stretch(session: Session, interval_seconds: int) -> timedelta:
    life = session.expires_at - session.created_at
    return min(timedelta(seconds=FINAL_STRETCH_INTERVALS * interval_seconds), life / 2)


def over_near_deadline(refusal: ProviderRejected, session: Session, now: datetime) -> bool:
    """The provider says the verification is over, and our deadline is (nearly) here."""
    return refusal.reason in OVER and now >= session.expires_at - CLOCK_SKEW


def unreachable_throughout(session: Session, interval_seconds: int, last_look_failures: int) -> bool:
    """Every look since the final stretch began failed, enough of them in a row (`last_look_failures`:
    the tries of the last look, which failed too)."""
    since = session.unreachable_since
    began_in_time = since is not None and since <= session.expires_at - final_stretch(
        session, interval_seconds
    )
    return began_in_time and session.failed_looks + last_look_failures >= MIN_FAILED_LOOKS


def without_verdict(session: Session) -> Result:
    """The result of a session that reached its deadline with nothing decided."""
    if session.status in (Status.REVIEW, Status.PROCESSING):
        provider_status = session.result.provider_status if session.result else None
        return Result(
            decision=Status.EXPIRED, provider_status=provider_status, reasons=[Reason.REVIEW_TIMEOUT]
        )
    return Result(decision=Status.EXPIRED, reasons=[Reason.VERIFICATION_EXPIRED])


def after_refusal(session: Session, refusal: ProviderRejected) -> Result:
    """At the deadline the provider refused the last look: ours to fix is `error`, anything else (the
    verification is over) is the deadline's own result."""
    if refusal.reason in OUR_REFUSALS:
        return Result(decision=Status.ERROR, reasons=[refusal.reason])
    return without_verdict(session)


def after_unreachable(session: Session, reason: str, interval_seconds: int, tries: int) -> Result:
    """At the deadline the last look failed every one of its `tries`."""
    if unreachable_throughout(session, interval_seconds, tries):
        return Result(decision=Status.ERROR, reasons=[reason])
    return without_verdict(session)
