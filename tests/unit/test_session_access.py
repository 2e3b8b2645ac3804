"""Who may read a session (idgate.session_access): the secret key of its own client, or the holder of its
client secret; everyone else gets the answer an unknown id gets."""

from __future__ import annotations

import pytest

from idgate.api import Caller
from idgate.domain import Session
from idgate.errors import NotFound
from idgate.service import Idgate
from tests.support.world import CALLER, World, make_world

PUBLISHABLE = Caller(kind="publishable", client_id="shop")
OTHER_CLIENTS_SECRET_KEY = Caller(kind="secret", client_id="another-shop")
#: What the authorizer passes on for a request with an X-Client-Secret header and no API key.
SECRET_HOLDER = Caller(kind="client_secret")


@pytest.fixture
def world() -> World:
    return make_world()


@pytest.fixture
def created(world: World) -> tuple[Idgate, Session, str]:
    service = world[0]
    session, client_secret, _ = service.create_session(PUBLISHABLE, {"provider": "fake"})
    return service, session, client_secret


def refused(service: Idgate, caller: Caller, session_id: str, client_secret: str | None) -> NotFound:
    with pytest.raises(NotFound) as raised:
        service.get_session(caller, session_id, client_secret)
    assert raised.value.message == "no such session"
    return raised.value


def test_the_secret_key_of_the_sessions_client_reads_it_without_the_client_secret(created):
    service, session, _ = created
    assert service.get_session(CALLER, session.id, None).id == session.id


@pytest.mark.parametrize("caller", [SECRET_HOLDER, PUBLISHABLE, CALLER, OTHER_CLIENTS_SECRET_KEY])
def test_the_client_secret_reads_the_session_whoever_holds_it(created, caller: Caller):
    service, session, client_secret = created
    assert service.get_session(caller, session.id, client_secret).id == session.id


def test_a_publishable_key_of_the_same_client_needs_the_client_secret(created):
    service, session, _ = created
    assert refused(service, PUBLISHABLE, session.id, None).code == "session_not_found"


def test_another_clients_secret_key_cannot_read_the_session(created):
    service, session, _ = created
    assert refused(service, OTHER_CLIENTS_SECRET_KEY, session.id, None).code == "session_not_found"


@pytest.mark.parametrize("caller", [SECRET_HOLDER, PUBLISHABLE, OTHER_CLIENTS_SECRET_KEY])
def test_a_wrong_or_empty_client_secret_reads_nothing(created, caller: Caller):
    service, session, client_secret = created
    for wrong in ("", None, client_secret + "x", client_secret.upper(), "None"):
        assert refused(service, caller, session.id, wrong).code == "session_not_found", wrong


def test_one_sessions_client_secret_does_not_read_another_session(created):
    service, session, client_secret = created
    other, other_secret, _ = service.create_session(PUBLISHABLE, {"provider": "fake"})
    assert refused(service, SECRET_HOLDER, other.id, client_secret).code == "session_not_found"
    assert service.get_session(SECRET_HOLDER, other.id, other_secret).id == other.id
    assert refused(service, SECRET_HOLDER, session.id, other_secret).code == "session_not_found"


def test_not_yours_and_no_such_session_are_the_same_answer(created):
    service, session, _ = created
    not_yours = refused(service, OTHER_CLIENTS_SECRET_KEY, session.id, None)
    unknown = refused(service, CALLER, "ses_" + "0" * 20, None)
    answers = [(error.status, error.code, error.message, error.details) for error in (not_yours, unknown)]
    assert answers == [(404, "session_not_found", "no such session", {})] * 2


@pytest.mark.parametrize(
    "session_id", ["", "ses_short", "pk_" + "a" * 20, "ses_" + "a" * 65, "ses_a b c d e f g h i"]
)
def test_an_id_that_is_no_session_id_never_reaches_the_table(world: World, session_id: str):
    service = world[0]
    asked: list[str] = []
    sessions = service.deps.sessions
    original_get = sessions.get

    def get(session_id: str) -> Session | None:
        asked.append(session_id)
        return original_get(session_id)

    sessions.get = get  # type: ignore[method-assign]
    assert refused(service, CALLER, session_id, None).code == "session_not_found"
    assert asked == []
