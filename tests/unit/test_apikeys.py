"""API keys: the authorizer's decisions and the key administration, on a table built from the template."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import UTC, datetime

import boto3
import pytest
from moto import mock_aws

from idgate.apikeys import authorize, bearer_key
from idgate.errors import NotFound, ValidationFailed
from idgate.key_admin import administer
from idgate.keystore import KeyStore
from tests.support.tables import boto3_region_env, create_template_tables


def now() -> datetime:
    return datetime(2026, 11, 22, 20, 0, tzinfo=UTC)


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> Iterator[KeyStore]:
    boto3_region_env(monkeypatch)
    with mock_aws():
        client = boto3.client("dynamodb")
        names = create_template_tables(client)
        yield KeyStore(names["KeysTable"], client=client)


def create(keys: KeyStore, kind: str, client_id: str = "shop") -> dict:
    return administer(keys, {"action": "create", "kind": kind, "client_id": client_id, "name": kind}, now=now)


def test_a_created_key_is_shown_once_and_stored_only_as_its_hash(keys: KeyStore):
    created = create(keys, "secret")
    assert created["key"].startswith("sk_")
    stored = keys.all()
    assert len(stored) == 1
    assert created["key"] not in str(stored)
    assert stored[0]["key_hash"] == created["key_id"]


def test_a_valid_key_is_authorized_with_its_client_and_kind(keys: KeyStore):
    secret, publishable = create(keys, "secret"), create(keys, "publishable")
    assert authorize(keys, {"Authorization": f"Bearer {secret['key']}"}) == {
        "isAuthorized": True,
        "context": {"kind": "secret", "client_id": "shop"},
    }
    assert (
        authorize(keys, {"authorization": f"bearer {publishable['key']}"})["context"]["kind"] == "publishable"
    )


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer sk_unknown_key_123456",
        "Bearer",
        "Basic abc",
        "sk_local_dev",
        "Bearer pk_",
        "Bearer xx_abcdefgh",
    ],
)
def test_unknown_or_malformed_keys_are_denied(keys: KeyStore, authorization: str):
    create(keys, "secret")
    assert authorize(keys, {"authorization": authorization}) == {"isAuthorized": False}


def test_a_revoked_key_is_denied(keys: KeyStore):
    created = create(keys, "secret")
    assert administer(keys, {"action": "revoke", "key_id": created["key_id"]}, now=now)["revoked"] is True
    assert authorize(keys, {"authorization": f"Bearer {created['key']}"}) == {"isAuthorized": False}
    listed = administer(keys, {"action": "list"}, now=now)["keys"]
    assert listed[0]["revoked_at"] == now().isoformat()


def test_a_client_secret_alone_passes_to_the_session_check(keys: KeyStore):
    assert authorize(keys, {"x-client-secret": "cs_something"}) == {
        "isAuthorized": True,
        "context": {"kind": "client_secret"},
    }
    assert authorize(keys, {"x-client-secret": "  "}) == {"isAuthorized": False}
    assert authorize(keys, {}) == {"isAuthorized": False}


def test_a_bad_key_is_denied_even_with_a_client_secret(keys: KeyStore):
    assert authorize(keys, {"authorization": "Bearer sk_nope_nope_nope", "x-client-secret": "cs_x"}) == {
        "isAuthorized": False
    }


def test_importing_a_key_is_idempotent_but_not_across_clients(keys: KeyStore):
    command = {"action": "import", "key": "sk_local_dev", "client_id": "local-dev"}
    first = administer(keys, command, now=now)
    assert administer(keys, command, now=now)["key_id"] == first["key_id"]
    with pytest.raises(ValidationFailed) as conflict:
        administer(keys, {**command, "client_id": "someone-else"}, now=now)
    assert conflict.value.code == "key_conflict"
    assert conflict.value.message


@pytest.mark.parametrize(
    ("command", "code"),
    [
        ({"action": "explode"}, "unknown_action"),
        ({"action": "create", "kind": "admin"}, "validation_error"),
        ({"action": "import", "key": "not-a-key", "client_id": "x"}, "validation_error"),
        ({"action": "revoke", "key_id": "short"}, "validation_error"),
    ],
)
def test_bad_admin_commands_are_refused(keys: KeyStore, command: dict, code: str):
    with pytest.raises(ValidationFailed) as failure:
        administer(keys, command, now=now)
    assert failure.value.code == code
    assert failure.value.message


def test_revoking_an_unknown_key_is_not_found(keys: KeyStore):
    with pytest.raises(NotFound) as missing:
        administer(keys, {"action": "revoke", "key_id": "0" * 64}, now=now)
    assert (missing.value.status, missing.value.code) == (404, "key_not_found")
    assert missing.value.message


def test_revoking_a_key_answers_which_one(keys: KeyStore):
    created = create(keys, "secret")
    assert administer(keys, {"action": "revoke", "key_id": created["key_id"]}, now=now) == {
        "key_id": created["key_id"],
        "revoked": True,
    }


def test_a_created_key_and_a_new_client_id_are_long_random_tokens(keys: KeyStore):
    created = administer(keys, {"action": "create", "kind": "secret"}, now=now)
    assert re.fullmatch(r"sk_[A-Za-z0-9_-]{32}", created["key"])  # 24 random bytes
    assert re.fullmatch(r"cli_[A-Za-z0-9_-]{12}", created["client_id"])  # 9 random bytes


def test_bearer_parsing():
    assert bearer_key("Bearer sk_abc") == "sk_abc"
    assert bearer_key("  bearer   sk_abc ") == "sk_abc"
    assert bearer_key("Token sk_abc") is None
    assert bearer_key(None) is None


@pytest.mark.parametrize(
    ("key", "kind"), [("pk_shop_web_0001", "publishable"), ("sk_shop_backend_01", "secret")]
)
def test_an_imported_key_keeps_the_kind_its_prefix_names(keys: KeyStore, key: str, kind: str):
    imported = administer(
        keys, {"action": "import", "key": key, "client_id": "shop", "name": "mine"}, now=now
    )
    assert (imported["kind"], imported["client_id"], imported["name"], imported["key"]) == (
        kind,
        "shop",
        "mine",
        key,
    )
    assert [item["kind"] for item in keys.all()] == [kind]
    assert authorize(keys, {"authorization": f"Bearer {key}"}) == {
        "isAuthorized": True,
        "context": {"kind": kind, "client_id": "shop"},
    }


def test_a_created_key_is_described_in_full(keys: KeyStore):
    created = administer(keys, {"action": "create", "kind": "publishable", "name": "shop web"}, now=now)
    assert created["key"].startswith("pk_")
    assert created["client_id"].startswith("cli_")  # none given: a new client
    assert created == {
        "key_id": bearer_hash(created["key"]),
        "kind": "publishable",
        "client_id": created["client_id"],
        "name": "shop web",
        "created_at": now().isoformat(),
        "revoked_at": None,
        "key": created["key"],
    }
    assert administer(keys, {"action": "list"}, now=now) == {
        "keys": [{name: value for name, value in created.items() if name != "key"}]
    }


def test_a_key_stored_as_another_kind_than_its_prefix_is_denied(keys: KeyStore):
    keys.add({"key_hash": bearer_hash("sk_forged_kind_01"), "kind": "publishable", "client_id": "shop"})
    assert authorize(keys, {"authorization": "Bearer sk_forged_kind_01"}) == {"isAuthorized": False}


def test_importing_a_key_again_as_another_kind_is_a_conflict(keys: KeyStore):
    keys.add({"key_hash": bearer_hash("sk_local_dev_01"), "kind": "publishable", "client_id": "local-dev"})
    with pytest.raises(ValidationFailed) as conflict:
        administer(keys, {"action": "import", "key": "sk_local_dev_01", "client_id": "local-dev"}, now=now)
    assert conflict.value.code == "key_conflict"
    assert conflict.value.message


def bearer_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def test_a_key_stored_without_a_name_is_listed_with_an_empty_one(keys: KeyStore):
    keys.add({"key_hash": bearer_hash("sk_older_key_01"), "kind": "secret", "client_id": "shop"})
    assert administer(keys, {"action": "list"}, now=now) == {
        "keys": [
            {
                "key_id": bearer_hash("sk_older_key_01"),
                "kind": "secret",
                "client_id": "shop",
                "name": "",
                "created_at": None,
                "revoked_at": None,
            }
        ]
    }


def test_the_key_store_adds_a_key_once_and_says_whether_it_did(keys: KeyStore):
    # idgate.keystore: `add` is a conditional write, True when the key is new, False when its hash is there
    item = {"key_hash": "a" * 64, "kind": "secret", "client_id": "shop", "name": "first"}
    assert keys.add(item) is True
    assert keys.add({**item, "client_id": "another-shop", "name": "second"}) is False
    assert keys.all() == [item]
