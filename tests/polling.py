"""``wait_for``: poll a condition of a live job or server until it holds (tests of play's threads)."""

from __future__ import annotations

import time


def wait_for(predicate, timeout: float = 60.0) -> bool:
    """True once ``predicate()`` is; an AssertionError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    raise AssertionError("condition not reached in time")
