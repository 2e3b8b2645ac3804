"""`make run` stops on Ctrl-C and SIGTERM, every time, within a few seconds: however many signals arrive, and
wherever its main thread is when they do."""

from __future__ import annotations

import signal
import subprocess
import time

import pytest

from tests.e2e.stack import running_stack

pytestmark = pytest.mark.e2e

#: How long the stack may take to stop once signalled.
STOP_SECONDS = 10
#: How long the signals keep coming: each one interrupts the main thread wherever it is (a lone signal
#: mostly finds it asleep, where even the old handler was safe; a stream also finds it between two steps).
BURST_SECONDS = 0.5


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_the_local_stack_stops_however_many_times_it_is_signalled(signum: signal.Signals) -> None:
    # Given the local stack, serving
    with running_stack() as stack:
        # When it is signalled again and again
        sent = 0
        until = time.monotonic() + BURST_SECONDS
        while time.monotonic() < until and stack.process.poll() is None:
            stack.process.send_signal(signum)
            sent += 1
        # Then it stops within a few seconds, having stopped everything it started
        try:
            code = stack.process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            code = None
        output = stack.output()
        assert code is not None, f"not stopped {STOP_SECONDS} s after {sent} signals:\n{output[-3000:]}"
        assert "\nstopped\n" in output, output[-3000:]
        # (0, or the signal itself: once main() has returned, Python's exit restores the default handlers)
        assert code in (0, -signum)


def test_the_local_stack_stops_on_one_signal() -> None:
    # Given the local stack, serving
    with running_stack() as stack:
        # When it is asked once to stop
        stack.process.send_signal(signal.SIGTERM)
        # Then it stops within a few seconds, cleanly
        assert stack.process.wait(STOP_SECONDS) == 0
        assert "\nstopped\n" in stack.output()
