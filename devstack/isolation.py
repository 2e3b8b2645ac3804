"""Per-invocation state for a library that keeps the current request in process-wide state.

On Lambda an execution environment is a process that runs one invocation at a time, so a library may keep
the current request in a global. Powertools' event handler does: `resolve()` stores the event and the
Lambda context as class attributes of `BaseRouter`, which every resolver of the process reads back
(`app.current_event`). The local stack runs concurrent invocations of every function in one process, where
two requests would read each other's event (another caller, another session). `isolate_powertools_requests`
makes those two attributes context variables, and devstack.lambdas runs each invocation in a context of
its own. A local fix of the emulation, as `atomic_writes` is: on Lambda nothing is shared, and idgate's
code does not change.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

#: What `BaseRouter.resolve()` stores as class attributes for the request being handled.
_REQUEST_ATTRIBUTES = ("current_event", "lambda_context")


class ContextAttribute:
    """A class attribute whose value belongs to the current context: set in one, unseen in the others."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._value: ContextVar[Any] = ContextVar(f"devstack_{name}")

    def __get__(self, instance: object, owner: type | None = None) -> Any:
        try:
            return self._value.get()
        except LookupError:
            raise AttributeError(self._name) from None

    def __set__(self, instance: object, value: Any) -> None:
        self._value.set(value)


class _PerInvocationRouterType(type):
    """Marks a patched `BaseRouter` (its metaclass then holds the attributes too)."""


def isolate_powertools_requests() -> bool:
    """Makes Powertools' current request per context; False when Powertools is not installed."""
    try:
        from aws_lambda_powertools.event_handler.api_gateway import BaseRouter
    except ImportError:
        return False
    if isinstance(BaseRouter, _PerInvocationRouterType):
        return True
    attributes = {name: ContextAttribute(name) for name in _REQUEST_ATTRIBUTES}
    # Read through instances (`app.current_event`): a descriptor in the class...
    for name, attribute in attributes.items():
        setattr(BaseRouter, name, attribute)
    # ...and written through the class (`BaseRouter.current_event = ...`): a descriptor in its metaclass.
    metaclass = type(
        "PerInvocationRouterType", (_PerInvocationRouterType, type(BaseRouter)), dict(attributes)
    )
    setattr(BaseRouter, "__class__", metaclass)  # noqa: B010 - a class's class is set this way only
    return True
