"""When a session is looked at: the two phases of following it, and what each costs (README "Cost").

* **Fast phase**: from its creation, for as long as its provider says (`fast_follow_seconds`: Jekimo's
  two-minute token, okID's first minute) plus `FAST_PHASE_GRACE_INTERVALS`, each look at the provider's
  own cadence, in an Express workflow. Express bills by duration (about $0.06 per 1,000 session-minutes)
  and ends an execution at 5 minutes: the phase lasts at most `FAST_PHASE_LIMIT`. A provider whose
  webhooks carry the news has none.
* **Long phase**: a Standard workflow, billed per state transition (three per look), looks sparsely:
  - a decision under way (review, processing): at the provider's cadence, doubled at each look of the
    phase, at most every `LONG_WAIT_LIMIT` (two hours): a week of review is about 90 looks;
  - awaiting a PIN: at the PIN's deadline;
  - waiting for its user: at the deadline (the last look), and, for a session that had no fast phase
    (its provider sends webhooks), one safety-net look `SAFETY_NET_AFTER_INTERVALS` after its creation
    (10 minutes at the default 5 s), for a webhook that was lost.
  Someone reading the session (GET) in between pays for its freshness instead (idgate.freshness).

Every time but the two limits counts in poll intervals, so that a local run with a shorter interval and
shorter lives makes the same looks, transitions and invocations (`make bench` counts them so).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from idgate.domain import Session, Status
from idgate.providers.base import Provider

#: Express ends an execution at 5 minutes; this leaves room for a look's retries and the hand-off.
FAST_PHASE_LIMIT = timedelta(seconds=180)
#: Past the provider's own time, so that the look at the deadline (just after it) is still the fast phase's.
FAST_PHASE_GRACE_INTERVALS = 3
LONG_WAIT_LIMIT_SECONDS = 2 * 3600
SAFETY_NET_AFTER_INTERVALS = 120
#: A safety-net look this close to the deadline adds nothing to the last look.
SAFETY_NET_MARGIN_INTERVALS = 60
#: Statuses in which the provider (or its reviewer) is deciding, not the user.
UNDER_WAY = frozenset({Status.REVIEW, Status.PROCESSING})


def fast_phase_end(
    provider: Provider, session: Session, base_interval: int, *, limit: timedelta = FAST_PHASE_LIMIT
) -> datetime | None:
    """When the session's fast phase ends, or None when it has none."""
    seconds = provider.fast_follow_seconds(session, base_interval=base_interval)
    if seconds <= 0:
        return None
    grace = FAST_PHASE_GRACE_INTERVALS * base_interval
    return session.created_at + min(timedelta(seconds=seconds + grace), limit)


def long_phase_wait(
    session: Session,
    *,
    provider_wait: int,
    interval: int,
    long_looks: int,
    had_fast_phase: bool,
    now: datetime,
    limit_seconds: int = LONG_WAIT_LIMIT_SECONDS,
) -> int:
    """Seconds until the next look of the long phase (`long_looks`: looks it made so far)."""
    until_deadline = _seconds_until(session.expires_at, now)
    if session.status is Status.AWAITING_PIN:
        return _seconds_until(session.pin_deadline, now) if session.pin_deadline else until_deadline
    if session.status in UNDER_WAY:
        doubled = provider_wait << min(long_looks, 32)  # doubled at each look (bounded: no huge ints)
        backed_off = min(doubled, limit_seconds)
        return max(1, min(backed_off, until_deadline))
    if not had_fast_phase and long_looks == 0:
        safety_net = session.created_at + timedelta(seconds=SAFETY_NET_AFTER_INTERVALS * interval)
        margin = timedelta(seconds=SAFETY_NET_MARGIN_INTERVALS * interval)
        if now < safety_net <= session.expires_at - margin:
            return _seconds_until(safety_net, now)
    return until_deadline


def _seconds_until(moment: datetime, now: datetime) -> int:
    return max(1, math.ceil((moment - now).total_seconds()))
