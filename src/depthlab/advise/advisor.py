"""``advise``: the depth to use for this data and latency budget, with an interval, from a fraction of a grid.

The method (docs/advise.md): latency per depth on this machine (depths over the budget are never trained);
cheap probes of gradient flow at init (untrainable depths dropped); successive halving over the remaining
depths, each rung cutting only the depths whose extrapolated interval is ruled out; one full-budget seed of
each survivor, which chooses the finalists; the finalists trained to a plateau with several seeds; the
recommendation is the shallowest depth within one standard error of the best (the one-SE rule).
A depth's seed 0 is one run through the rungs to the full budget, each piece continuing the last
(``advise.continued``), so its steps are paid once. Every finished piece is stored, so a killed advise
resumes without redoing it.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from torch import nn

from depthlab.advise.advice import Advice, Candidate
from depthlab.advise.baselines import LINEAR, TREES, Baseline, linear_run, trees_note, trees_run
from depthlab.advise.config import ACCURACY, AdviseConfig, metric_for, parse_budget
from depthlab.advise.continued import continued_run, finished_early
from depthlab.advise.degraded import degraded_by, remedy_for_degradation
from depthlab.advise.plan import (
    Plan,
    check_probe_budget,
    cut_reason,
    finalists,
    grid_steps,
    make_plan,
    rung_keep,
    steps_from_seconds,
    survivors,
)
from depthlab.advise.recommend import recommend
from depthlab.advise.runs import Ledger, latency_ms, measured, predict, probe, remedy_variants, train_run
from depthlab.data import Dataset, describe, load_dataset
from depthlab.errors import DepthlabError
from depthlab.models import builder_source_hash
from depthlab.study.spec import run_hash
from depthlab.train import TrainConfig
from depthlab.train.engine import resolve_config
from depthlab.train.launch import build_for


def advise(data: str, model: str = "mlp", **options: Any) -> Advice:
    """Advise a depth of ``model`` for ``data``; options as in :class:`AdviseConfig`. Writes ``advice.json``
    and ``advice.html`` into ``out`` and returns the :class:`Advice`."""
    from depthlab.advise.advice import write_outputs

    config = AdviseConfig(data=data, model=model, **options)
    advice = Advisor(config).run()
    write_outputs(advice, config.out)
    return advice


class Advisor:
    """One advice: the data, the model builder, the ledger of finished pieces, and the steps spent."""

    def __init__(self, config: AdviseConfig):
        self.config = config
        self.budget = parse_budget(config.budget)
        self.train_config: TrainConfig = resolve_config(None, config.train)  # bad train options fail here
        self.data = load_dataset(config.data, **config.data_options)
        self.metric = metric_for(self.data.task, self.data.meta)
        self.variants: dict[int, dict[str, Any]] = {}  # depth -> the remedy its probe chose
        self.build(config.depths[0])  # an unknown model or option fails before anything is stored
        self.steps_used = 0
        self.done: dict[
            str, dict
        ] = {}  # pieces already counted in this advice (a semifinal is a final's seed 0)
        self.pieces: dict[int, tuple[Path, dict]] = {}  # depth -> its seed 0's latest piece (folder, result)
        self.log: Callable[[str], None] = (lambda _: None) if config.quiet else print

    def keys(self, depth: int) -> dict[str, Any]:
        """The model options of ``depth``: the user's, and the remedy its probe chose (none: as given)."""
        return {**self.config.model_options, **self.variants.get(depth, {})}

    def build(self, depth: int) -> nn.Module:
        c = self.config
        return build_for(c.model, self.data, {**self.keys(depth), "depth": depth}, self.train_config.seed)

    def fields(self, depth: int, **fields: Any) -> dict[str, Any]:
        """A stored piece's fields: the depth, its variant when a remedy was chosen, and ``fields``."""
        variant = self.variants.get(depth)
        return {"depth": depth, **({"variant": variant} if variant else {}), **fields}

    def run(self) -> Advice:
        c = self.config
        for line in describe(self.data.meta):  # what was done to a user's file, before anything is planned
            self.log(line)
        ledger = Ledger(c.out, _context(c, self.data) | {"metric": self.metric.name})
        try:
            candidates = {d: Candidate(d) for d in c.depths}
            fast = self._latency(ledger, candidates)
            trainable = self._probes(ledger, candidates, fast)
            plan = self._plan(trainable, candidates)
            kept = self._halving(ledger, candidates, trainable, plan)
            self._finals(ledger, candidates, kept, plan)
            baselines = self._baselines(ledger, plan)
            resumed = ledger.reused
        finally:
            ledger.close()
        shutil.rmtree(Path(c.out) / "continued", ignore_errors=True)  # every piece is stored: none continues
        advice = recommend(
            c,
            list(candidates.values()),
            plan,
            self.steps_used,
            grid_steps(len(c.depths), c, plan.full_steps),
            resumed,
            self.metric,
            # one validation example's share of the accuracy; a regression's RMSE has no such step
            1.0 / max(1, len(self.data.y_val)) if self.metric is ACCURACY else 0.0,
            baselines,
        )
        advice.data = {"lines": describe(self.data.meta), "meta": self.data.meta}
        return advice

    # --- latency and probes ---------------------------------------------------------------------------------

    def _measure_latency(self, ledger: Ledger, candidate: Candidate) -> None:
        c, d = self.config, candidate.depth

        def measure():
            ms, form = latency_ms(self.build(d), self.data.input_shape, c.batch)
            return {"latency_ms": ms, "form": form}

        found = ledger.get_or_run("latency", self.fields(d, batch=c.batch), measure)
        candidate.latency_ms, candidate.latency_form = found["latency_ms"], found["form"]

    def _latency(self, ledger: Ledger, candidates: dict[int, Candidate]) -> list[int]:
        c = self.config
        for d in c.depths:
            self._measure_latency(ledger, candidates[d])
        if c.latency_ms is None:
            return list(c.depths)
        fast = [d for d in c.depths if candidates[d].latency_ms <= c.latency_ms]
        for d in set(c.depths) - set(fast):
            candidates[d].status = "over latency"
        if not fast:
            quickest = min(c.depths, key=lambda d: candidates[d].latency_ms)
            raise DepthlabError(
                f"latency budget {c.latency_ms:g} ms at batch {c.batch} is impossible here: the fastest "
                f"depth, {quickest}, takes {candidates[quickest].latency_ms:.3g} ms"
            )
        return fast

    def _probes(self, ledger: Ledger, candidates: dict[int, Candidate], depths: list[int]) -> list[int]:
        c = self.config
        check_probe_budget(self.budget, len(depths), c.probe_steps)
        for d in depths:
            found = self._probe(ledger, d)
            if not found["trainable"]:
                found = self._remedy(ledger, candidates[d], found)
            candidates[d].probe = found
            if not found["trainable"]:
                candidates[d].status = "untrainable"
                self.log(f"depth {d}: dropped by the probe: {found['reason']}")
        trainable = [
            d for d in depths if candidates[d].probe["trainable"] and candidates[d].status != "over latency"
        ]
        if not trainable:
            raise DepthlabError(
                f"no depth of {c.model!r} in {list(depths)} is trainable: see the probe reasons"
            )
        return trainable

    def _probe(self, ledger: Ledger, depth: int) -> dict[str, Any]:
        c = self.config

        def run_probe():
            return probe(self.build(depth), self.data, self.train_config, depth, c.probe_steps).to_dict()

        found = ledger.get_or_run("probe", self.fields(depth, steps=c.probe_steps), run_probe)
        self.steps_used += found["steps"]
        return found

    def _remedy(self, ledger: Ledger, candidate: Candidate, found: dict[str, Any]) -> dict[str, Any]:
        """The doctor's remedies for an untrainable depth, in order (BN, then residual + BN), unless the user
        fixed the variant: the first one the probe finds trainable becomes the depth's variant."""
        c, d = self.config, candidate.depth
        for name, keys in remedy_variants(c.model, c.model_options, d) if c.variants else []:
            self.variants[d] = keys
            tried = self._probe(ledger, d)
            if tried["trainable"]:
                candidate.variant, candidate.variant_options = name, keys
                candidate.variant_why = f"as given: {found['reason']}; {name} trains"
                self.log(f"depth {d}: {name} (as given, {found['reason']})")
                self._measure_latency(ledger, candidate)
                if c.latency_ms is not None and candidate.latency_ms > c.latency_ms:
                    candidate.status = "over latency"
                return tried
        self.variants.pop(d, None)
        return found

    def _plan(self, trainable: list[int], candidates: dict[int, Candidate]) -> Plan:
        budget, per_step = self.budget, 0.0
        if budget is not None and budget.unit == "seconds":
            spent = sum(
                candidates[d].probe["seconds_per_step"] * candidates[d].probe["steps"] for d in trainable
            )
            per_step = sum(candidates[d].probe["seconds_per_step"] for d in trainable) / len(trainable)
            steps = self.steps_used + steps_from_seconds(budget, per_step, spent)
        else:
            steps = budget.amount if budget is not None else None
        plan = make_plan(len(trainable), self.config, steps, self.steps_used, per_step)
        self.log(
            f"plan: {len(trainable)} depths, rungs {plan.rungs} steps, finalists at {plan.full_steps} steps"
        )
        return plan

    # --- halving and finals ---------------------------------------------------------------------------------

    def _run(self, ledger: Ledger, kind: str, depth: int, seed: int, train: dict, curve_every: int | None):
        c = self.config
        fields = self.fields(depth, seed=seed, train=train, curve_every=curve_every)
        key = repr((kind, sorted(fields.items())))
        if key not in self.done:
            self.done[key] = ledger.get_or_run(
                kind,
                fields,
                lambda: train_run(
                    c.model, self.keys(depth), self.data, depth, seed, train, curve_every, self.metric
                ),
            )
            self.steps_used += self.done[key]["steps"]
        return self.done[key]

    def _continued(self, ledger: Ledger, kind: str, depth: int, stop: int, plan: Plan, every: int | None):
        """Seed 0 of ``depth`` trained to ``stop``, continuing its latest piece; counts the steps it ran."""
        c, train = self.config, self._full_budget(plan)
        fields = self.fields(depth, seed=0, train=train, stop=stop, curve_every=every)
        key = repr((kind, sorted(fields.items())))
        if key in self.done:
            return self.done[key]
        chain = run_hash(ledger.spec("continued", **self.fields(depth, seed=0, train=train)))[:16]
        here = Path(c.out) / "continued" / chain / str(stop)
        earlier = self.pieces.get(depth)
        keys = self.keys(depth)
        result = ledger.get_or_run(
            kind,
            fields,
            lambda: continued_run(
                c.model, keys, self.data, depth, train, stop, here, earlier, every, self.metric
            ),
        )
        self.done[key], self.pieces[depth] = result, (here, result)
        self.steps_used += result["trained"]
        return result

    def _rung(self, ledger: Ledger, candidate: Candidate, steps: int, plan: Plan) -> None:
        """``candidate``'s run continued to the rung's ``steps``, and its prediction at the full budget (a run
        that already stopped on its plateau is measured: it is what the full budget gives)."""
        run = self._continued(ledger, "rung", candidate.depth, steps, plan, plan.curve_every)
        bounds = self.metric.bounds
        finished = finished_early(run)
        candidate.prediction = (measured if finished else predict)(run, plan.full_steps, bounds)
        candidate.rung_steps, candidate.rung_run = steps, run

    def _halving(self, ledger: Ledger, candidates: dict[int, Candidate], alive: list[int], plan: Plan):
        c = self.config
        for k, steps in enumerate(plan.rungs):
            for d in alive:
                self._rung(ledger, candidates[d], steps, plan)
            self._remedy_degraded(ledger, candidates, alive, steps, plan)
            predictions = {d: candidates[d].prediction for d in alive}
            kept = survivors(predictions, rung_keep(len(alive), c))
            for d in set(alive) - set(kept):
                candidates[d].status, candidates[d].pruned_at_step = "pruned", steps
                candidates[d].pruned = cut_reason(predictions, kept, d)
            self.log(f"rung {k + 1} at {steps} steps: kept {kept} of {alive}")
            alive = kept
        return alive

    def _remedy_degraded(self, ledger: Ledger, candidates: dict[int, Candidate], alive, steps, plan) -> None:
        """A depth that trains but is worse than a shallower one beyond the intervals, fitting its training
        data worse (``degraded.degraded_by``), gets the doctor's remedy for degradation, residual + BN, unless
        the user fixed the variant: its probe, then its own run to this rung, replace the plain ones."""
        c = self.config
        for d in alive:
            cand = candidates[d]
            found = degraded_by(d, {a: candidates[a] for a in alive}) if not cand.variant else None
            remedy = remedy_for_degradation(c.model, c.model_options, d) if found and c.variants else None
            if remedy is None:
                continue
            name, keys = remedy
            self.variants[d] = keys
            probed = self._probe(ledger, d)
            if not probed["trainable"]:
                self.variants.pop(d)
                continue
            cand.variant, cand.variant_options, cand.variant_why = name, keys, f"as given: {found}; {name}"
            self.log(f"depth {d}: {name} (as given, {found})")
            self.pieces.pop(d, None)  # the variant's run starts from step 0
            self._measure_latency(ledger, cand)
            for rung in plan.rungs[: plan.rungs.index(steps) + 1]:
                self._rung(ledger, cand, rung, plan)

    def _finals(self, ledger: Ledger, candidates: dict[int, Candidate], alive: list[int], plan: Plan):
        """The last rung's survivors once at the full budget (seed 0, to a plateau); the finalists chosen on
        those measured values get the other seeds. A depth cut here keeps its one measured value as its
        prediction (its interval widened by the seed spread, as any single-seed estimate) and its run."""
        c, train = self.config, self._full_budget(plan)
        first = {d: self._continued(ledger, "final", d, plan.full_steps, plan, None) for d in alive}
        one_seed = {d: measured(run, plan.full_steps, self.metric.bounds) for d, run in first.items()}
        chosen = finalists(one_seed, c.finalists) if len(alive) > c.finalists else alive
        for d in set(alive) - set(chosen):
            candidates[d].status, candidates[d].pruned_at_step = "pruned", plan.full_steps
            candidates[d].prediction, candidates[d].runs = one_seed[d], [first[d]]
            candidates[d].pruned = cut_reason(one_seed, chosen, d, finals=True)
        self.log(f"full budget, one seed: finalists {chosen} of {alive}")
        for d in chosen:
            candidates[d].status = "finalist"
            others = [self._run(ledger, "final", d, s, train, None) for s in range(1, c.seeds)]
            candidates[d].runs = [first[d], *others]
            self.log(f"depth {d}: {c.seeds} seeds trained to a plateau")

    def _full_budget(self, plan: Plan) -> dict[str, Any]:
        """The training options of a finalist's run: the full budget, stopped on a plateau."""
        c = self.config
        return {
            **c.train,
            "steps": plan.full_steps,
            "plateau_window": c.plateau_window,
            "plateau_tol": c.plateau_tol,
        }

    def _baselines(self, ledger: Ledger, plan: Plan) -> list[Baseline]:
        """Depth 0 (a linear model, trained by the engine as a finalist is) and gradient-boosted trees, on
        the same splits and seeds; their compute is reported apart from the depth search's."""
        c, m, train = self.config, self.metric, self._full_budget(plan)
        if not c.baselines:
            return []
        if self.data.tokens:  # a linear map or trees of raw token ids are no reference for a sequence model
            self.log("baselines: none for token ids (the linear and tree baselines read features)")
            return []
        linear, trees = Baseline(LINEAR), Baseline(TREES, note=trees_note(self.data))
        for s in range(c.seeds):
            fields = {"model": "linear", "seed": s, "train": train}
            linear.runs.append(
                ledger.get_or_run("baseline", fields, lambda s=s: linear_run(self.data, s, train, m))
            )
            if not trees.note:
                fields = {"model": "trees", "seed": s}
                trees.runs.append(
                    ledger.get_or_run("baseline", fields, lambda s=s: trees_run(self.data, s, m))
                )
        self.log(f"baselines: {LINEAR} and {TREES}, {c.seeds} seeds each")
        return [linear, trees]


def _context(config: AdviseConfig, data: Dataset) -> dict[str, Any]:
    """What every stored piece depends on besides its own fields (an edited data file or builder changes its
    hash, so its pieces are not reused)."""
    return {
        "data": {"name": config.data, **config.data_options, "sha256": data.meta.get("sha256")},
        "model": {"name": config.model, **config.model_options, "source": builder_source_hash(config.model)},
        "probe_train": {k: v for k, v in config.train.items()},
    }
