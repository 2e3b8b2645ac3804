"""Typed errors. Each API-facing error carries its stable code and HTTP status; they are mapped to
responses in one place (the API handler), never by matching on message text."""

from __future__ import annotations

from typing import Any


class IdgateError(Exception):
    """An error a caller can act on: answered as {"error": {"code", "message", ...details}}."""

    status: int = 400
    code: str = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details


class InvalidJson(IdgateError):
    status, code = 400, "invalid_json"


class ValidationFailed(IdgateError):
    status, code = 422, "validation_error"


class Unauthorized(IdgateError):
    status, code = 401, "unauthorized"


class Forbidden(IdgateError):
    status, code = 403, "forbidden"


class NotFound(IdgateError):
    status, code = 404, "not_found"


class Conflict(IdgateError):
    status, code = 409, "conflict"


class TooManyRequests(IdgateError):
    status, code = 429, "too_many_requests"


class PayloadTooLarge(IdgateError):
    status, code = 413, "payload_too_large"


class ProviderFailed(IdgateError):
    """The provider answered, but not with what we asked for (bad credentials, refused request)."""

    status, code = 502, "provider_error"


class ServiceUnavailable(IdgateError):
    status, code = 503, "service_unavailable"


class ProviderUnavailable(Exception):
    """A transient provider failure (network, timeout, 5xx, unreadable answer): worth retrying.

    The poll state machine retries on this exception's name, so the class name is part of the
    contract with statemachine/poll.asl.json.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class ProviderRejected(Exception):
    """A final provider refusal (bad credentials, unknown token, 403): retrying cannot help."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
