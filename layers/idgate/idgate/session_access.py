"""Who may read a session (the secret key of its client, or the holder of its client secret), and who may
act on it (the secret key of its client only)."""

from __future__ import annotations

from idgate.api import Caller
from idgate.domain import Session
from idgate.errors import Forbidden, NotFound
from idgate.repository import SessionRepository
from idgate.secrets_util import SESSION_ID, same_secret


def may_read(caller: Caller, session: Session, client_secret: str | None) -> bool:
    if caller.is_secret_key and caller.client_id == session.client_id:
        return True
    return bool(client_secret) and same_secret(str(client_secret), session.client_secret_hash)


def readable_session(
    sessions: SessionRepository, caller: Caller, session_id: str, client_secret: str | None
) -> Session:
    session = sessions.get(session_id) if SESSION_ID.fullmatch(session_id) else None
    if session is None or not may_read(caller, session, client_secret):
        # The same answer for "no such session" and "not yours": ids cannot be probed.
        raise NotFound("no such session", code="session_not_found")
    return session


def owned_session(sessions: SessionRepository, caller: Caller, session_id: str, *, action: str) -> Session:
    """The session, for what only its client's secret key may do (`action`, e.g. "canceling a session"):
    a publishable key is refused whatever the session; another client's key finds no such session."""
    require_secret_key(caller, action)
    return readable_session(sessions, caller, session_id, None)


def require_secret_key(caller: Caller, action: str) -> None:
    """What only a client's secret key may do (`action`): a publishable key or a client secret is refused."""
    if not caller.is_secret_key or not caller.client_id:
        raise Forbidden(f"{action} needs a secret key", code="secret_key_required")
