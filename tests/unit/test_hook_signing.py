"""Webhook signatures are Standard Webhooks': the `standardwebhooks` package verifies every delivery idgate
signs, with the one secret in force, or with either secret during a rotation's overlap, and refuses a changed
body."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from idgate.hooks.signing import KEY_BYTES, key_of, new_key, secret_of, signed_headers
from tests.support.messages import says

BODY = '{"type": "session.finalized", "timestamp": "2026-11-23T08:00:00Z", "data": {"id": "ses_x"}}'


def test_a_secret_is_whsec_and_base64_of_its_32_byte_key():
    key = new_key()
    secret = secret_of(key)
    assert secret.startswith("whsec_")
    assert len(key) == KEY_BYTES
    assert base64.b64decode(secret.removeprefix("whsec_")) == key == key_of(secret)
    assert new_key() != key


def test_a_delivery_signed_with_the_secret_verifies_with_the_standardwebhooks_package():
    # Given a secret and the headers idgate sends with a body
    key = new_key()
    now = datetime.now(UTC)
    headers = signed_headers([key], "evt_0123456789abcdef0123456789abcdef", now, BODY)

    # Then the package verifies them, and reads the body
    assert Webhook(secret_of(key)).verify(BODY, headers)["data"] == {"id": "ses_x"}
    assert headers["webhook-id"] == "evt_0123456789abcdef0123456789abcdef"
    assert headers["webhook-timestamp"] == str(int(now.timestamp()))
    assert headers["webhook-signature"].startswith("v1,")


def test_a_changed_body_or_another_secret_does_not_verify():
    key = new_key()
    headers = signed_headers([key], "evt_1", datetime.now(UTC), BODY)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret_of(key)).verify(BODY.replace("ses_x", "ses_y"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret_of(new_key())).verify(BODY, headers)


def test_during_a_rotation_two_signatures_are_sent_and_either_secret_verifies():
    old, new = new_key(), new_key()
    headers = signed_headers([old, new], "evt_2", datetime.now(UTC), BODY)
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert all(part.startswith("v1,") for part in headers["webhook-signature"].split(" "))
    Webhook(secret_of(old)).verify(BODY, headers)
    Webhook(secret_of(new)).verify(BODY, headers)


def test_nothing_is_signed_without_a_key():
    with pytest.raises(ValueError, match="no key") as refused:
        signed_headers([], "evt_3", datetime.now(UTC), BODY)
    says(str(refused.value), "no key", "sign with")


def test_the_body_is_said_to_be_json():
    headers = signed_headers([new_key()], "evt_4", datetime.now(UTC), BODY)
    assert {name.lower(): value.lower() for name, value in headers.items()}[
        "content-type"
    ] == "application/json"
