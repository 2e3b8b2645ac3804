"""Idempotency keys in memory, for fast tests of the use cases; tests/unit/test_idempotency.py holds it to
the same behaviour as idgate.idempotency.TableIdempotencyKeys."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime

from idgate.idempotency import KEY_LIFETIME, STALE_CLAIM, Earlier, in_use, record_key, reused


@dataclass
class _Record:
    fingerprint: str
    claimed_at: datetime
    earlier: Earlier | None = None


class InMemoryIdempotencyKeys:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: dict[str, _Record] = {}

    def claim(self, client_id: str, key: str, fingerprint: str, *, now: datetime) -> Earlier | None:
        pk = record_key(client_id, key)
        with self._lock:
            record = self._records.get(pk)
            free = (
                record is None
                or record.claimed_at + KEY_LIFETIME < now
                or (record.earlier is None and record.claimed_at < now - STALE_CLAIM
                    and record.fingerprint == fingerprint)
            )  # fmt: skip
            if free:
                self._records[pk] = _Record(fingerprint, now)
                return None
            assert record is not None
            if record.fingerprint != fingerprint:
                raise reused()
            if record.earlier is None:
                raise in_use()
            return record.earlier

    def complete(self, client_id: str, key: str, earlier: Earlier, *, now: datetime) -> None:
        with self._lock:
            self._records[record_key(client_id, key)].earlier = earlier

    def release(self, client_id: str, key: str) -> None:
        with self._lock:
            record = self._records.get(record_key(client_id, key))
            if record is not None and record.earlier is None:
                del self._records[record_key(client_id, key)]
