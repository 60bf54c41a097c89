"""The play job's fit callback: it records paced steps with a watch, turns them into the page's views, serves
requests between steps, and holds while the page has paused the job.

Why callbacks and not a loop of our own: the engine stays the one that trains (same seeds, same numbers as
``depthlab train``). ``on_step`` is the one place the job acts: it publishes the watch rows of a recorded
step, answers requests (exports) between steps, holds while paused, and sets ``state.stop`` to end.

Which steps are recorded: ``watch`` costs a few forward hooks per layer on a recorded step, so the recorder
turns it on only for the next step once ``pacing.RECORD_EVERY_S`` has passed since the last record
(``Watch.attach`` / ``detach`` between steps): the page gets ~20 records a second whatever the step rate. A
new ``Watch`` starts every ``WINDOW`` records, so memory stays bounded and the doctor reads the recent window,
not all history.
"""

from __future__ import annotations

import time

from depthlab.diagnose.watch import Watch
from depthlab.play import blocks, sequence_view, views
from depthlab.play.channels import Controls, Requests
from depthlab.play.pacing import METRICS_EVERY_S, VERDICTS_EVERY_S, Pacer, StepRate
from depthlab.play.publisher import Publisher
from depthlab.play.verdicts import LiveDoctor
from depthlab.train.callbacks import Callback, TrainState

WINDOW = 300  # records per watch window
MIN_RECORDS_FOR_VERDICTS = 5


class Recorder(Callback):
    """Records paced steps and publishes what the page shows of them; obeys the page's controls."""

    def __init__(
        self,
        publisher: Publisher,
        controls: Controls,
        requests: Requests,
        doctor: LiveDoctor,
        by_block: bool = False,
    ):
        self.publisher, self.controls, self.requests, self.doctor = publisher, controls, requests, doctor
        self.by_block = by_block  # the layers view also carries the gradient RMS per block (``blocks.py``)
        self._sizes: dict[str, int] = {}  # weights per watched layer, for the block view
        self.data = None  # the run's data on the training device, from fit
        self.watch: Watch | None = None  # the current window's watch
        now = time.perf_counter()  # step 0 is recorded (on_train_start); the pacing counts from here
        self._pacer, self._rate = Pacer(now), StepRate(now)
        self._records = 0  # in the current window
        self._recording = True  # the step under way carries the watch's hooks
        self._step_end = now

    # -- fit callbacks ---------------------------------------------------------------------------------------
    def on_train_start(self, state: TrainState) -> None:
        self.data = state.data
        self.watch = Watch(state.model)
        self._sizes = blocks.weight_sizes(self.watch.layers) if self.by_block else {}
        self.watch.on_train_start(state)
        self.publisher.status = "paused" if self.controls.paused else "running"
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
        self.requests.serve()
        if self.controls.stopping:
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
        if self.controls.paused and not self.controls.stopping:
            self.publisher.status = "paused"
            self.publisher.emit()
        if self.controls.wait_while_paused(self.requests.serve):
            return True
        if self.controls.stopping:
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
        self.publisher.set_view("layers", self._layer_view(last, state.step))
        self.publisher.loss = views.short(state.loss_value)
        stats_done = time.perf_counter()
        self._rate.update(time.perf_counter(), state.step)
        self.publisher.steps_per_s = self._rate.per_s
        self._refresh_views(state, stats_done)
        self.publisher.timing["stats_ms"] = 1000 * (stats_done - started)
        self.publisher.emit(stamp)

    def _layer_view(self, rows: list[dict], step: int) -> dict:
        view = views.layer_view(rows, step)
        if self.by_block:
            view["blocks"] = blocks.block_view(rows, self._sizes)
        return view

    def _refresh_views(self, state: TrainState, now: float) -> None:
        """Metrics and boundary every METRICS_EVERY_S, verdicts every VERDICTS_EVERY_S, but never more than
        VIEWS_SHARE of the time each: on a deep net an evaluation pass costs several training steps."""
        if self._due("metrics", now, METRICS_EVERY_S):
            self.publisher.set_view("metrics", self._metrics_view(state))
            self.publisher.set_view("boundary", views.boundary_view(state.model, self.data, state.step))
            self._pacer.view_ran("metrics", now)
        if self._due("verdicts", time.perf_counter(), VERDICTS_EVERY_S):
            started = time.perf_counter()
            self.refresh_verdicts()
            self._pacer.view_ran("verdicts", started)
        self.publisher.timing["views_ms"] = 1000 * (time.perf_counter() - now)

    def _metrics_view(self, state: TrainState) -> dict:
        view = views.metrics_view(state.model, self.data, state.step)
        if self.data.tokens:  # what the page shows of a sequence task instead of a decision boundary
            view["examples"] = sequence_view.examples_view(state.model, self.data)
        return view

    def _due(self, view: str, now: float, every: float) -> bool:
        return self.controls.paused or self._pacer.view_due(view, now, every)  # paused: each step shows all

    def refresh_verdicts(self) -> None:
        """The doctor's checks on the current window (kept as they were while a fresh window has too few
        records, or before training started)."""
        if self.watch is None or len(self.watch.rows) < MIN_RECORDS_FOR_VERDICTS * len(self.watch.layers):
            return
        self.publisher.set_view("verdicts", self.doctor.verdicts(self.watch))
