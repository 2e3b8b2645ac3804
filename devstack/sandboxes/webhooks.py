"""Webhook delivery for the provider sandboxes: JSON POSTs from background threads, with bounded retries.

A delivery is unsigned (the providers document no signature), follows no redirect (a 3xx is its
answer), uses no proxy (the devstack's receivers are on this machine), and is retried at most
MAX_WEBHOOK_RETRIES times after a network error, a 429 or a 5xx. Every attempt is recorded, so tests
can wait for them and read what was sent. Logs show a URL's first path segments only: the rest of a
webhook path is a secret token.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from http.client import HTTPMessage
from typing import IO, Any, ClassVar
from urllib.parse import urlsplit

__all__ = ["MAX_WEBHOOK_RETRIES", "Delivery", "WebhookSender", "loggable_path"]

#: Attempts are 1 + at most this many retries.
MAX_WEBHOOK_RETRIES = 2
_LOGGED_PATH_SEGMENTS = 3

#: One attempt: (HTTP status, or None for a network error; the JSON body sent).
Delivery = tuple[int | None, dict[str, Any]]


def loggable_path(url: str) -> str:
    """The URL's path with everything after its first segments masked (it may hold a secret token)."""
    segments = [s for s in urlsplit(url).path.split("/") if s]
    kept = segments[: min(_LOGGED_PATH_SEGMENTS, max(0, len(segments) - 1))]
    masked = "/***" if len(segments) > len(kept) else ""
    return "/" + "/".join(kept) + masked if kept else masked or "/"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A webhook is not followed elsewhere: a 3xx is the delivery's answer."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        return None


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


class WebhookSender:
    """Sends a sandbox's webhooks. The timeout and retry delays may be changed per instance (tests)."""

    #: Seconds a webhook request may take.
    webhook_timeout_seconds: float = 5.0
    #: Pauses before each retry of a failed delivery; at most MAX_WEBHOOK_RETRIES are used.
    webhook_retry_delays: tuple[float, ...] = (1.0, 3.0)
    #: The User-Agent of the requests.
    webhook_user_agent: ClassVar[str] = "sandbox-webhook/1.0"

    def __init__(self, log: logging.Logger, label: str) -> None:
        """``log`` and ``label`` (e.g. ``okid sandbox``) are where and how deliveries are logged."""
        self._webhook_log = log
        self._webhook_label = label
        self._deliveries: list[Delivery] = []
        self._senders: set[threading.Thread] = set()
        self._delivery_changed = threading.Condition()

    @property
    def webhook_deliveries(self) -> list[Delivery]:
        """One (HTTP status or None for a network error, payload) per delivery attempt, oldest first."""
        with self._delivery_changed:
            return list(self._deliveries)

    def wait_for_webhooks(self, count: int, timeout: float = 5.0) -> list[Delivery]:
        """Waits until at least ``count`` delivery attempts are recorded; raises TimeoutError."""
        with self._delivery_changed:
            if not self._delivery_changed.wait_for(lambda: len(self._deliveries) >= count, timeout):
                raise TimeoutError(f"{len(self._deliveries)} of {count} webhook attempts after {timeout} s")
            return list(self._deliveries)

    def flush_webhooks(self, timeout: float = 10.0) -> None:
        """Waits until no background delivery is running; raises TimeoutError."""
        with self._delivery_changed:
            if not self._delivery_changed.wait_for(lambda: not self._senders, timeout):
                raise TimeoutError(f"{len(self._senders)} webhook deliveries still running after {timeout} s")

    def start_webhook(self, url: str, payload: dict[str, Any], about: str) -> None:
        """Delivers ``payload`` to ``url`` from a background thread; ``about`` (no secrets) is logged."""

        def run() -> None:
            try:
                self.deliver_webhook(url, payload, about)
            finally:
                with self._delivery_changed:
                    self._senders.discard(thread)
                    self._delivery_changed.notify_all()

        thread = threading.Thread(target=run, name=f"{self._webhook_label} webhook", daemon=True)
        with self._delivery_changed:
            self._senders.add(thread)
        thread.start()

    def deliver_webhook(self, url: str, payload: dict[str, Any], about: str) -> int | None:
        """Delivers ``payload`` to ``url`` in this thread; the last attempt's status (None: network error)."""
        delays = tuple(self.webhook_retry_delays)[:MAX_WEBHOOK_RETRIES]
        attempts = 1 + len(delays)
        path = loggable_path(url)
        status: int | None = None
        for attempt in range(1, attempts + 1):
            if attempt > 1:
                time.sleep(max(0.0, delays[attempt - 2]))
            status = self._post(url, payload)
            with self._delivery_changed:
                self._deliveries.append((status, payload))
                self._delivery_changed.notify_all()
            self._webhook_log.info(
                "%s: webhook %s to %s -> %s (attempt %d of %d)",
                self._webhook_label,
                about,
                path,
                "network error" if status is None else status,
                attempt,
                attempts,
            )
            if status is not None and status != 429 and status < 500:
                break
        return status

    def _post(self, url: str, payload: dict[str, Any]) -> int | None:
        request = urllib.request.Request(  # noqa: S310 - the sandboxes accept http(s) URLs only
            url,
            data=json.dumps(payload).encode("utf-8"),
            method="POST",
            headers={"Content-Type": "application/json", "User-Agent": self.webhook_user_agent},
        )
        try:
            with _OPENER.open(request, timeout=self.webhook_timeout_seconds) as answer:
                answer.read(65536)
                return int(answer.status)
        except urllib.error.HTTPError as exc:
            exc.close()
            return int(exc.code)
        except (OSError, ValueError):
            return None
