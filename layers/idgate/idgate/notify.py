"""What leaves idgate besides API answers: final-status events (EventBridge), PIN emails (SES v2),
and the start of a poll workflow (Step Functions). The only modules' boto3 calls besides the store."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from idgate.announced import Announced

if TYPE_CHECKING:  # a type only: the publisher function imports this module and never builds that model
    from idgate.follow_state import FollowState

EVENT_SOURCE = "idgate"
EVENT_DETAIL_TYPE = "Session Finalized"
REDACTED_DETAIL_TYPE = "Session Redacted"


def final_event_detail(session: Announced) -> dict[str, Any]:
    """The documented `detail` of the one event published when a session reaches its final status."""
    return {
        "id": session.id,
        "provider": session.provider,
        "status": session.status.value,
        "reference": session.reference,
        "result": session.result,
        "finalized_at": session.finalized_at.isoformat() if session.finalized_at else None,
        # How idgate chose the provider (`"provider": "auto"`), else null.
        "routing": session.routing,
    }


def redacted_event_detail(session: Announced) -> dict[str, Any]:
    """The documented `detail` of the event published when a session's personal data was erased."""
    return {
        "id": session.id,
        "provider": session.provider,
        "status": session.status.value,
        "redacted_at": session.redacted_at.isoformat() if session.redacted_at else None,
    }


def _new_client(service: str) -> Any:
    # boto3 is imported when the first client is made, not with this module (see idgate.wiring).
    import boto3

    return boto3.client(service)


class EventPublisher:
    def __init__(self, bus_name: str, *, client: Any = None) -> None:
        self._bus = bus_name
        self._client = client

    def session_finalized(self, session: Announced) -> None:
        self._put(EVENT_DETAIL_TYPE, final_event_detail(session))

    def session_redacted(self, session: Announced) -> None:
        self._put(REDACTED_DETAIL_TYPE, redacted_event_detail(session))

    def _put(self, detail_type: str, detail: dict[str, Any]) -> None:
        self._client = self._client or _new_client("events")
        answer = self._client.put_events(
            Entries=[
                {
                    "Source": EVENT_SOURCE,
                    "DetailType": detail_type,
                    "Detail": json.dumps(detail),
                    "EventBusName": self._bus,
                    "Resources": [],
                }
            ]
        )
        if answer.get("FailedEntryCount"):
            raise RuntimeError(f"EventBridge did not accept the {detail_type!r} event")


def _without_error_message(parsed: dict[str, Any], **_: Any) -> None:
    error = parsed.get("Error")
    if isinstance(error, dict) and "Message" in error:
        error["Message"] = "SES refused the email (the message is dropped: it may name the recipient)"


def _mail_client() -> Any:
    client = _new_client("sesv2")
    # SES's refusals may name the recipient (in its sandbox: "... failed the check ...: <address>"), and the
    # message becomes the exception's, which logs and traces show: it is dropped before, the code kept.
    client.meta.events.register("after-call.sesv2.SendEmail", _without_error_message)
    return client


class Mailer:
    def __init__(self, sender: str, *, client: Any = None) -> None:
        self._sender = sender
        self._client = client

    def send_pin(self, *, to: str, pin: str, valid_minutes: int) -> None:
        self._client = self._client or _mail_client()
        text = (
            f"Your verification PIN is {pin}.\n\n"
            "Enter it on the page where you started the verification. "
            f"It is valid for {valid_minutes} minutes.\n"
            "If you did not ask for it, ignore this email."
        )
        self._client.send_email(
            FromEmailAddress=self._sender,
            Destination={"ToAddresses": [to]},
            Content={
                "Simple": {"Subject": {"Data": "Your verification PIN"}, "Body": {"Text": {"Data": text}}}
            },
        )


class PollStarter:
    """Starts the follow state machines: the Express one (`fast_state_machine_arn`) for a fast phase,
    the Standard one for the long phase. Without an Express one, the Standard one runs both phases."""

    def __init__(
        self, state_machine_arn: str, fast_state_machine_arn: str = "", *, client: Any = None
    ) -> None:
        self._arn = state_machine_arn
        self._fast_arn = fast_state_machine_arn
        self._client = client

    def start(self, state: FollowState) -> None:
        """Starts the execution of `state`'s phase and generation, named `<session id>` or `<session
        id>.<n>`: each Standard name is used once, so a retried step cannot start the same generation
        twice. (An Express workflow keeps no names; its fast phase is started once, at the creation.)"""
        self._client = self._client or _new_client("stepfunctions")
        fast = state.phase == "fast" and bool(self._fast_arn)
        try:
            self._client.start_execution(
                stateMachineArn=self._fast_arn if fast else self._arn,
                name=state.execution_name,
                input=state.model_dump_json(),
            )
        except self._client.exceptions.ExecutionAlreadyExists:
            return
