"""The use cases of idgate, behind one entry point. Handlers parse, call one of these, and map the answer.

Each concern lives in its own module: `sessions` (starting and reading), `following` (the poll state
machine's steps), `webhooks`, `second_factor` and `finalizing` (the verdict and its event, once).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from idgate.announcing import Announcer
from idgate.api import Caller
from idgate.canceling import Canceling
from idgate.domain import Cause, Session
from idgate.finalizing import Finalizer
from idgate.follow_state import FollowState
from idgate.following import Following
from idgate.freshness import Freshness
from idgate.ports import Dependencies
from idgate.providers.base import Image, Observation
from idgate.redacting import Redacting
from idgate.second_factor import PinIncorrect, SecondFactor
from idgate.sessions import Sessions
from idgate.webhooks import Webhooks

__all__ = ["Idgate", "PinIncorrect"]


class Idgate:
    def __init__(self, deps: Dependencies) -> None:
        self.deps = deps
        self.finalizer = Finalizer(deps)
        self.second_factor = SecondFactor(deps, self.finalizer)
        self.following = Following(deps, self.finalizer, self.second_factor)
        self.webhooks = Webhooks(deps, self.finalizer, self.following)
        self.sessions = Sessions(deps, self.finalizer, self.following, self.webhooks)
        self.freshness = Freshness(deps, self.following)
        self.canceling = Canceling(deps, self.finalizer)
        self.redacting = Redacting(deps)
        self.announcer = Announcer(deps.sessions, deps.publisher, clock=deps.clock, sleep=deps.sleep)

    # ---- the API -----------------------------------------------------------------------------

    def create_session(
        self,
        caller: Caller,
        body: Mapping[str, Any],
        *,
        api_base_url: str = "",
        idempotency_key: str | None = None,
    ) -> tuple[Session, str, str]:
        return self.sessions.create(caller, body, api_base_url=api_base_url, idempotency_key=idempotency_key)

    def get_session(self, caller: Caller, session_id: str, client_secret: str | None) -> Session:
        """The session, looked at afresh at the provider when it is due (idgate.freshness)."""
        return self.freshness.refreshed(self.sessions.get(caller, session_id, client_secret))

    def cancel_session(self, caller: Caller, session_id: str) -> Session:
        return self.canceling.cancel(caller, session_id)

    def redact_session(self, caller: Caller, session_id: str) -> Session:
        return self.redacting.redact(caller, session_id)

    def session_history(self, caller: Caller, session_id: str) -> dict[str, Any]:
        return self.redacting.history(caller, session_id)

    def routing_policy(self, caller: Caller) -> dict[str, Any]:
        return self.sessions.routing_policies().view(caller)

    def replace_routing_policy(self, caller: Caller, body: Any) -> dict[str, Any]:
        return self.sessions.routing_policies().replace(caller, body)

    def submit_pin(self, caller: Caller, session_id: str, client_secret: str | None, pin: str) -> Session:
        return self.second_factor.submit(caller, session_id, client_secret, pin)

    def image(self, caller: Caller, session_id: str, side: str, *, redacted: bool) -> Image:
        return self.sessions.image(caller, session_id, side, redacted=redacted)

    def providers(self) -> dict[str, Any]:
        return self.sessions.catalogue()

    def provider_resource(self, caller: Caller, provider: str, resource: str) -> Mapping[str, Any]:
        return self.sessions.resource(caller, provider, resource)

    def webhook_url(self, caller: Caller, provider: str, api_base_url: str) -> dict[str, str]:
        return self.webhooks.dashboard_url(caller, provider, api_base_url)

    def receive_webhook(
        self, provider: str, token: str, headers: Mapping[str, str], body: bytes
    ) -> dict[str, Any]:
        return self.webhooks.receive(provider, token, headers, body)

    # ---- following a session (the poll state machine) ----------------------------------------

    def poll(self, state: FollowState) -> FollowState:
        return self.following.poll(state)

    def abort(self, session_id: str) -> None:
        self.following.abort(session_id)

    def apply(self, session: Session, observation: Observation, *, cause: Cause = Cause.WEBHOOK) -> Session:
        return self.following.apply(session, observation, cause=cause)

    # ---- announcing final statuses (the table's change stream) --------------------------------

    def publish_final(self, session_id: str) -> bool:
        """Publishes the session's final-status event once; False when the session is not final (or
        unknown) and there is nothing to publish. Raises when publishing fails (the stream retries). The
        publisher function calls idgate.announcing without building the rest (idgate.wiring)."""
        return self.announcer.publish_final(session_id)
