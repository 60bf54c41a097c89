"""One training job of the play page: ``depthlab.train.fit`` on a worker thread, paced and observed from fit's
own callbacks, publishing coalesced updates for the page.

Why callbacks and not a loop of our own: the engine stays the one that trains (same seeds, same numbers as
``depthlab train``). ``on_step`` is the one place the job acts: it reads the watch rows of a recorded step and
publishes them, answers requests (exports) between steps, holds while paused, and sets ``state.stop`` to end.

Which steps are recorded: ``watch`` costs a few forward hooks per layer on a recorded step, so the job turns
it on only for the next step once ``pacing.RECORD_EVERY_S`` has passed since the last record
(``Watch.attach`` / ``detach`` between steps): the page gets ~25 records a second whatever the step rate. A
new ``Watch`` starts every ``WINDOW`` records, so memory stays bounded and the doctor reads the recent window,
not all history.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import torch

from depthlab.diagnose.watch import Watch
from depthlab.errors import DepthlabError
from depthlab.play import settings, verdicts, views
from depthlab.play.channels import Controls, Requests
from depthlab.play.pacing import METRICS_EVERY_S, VERDICTS_EVERY_S, Pacer, StepRate
from depthlab.play.publisher import Publisher
from depthlab.train.callbacks import Callback, TrainState

WINDOW = 300  # records per watch window
MIN_RECORDS_FOR_VERDICTS = 5
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


class Job(Callback):
    """A training run the page drives: play / pause / step / stop, updates via ``subscribe``."""

    def __init__(self, job_id: str, setup: settings.Setup, paused: bool = False):
        self.id, self.setup = job_id, setup
        self.config = settings.train_config(setup)
        self.data = load_data(setup, self.config.seed)
        self.model_config = settings.model_config(setup, self.data)  # validates the model's keys now
        self.viewers = 0
        self.model: torch.nn.Module | None = None
        self.watch: Watch | None = None
        self._controls = Controls(paused)
        self._requests = Requests(self._controls.wake)
        self.publisher = Publisher(job_id)
        now = time.perf_counter()  # step 0 is recorded (on_train_start); the pacing counts from here
        self._pacer, self._rate = Pacer(now), StepRate(now)
        self._records = 0
        self._recording = True
        self._step_end = time.perf_counter()
        self.points = views.points_view(self.data)
        self._doctor = verdicts.LiveDoctor(self.model_config, self.config)
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
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def finished(self) -> bool:
        """The thread has published its last update (a final status) and touches the model no more."""
        return self._requests.closed

    def control(self, action: str) -> None:
        """``play``, ``pause``, ``step`` (one step, then paused) or ``stop``."""
        if action == "stop":
            self.stop("stopped from the page")
        else:
            self._controls.apply(action)

    def stop(self, reason: str) -> None:
        if not self._controls.stopping:
            self.publisher.reason = reason
        self._controls.stop()

    def subscribe(self, notify: Callable[[], None]) -> None:
        self.publisher.subscribe(notify)

    def unsubscribe(self, notify: Callable[[], None]) -> None:
        self.publisher.unsubscribe(notify)

    def call(self, fn: Callable[[Job], Any], timeout: float = 30.0) -> Any:
        """Run ``fn(job)`` on the training thread between two steps (a consistent model); its value."""
        return self._requests.call(lambda: fn(self), timeout)

    # -- the worker thread -----------------------------------------------------------------------------------
    def _run(self) -> None:
        from depthlab.models import create_model
        from depthlab.train import fit

        try:
            torch.manual_seed(self.config.seed)  # the model's init follows the run's seed, as in the CLI
            kwargs = self.data.model_kwargs() | self.setup.model_kw
            self.model = create_model(self.setup.model, **kwargs)
            history = fit(self.model, self.data, self.config, callbacks=[self])
            stopped = self._controls.stopping
            final = "stopped" if stopped else ("diverged" if history.status == "diverged" else "done")
            self._finish(final, self.reason if stopped else f"{history.steps} steps")
        except DepthlabError as err:
            self._finish("error", str(err))
        except Exception as err:  # shown in the page as one line; the server goes on
            self._finish("error", f"{type(err).__name__}: {err}")

    def _finish(self, status: str, reason: str) -> None:
        self.publisher.status, self.publisher.reason = status, reason
        if self.watch is not None and self.model is not None:
            self._update_verdicts()
        self.publisher.emit()
        self._requests.close()

    # -- fit callbacks ---------------------------------------------------------------------------------------
    def on_train_start(self, state: TrainState) -> None:
        self.data = state.data  # on the training device
        self.watch = Watch(state.model)
        self.watch.on_train_start(state)
        self.publisher.status = "paused" if self._controls.paused else "running"
        self._hold(state)

    def on_backward(self, state: TrainState) -> None:
        self.watch.on_backward(state)

    def on_step(self, state: TrainState) -> None:
        ended = time.perf_counter()
        self.publisher.step = state.step
        self.watch.on_step(state)
        if self._recording:
            self.publisher.timing["train_ms"] = 1000 * (ended - self._step_end)
            self._publish(state, time.time())
        self._requests.serve()
        if self._controls.stopping:
            state.stop = True
            return
        forced = self._hold(state)
        self._plan_next(state, forced)
        self._step_end = time.perf_counter()

    def on_train_end(self, state: TrainState) -> None:
        self.watch.on_train_end(state)

    # -- pacing ----------------------------------------------------------------------------------------------
    def _hold(self, state: TrainState) -> bool:
        """Wait while paused; True when a single step was requested (that step is recorded)."""
        if self._controls.paused and not self._controls.stopping:
            self.publisher.status = "paused"
            self.publisher.emit()
        if self._controls.wait_while_paused(self._requests.serve):
            return True
        if self._controls.stopping:
            state.stop = True
        elif self.publisher.status != "running":
            self.publisher.status = "running"
            self._rate.restart(time.perf_counter(), state.step)
        return False

    def _plan_next(self, state: TrainState, forced: bool) -> None:
        """Record the next step when it is time (or forced); start a fresh watch every WINDOW records."""
        now = time.perf_counter()
        want = forced or self._pacer.record_due(now)
        if want and self._records >= WINDOW:
            self.watch.detach()
            self.watch = Watch(state.model)
            self.watch.step_count = state.step
            self.watch.on_train_start(state)
            self._records = 0
        elif want:
            self.watch.attach()
        else:
            self.watch.detach()
        self._recording = want
        if want:
            self._pacer.recorded(now)

    # -- what is published -----------------------------------------------------------------------------------
    def _publish(self, state: TrainState, stamp: float) -> None:
        started = time.perf_counter()
        rows = self.watch.rows
        last = [r for r in rows[-len(self.watch.layers) :] if r["step"] == state.step - 1]
        self._records += 1
        self.publisher.views["layers"] = views.layer_view(last, state.step)
        self.publisher.loss = views.short(state.loss_value)
        stats_done = time.perf_counter()
        self._rate.update(time.perf_counter(), state.step)
        self.publisher.steps_per_s = self._rate.per_s
        self._refresh_views(state, stats_done)
        self.publisher.timing["stats_ms"] = 1000 * (stats_done - started)
        self.publisher.emit(stamp)

    def _refresh_views(self, state: TrainState, now: float) -> None:
        """Metrics and boundary every METRICS_EVERY_S, verdicts every VERDICTS_EVERY_S, but never more than
        VIEWS_SHARE of the time each: on a deep net an evaluation pass costs several training steps."""
        if self._due("metrics", now, METRICS_EVERY_S):
            self.publisher.views["metrics"] = views.metrics_view(state.model, self.data, state.step)
            self.publisher.views["boundary"] = views.boundary_view(state.model, self.data, state.step)
            self._pacer.view_ran("metrics", now)
        if self._due("verdicts", time.perf_counter(), VERDICTS_EVERY_S):
            started = time.perf_counter()
            self._update_verdicts()
            self._pacer.view_ran("verdicts", started)
        self.publisher.timing["views_ms"] = 1000 * (time.perf_counter() - now)

    def _due(self, view: str, now: float, every: float) -> bool:
        return self._controls.paused or self._pacer.view_due(
            view, now, every
        )  # paused: each step shows everything

    def _update_verdicts(self) -> None:
        if len(self.watch.rows) < MIN_RECORDS_FOR_VERDICTS * len(self.watch.layers):
            return  # a fresh window: keep the last verdicts until this one has a few records
        self.publisher.views["verdicts"] = self._doctor.verdicts(self.watch)

    # -- what the page reads once ----------------------------------------------------------------------------
    def info(self) -> dict[str, Any]:
        """What the page needs once per job: the setup, its command line, the 2-D points."""
        return {
            "id": self.id,
            "model": self.setup.model,
            "data": self.setup.data,
            "values": self.setup.values,
            "command": self.setup.command(),
            "status": self.status,
            "reason": self.reason,
            "points": self.points,
        }
