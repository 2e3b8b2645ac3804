"""What the notifications let out besides what they send: an SES refusal says nothing of its recipient."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from idgate import notify

EMAIL = "someone@example.com"


def test_an_ses_refusal_keeps_its_code_and_drops_its_message(monkeypatch):
    # Given SES refusing the PIN email with a message that names the recipient (its sandbox does)
    client = boto3.client("sesv2", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    monkeypatch.setattr(notify, "_new_client", lambda service: client)
    stub = Stubber(client)
    stub.add_client_error(
        "send_email",
        service_error_code="MessageRejected",
        service_message=f"Email address is not verified. The following identities failed the check: {EMAIL}",
        http_status_code=400,
    )

    # When the mailer sends it
    with stub, pytest.raises(ClientError) as raised:
        notify.Mailer("no-reply@example.com").send_pin(to=EMAIL, pin="123456", valid_minutes=10)

    # Then the error says what SES said by its code, and nothing of the recipient (logs and traces show it)
    assert raised.value.response["Error"]["Code"] == "MessageRejected"
    assert EMAIL not in str(raised.value)
    assert EMAIL not in json.dumps(raised.value.response["Error"])
