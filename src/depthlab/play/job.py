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

import json
import threading
import time
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import torch

from depthlab import config as cfg
from depthlab.diagnose.watch import Watch
from depthlab.errors import DepthlabError
from depthlab.play import settings, verdicts, views
from depthlab.play.channels import Listeners, Requests
from depthlab.play.pacing import METRICS_EVERY_S, VERDICTS_EVERY_S, Pacer, StepRate
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


def join_encoded(head: dict[str, Any], encoded: dict[str, str]) -> str:
    """One JSON object of ``head``'s fields and the ``encoded`` ones (each value already JSON text).

    Why not one ``json.dumps`` of it all: each part is encoded once, when it changes, while the message goes
    out ~20 times a second; the decision boundary of a small net is ~190 kB of JSON, 7.6 ms to encode again.
    """
    fields = [json.dumps(head)[1:-1]] + [f"{json.dumps(key)}:{value}" for key, value in encoded.items()]
    return "{" + ",".join(fields) + "}"


class Job(Callback):
    """A training run the page drives: play / pause / step / stop, updates via ``subscribe``."""

    def __init__(self, job_id: str, setup: settings.Setup, paused: bool = False):
        self.id, self.setup = job_id, setup
        self.config = settings.train_config(setup)
        self.data = load_data(setup, self.config.seed)
        self.model_config = settings.model_config(setup, self.data)  # validates the model's keys now
        self.status, self.reason = "starting", ""
        self.viewers = 0
        self.seq, self.message = 0, "{}"
        self.model: torch.nn.Module | None = None
        self.watch: Watch | None = None
        self._paused, self._credits = paused, 0
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._requests = Requests(self._wake)
        self._listeners = Listeners()
        self._parts: dict[str, str] = {
            "layers": "null",
            "metrics": "null",
            "boundary": "null",
            "verdicts": "[]",
        }
        now = time.perf_counter()  # step 0 is recorded (on_train_start); the pacing counts from here
        self._pacer, self._rate = Pacer(now), StepRate(now)
        self._records, self.step = 0, 0
        self._loss: float | None = None  # the last recorded step's training loss (None until one is)
        self._recording = True
        self._timing = {"train_ms": 0.0, "stats_ms": 0.0, "views_ms": 0.0, "json_ms": 0.0}
        self._step_end = time.perf_counter()
        self.points = views.points_view(self.data)
        model_keys = set(cfg.field_types(type(self.model_config))) - {"input_shape", "num_classes"}
        self._remedy_keys = model_keys | set(cfg.field_types(type(self.config)))
        self.thread = threading.Thread(target=self._run, name=f"depthlab-play-{job_id}", daemon=True)
        self._emit()  # the first update a page gets: status "starting"

    # -- the outside: control, subscribe, requests -----------------------------------------------------------
    def start(self) -> None:
        self.thread.start()

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def finished(self) -> bool:
        """The thread has published its last update (a final status) and touches the model no more."""
        return self._requests.closed

    def control(self, action: str) -> None:
        """``play``, ``pause``, ``step`` (one step, then paused) or ``stop``."""
        if action == "play":
            self._paused = False
        elif action == "pause":
            self._paused = True
        elif action == "step":
            self._paused, self._credits = True, self._credits + 1
        elif action == "stop":
            self.stop("stopped from the page")
        else:
            raise DepthlabError(f"unknown action {action!r} (valid: pause, play, step, stop)")
        self._wake.set()

    def stop(self, reason: str) -> None:
        if not self._stop.is_set():
            self.reason = reason
        self._stop.set()
        self._wake.set()

    def subscribe(self, notify: Callable[[], None]) -> None:
        self._listeners.add(notify)

    def unsubscribe(self, notify: Callable[[], None]) -> None:
        self._listeners.remove(notify)

    def call(self, fn: Callable[[Job], Any], timeout: float = 30.0) -> Any:
        """Run ``fn(job)`` on the training thread between two steps (a consistent model); its value."""
        return self._requests.call(lambda: fn(self), timeout)

    # -- the worker thread -----------------------------------------------------------------------------------
    def _run(self) -> None:
        from depthlab.train.launch import build_and_fit

        try:
            keep = lambda model: setattr(self, "model", model)  # noqa: E731  (exports read it while it trains)
            _, history = build_and_fit(
                self.setup.model, self.data, self.config, self.setup.model_kw, callbacks=[self], prepare=keep
            )
            stopped = self._stop.is_set()
            final = "stopped" if stopped else ("diverged" if history.status == "diverged" else "done")
            self._finish(final, self.reason if stopped else f"{history.steps} steps")
        except DepthlabError as err:
            self._finish("error", str(err))
        except Exception as err:  # shown in the page as one line; the server goes on
            self._finish("error", f"{type(err).__name__}: {err}")

    def _finish(self, status: str, reason: str) -> None:
        self.status, self.reason = status, reason
        if self.watch is not None and self.model is not None:
            self._update_verdicts()
        self._emit()
        self._requests.close()

    # -- fit callbacks ---------------------------------------------------------------------------------------
    def on_train_start(self, state: TrainState) -> None:
        self.data = state.data  # on the training device
        self.watch = Watch(state.model)
        self.watch.on_train_start(state)
        self.status = "paused" if self._paused else "running"
        self._hold(state)

    def on_backward(self, state: TrainState) -> None:
        self.watch.on_backward(state)

    def on_step(self, state: TrainState) -> None:
        ended = time.perf_counter()
        self.step = state.step
        self.watch.on_step(state)
        if self._recording:
            self._timing["train_ms"] = 1000 * (ended - self._step_end)
            self._publish(state, time.time())
        self._requests.serve()
        if self._stop.is_set():
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
        if self._paused and not self._stop.is_set():
            self.status = "paused"
            self._emit()
        while self._paused and not self._stop.is_set():
            if self._credits > 0:
                self._credits -= 1
                return True
            self._wake.wait(0.1)
            self._wake.clear()
            self._requests.serve()
        if self._stop.is_set():
            state.stop = True
        elif self.status != "running":
            self.status = "running"
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
        self._parts["layers"] = json.dumps(views.layer_view(last, state.step), allow_nan=False)
        self._loss = views.short(state.loss_value)
        stats_done = time.perf_counter()
        self._rate.update(time.perf_counter(), state.step)
        self._refresh_views(state, stats_done)
        self._timing["stats_ms"] = 1000 * (stats_done - started)
        self._emit(stamp)

    def _refresh_views(self, state: TrainState, now: float) -> None:
        """Metrics and boundary every METRICS_EVERY_S, verdicts every VERDICTS_EVERY_S, but never more than
        VIEWS_SHARE of the time each: on a deep net an evaluation pass costs several training steps."""
        if self._due("metrics", now, METRICS_EVERY_S):
            metrics = views.metrics_view(state.model, self.data, state.step)
            self._parts["metrics"] = json.dumps(metrics, allow_nan=False)
            board = views.boundary_view(state.model, self.data, state.step)
            self._parts["boundary"] = json.dumps(board, allow_nan=False)
            self._pacer.view_ran("metrics", now)
        if self._due("verdicts", time.perf_counter(), VERDICTS_EVERY_S):
            started = time.perf_counter()
            self._update_verdicts()
            self._pacer.view_ran("verdicts", started)
        self._timing["views_ms"] = 1000 * (time.perf_counter() - now)

    def _due(self, view: str, now: float, every: float) -> bool:
        return self._paused or self._pacer.view_due(view, now, every)  # paused: each step shows everything

    def _update_verdicts(self) -> None:
        if len(self.watch.rows) < MIN_RECORDS_FOR_VERDICTS * len(self.watch.layers):
            return  # a fresh window: keep the last verdicts until this one has a few records
        model_config = cfg.as_dict(self.model_config)
        current = model_config | cfg.as_dict(self.config)
        found = verdicts.live_verdicts(self.watch, model_config, current, self._remedy_keys)
        self._parts["verdicts"] = json.dumps(found, allow_nan=False)

    def _emit(self, stamp: float | None = None) -> None:
        """Compose the update from its parts and wake the listeners (the newest update replaces the last)."""
        started = time.perf_counter()
        head = {
            "job": self.id,
            "seq": self.seq + 1,
            "t": round(1000 * (stamp or time.time()), 1),
            "step": self.step,
            "status": self.status,
            "reason": self.reason,
            "steps_per_s": round(self._rate.per_s, 1),
            "loss": self._loss,
            "timing": {k: round(v, 2) for k, v in self._timing.items()},
        }
        message = join_encoded(head, self._parts)
        self._timing["json_ms"] = 1000 * (time.perf_counter() - started)
        self.message, self.seq = message, self.seq + 1
        self._listeners.notify_all()

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
