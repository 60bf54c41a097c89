"""How other threads reach a play job's training thread: the page's play / pause / step / stop, listeners it
wakes on each update, and requests it serves between two steps."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from depthlab.errors import DepthlabError


class Controls:
    """Play / pause / step / stop as the page sets them; the training thread reads them between two steps."""

    def __init__(self, paused: bool) -> None:
        self.paused = paused
        self.wake = threading.Event()  # set on each change (and each request) so a paused thread looks again
        self._credits = 0  # single steps asked for while paused
        self._stop = threading.Event()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def apply(self, action: str) -> None:
        """``play``, ``pause`` or ``step`` (one step, then paused); ``stop`` goes through ``stop`` with its
        reason."""
        if action == "play":
            self.paused = False
        elif action == "pause":
            self.paused = True
        elif action == "step":
            self.paused, self._credits = True, self._credits + 1
        else:
            raise DepthlabError(f"unknown action {action!r} (valid: pause, play, step, stop)")
        self.wake.set()

    def stop(self) -> None:
        self._stop.set()
        self.wake.set()

    def wait_while_paused(self, serve: Callable[[], None]) -> bool:
        """Block while paused, running ``serve`` on each wake; True when a single step was asked for (it runs,
        then the job is paused again)."""
        while self.paused and not self.stopping:
            if self._credits > 0:
                self._credits -= 1
                return True
            self.wake.wait(0.1)
            self.wake.clear()
            serve()
        return False


class Listeners:
    """Callbacks woken on each update: the server's threads (un)subscribe while the job thread notifies."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._notifies: list[Callable[[], None]] = []

    def add(self, notify: Callable[[], None]) -> None:
        with self._lock:
            self._notifies.append(notify)

    def remove(self, notify: Callable[[], None]) -> None:
        with self._lock:
            if notify in self._notifies:
                self._notifies.remove(notify)

    def notify_all(self) -> None:
        with self._lock:
            notifies = list(self._notifies)
        for notify in notifies:  # outside the lock: a listener may unsubscribe from its own callback
            notify()


class Requests:
    """Calls from other threads, run on the training thread between two steps (so they see a consistent
    model); once that thread has closed this, on the caller's thread (nothing else touches the model then)."""

    def __init__(self, wake: threading.Event) -> None:
        self._wake = wake  # the training thread waits on it while paused
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def call(self, fn: Callable[[], Any], timeout: float) -> Any:
        """``fn()`` on the training thread (or here, once closed); its value."""
        future: Future = Future()
        with self._lock:  # a request queued before close is served by close; none can slip in after it
            closed = self._closed
            if not closed:
                self._queue.put((fn, future))
        if closed:
            _execute(fn, future)
        else:
            self._wake.set()
        return future.result(timeout)

    def serve(self) -> None:
        """Run every queued request (called by the training thread)."""
        while True:
            try:
                fn, future = self._queue.get_nowait()
            except queue.Empty:
                return
            _execute(fn, future)

    def close(self) -> None:
        """The training thread is done: serve what is queued; later calls run on their caller's thread."""
        with self._lock:
            self._closed = True
        self.serve()


def _execute(fn: Callable[[], Any], future: Future) -> None:
    if not future.set_running_or_notify_cancel():
        return
    try:
        future.set_result(fn())
    except Exception as err:  # handed to the caller, who reports it
        future.set_exception(err)
