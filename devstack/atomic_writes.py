"""A local fix of the emulator, not of idgate: DynamoDB applies a conditional write atomically, moto does
not. moto checks a write's condition and then applies it without a lock, so two concurrent conditional
writes of one item can both succeed (seen in 2 of 30 rounds of a race test). Here every write of moto's
DynamoDB backend takes one process-wide lock, so that a race test against the local stack shows what
DynamoDB would do. Reads take the lock too: DynamoDB answers a read with a whole version of each item,
while moto copies the item as a concurrent write changes it (seen as "dictionary changed size during
iteration" in a race test under load), an emulator failure DynamoDB never shows.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.responses import DynamoHandler

#: The backend methods that check a condition and then write.
WRITES = ("put_item", "update_item", "delete_item", "transact_write_items")
#: The backend methods that copy items out, which must not see one half written.
READS = ("get_item", "query", "scan", "batch_get_item", "transact_get_items")

_LOCK = threading.RLock()
_MARK = "_devstack_atomic"


def _atomic(write: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(write)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            return write(*args, **kwargs)

    setattr(locked, _MARK, True)
    return locked


def make_dynamodb_writes_atomic() -> None:
    """Makes every DynamoDB write and read of moto in this process atomic (idempotent)."""
    for name in WRITES + READS:
        write = getattr(DynamoDBBackend, name)
        if not getattr(write, _MARK, False):
            setattr(DynamoDBBackend, name, _atomic(write))
    # A whole request too: moto's response layer copies the item it is about to update outside the
    # backend's methods (DynamoHandler.update_item), so one request is one step, as on DynamoDB.
    action = DynamoHandler.call_action
    if not getattr(action, _MARK, False):
        DynamoHandler.call_action = _atomic(action)  # type: ignore[method-assign]
