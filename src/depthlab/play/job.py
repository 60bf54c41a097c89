"""One job of the play page: ``depthlab.train.fit`` on a worker thread, driven and watched by the page.

A job is four small objects: ``Controls`` (play / pause / step / stop, set from the server's threads),
``Requests`` (calls run on the training thread between two steps: exports), ``Recorder`` (fit's callback:
records paced steps, computes the views, holds while paused) and ``Publisher`` (the newest update as JSON,
and who to wake). The job itself builds the model, runs ``fit`` on its thread and reports how it ended.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import torch

from depthlab.diagnose.watch import Watch
from depthlab.errors import DepthlabError
from depthlab.play import sequence_view, settings, verdicts, views
from depthlab.play.channels import Controls, Requests
from depthlab.play.publisher import Publisher
from depthlab.play.recorder import Recorder

ACTIVE = ("starting", "running", "paused")


@lru_cache(maxsize=8)
def _cached_data(name: str, data_items: tuple, seed: int, user_data: settings.UserData | None):
    from depthlab.data import load_dataset

    if name == settings.USER_DATA:
        return user_data.load(seed)
    return load_dataset(name, seed=seed, **dict(data_items))


def load_data(setup: settings.Setup, seed: int):
    """The setup's data set (cached: compare mode and restarts reuse the same tensors; training never writes
    them)."""
    return _cached_data(setup.data, tuple(sorted(setup.data_kw.items())), seed, setup.user_data)


class Job:
    """A training run the page drives: play / pause / step / stop, updates via ``subscribe``."""

    def __init__(self, job_id: str, setup: settings.Setup, paused: bool = False):
        self.id, self.setup = job_id, setup
        self.config = settings.train_config(setup)
        self.data = load_data(setup, self.config.seed)
        self.model_config = settings.model_config(setup, self.data)  # validates the model's keys now
        self.points = views.points_view(self.data)
        self.sequence = sequence_view.task_view(self.data)
        self.viewers = 0  # event streams open on it (the manager counts them)
        self.model: torch.nn.Module | None = None
        self.controls = Controls(paused)
        self.requests = Requests(self.controls.wake)
        self.publisher = Publisher(job_id)
        doctor = verdicts.LiveDoctor(self.model_config, self.config)
        by_block = setup.model in settings.BLOCK_VIEW_MODELS
        self.recorder = Recorder(self.publisher, self.controls, self.requests, doctor, by_block)
        self.thread = threading.Thread(target=self._run, name=f"depthlab-play-{job_id}", daemon=True)
        self.publisher.emit()  # the first update a page gets: status "starting"

    # -- the outside: control, subscribe, requests -----------------------------------------------------------
    def start(self) -> None:
        self.thread.start()

    @property
    def status(self) -> str:
        return self.publisher.status

    @property
    def reason(self) -> str:
        return self.publisher.reason

    @property
    def step(self) -> int:
        return self.publisher.step

    @property
    def seq(self) -> int:
        return self.publisher.seq

    @property
    def message(self) -> str:
        """The newest update, one JSON object."""
        return self.publisher.message

    @property
    def watch(self) -> Watch | None:
        """The current window's watch (read it on the training thread: through ``call``)."""
        return self.recorder.watch

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def finished(self) -> bool:
        """The thread has published its last update (a final status) and touches the model no more."""
        return self.requests.closed

    def control(self, action: str) -> None:
        """``play``, ``pause``, ``step`` (one step, then paused) or ``stop``."""
        if action == "stop":
            self.stop("stopped from the page")
        else:
            self.controls.apply(action)

    def stop(self, reason: str) -> None:
        if not self.controls.stopping:
            self.publisher.reason = reason
        self.controls.stop()

    def subscribe(self, notify: Callable[[], None]) -> None:
        self.publisher.subscribe(notify)

    def unsubscribe(self, notify: Callable[[], None]) -> None:
        self.publisher.unsubscribe(notify)

    def call(self, fn: Callable[[Job], Any], timeout: float = 30.0) -> Any:
        """Run ``fn(job)`` on the training thread between two steps (a consistent model); its value."""
        return self.requests.call(lambda: fn(self), timeout)

    # -- the worker thread -----------------------------------------------------------------------------------
    def _run(self) -> None:
        from depthlab.train.launch import build_and_fit

        try:
            keep = lambda model: setattr(self, "model", model)  # noqa: E731  (exports read it while it trains)
            _, history = build_and_fit(
                self.setup.model,
                self.data,
                self.config,
                self.setup.model_kw,
                callbacks=[self.recorder],
                prepare=keep,
            )
            stopped = self.controls.stopping
            final = "stopped" if stopped else ("diverged" if history.status == "diverged" else "done")
            self._finish(final, self.reason if stopped else f"{history.steps} steps")
        except DepthlabError as err:
            self._finish("error", str(err))
        except Exception as err:  # shown in the page as one line; the server goes on
            self._finish("error", f"{type(err).__name__}: {err}")

    def _finish(self, status: str, reason: str) -> None:
        self.publisher.status, self.publisher.reason = status, reason
        self.recorder.refresh_verdicts()
        self.publisher.emit()
        self.requests.close()

    # -- what the page reads once ----------------------------------------------------------------------------
    def info(self) -> dict[str, Any]:
        """What the page needs once per job: the setup, its command line, the 2-D points or the sequence
        task."""
        return {
            "id": self.id,
            "model": self.setup.model,
            "data": self.setup.data,
            "values": self.setup.values,
            "command": self.setup.command(),
            "status": self.status,
            "reason": self.reason,
            "points": self.points,
            "sequence": self.sequence,
        }
