"""Paying for freshness only when someone is watching (README "Cost").

Past its fast phase a session is looked at sparsely (idgate.schedule), so a verdict whose webhook was
lost would wait for the next sparse look. When someone reads the session (its page polls
`GET /v1/sessions/{id}`), the read looks at the provider itself: at most once per poll interval per
session, however many readers (claimed by a conditional write), with the short time-outs of a webhook's
look-ups, and the stored answer is served whatever goes wrong. A session nobody watches costs nothing
more than its sparse looks.
"""

from __future__ import annotations

from datetime import timedelta

from aws_lambda_powertools import Logger

from idgate import schedule
from idgate.domain import Cause, Session, Status
from idgate.errors import ProviderRejected, ProviderUnavailable
from idgate.following import Following
from idgate.ports import Dependencies

logger = Logger(service="idgate", child=True)


class Freshness:
    def __init__(self, deps: Dependencies, following: Following) -> None:
        self._deps = deps
        self._following = following

    def refreshed(self, session: Session) -> Session:
        """The session as the provider has it now, when a look is due; else as stored."""
        deps = self._deps
        # The user's PIN comes through our API, not the provider's; a final status is final.
        if session.status.is_final or session.status is Status.AWAITING_PIN:
            return session
        now = deps.clock()
        if now >= session.expires_at:
            return session  # the deadline's look, with its retries, decides (idgate.following)
        providers = deps.webhook_providers or deps.providers
        provider = providers[session.provider]
        interval = deps.poll_interval_seconds
        fast_end = schedule.fast_phase_end(provider, session, interval, limit=deps.fast_phase_limit)
        if fast_end is not None and now < fast_end:
            return session  # followed closely already
        if not deps.sessions.claim_look(session.id, now=now, every=timedelta(seconds=interval)):
            return session
        try:
            observation = provider.observe(session)
        except (ProviderUnavailable, ProviderRejected) as exc:
            # Only the follow-up's own looks count failures and decide an error.
            logger.info("a reader's look failed; the stored session is served", reason=exc.reason)
            return session
        return self._following.apply(session, observation, cause=Cause.POLL)
