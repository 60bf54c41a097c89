"""What a study preset is: a claim, a declarative grid per size, and a verdict and plots computed from
results.

A preset's ``grid(size, data)`` returns plain run specs (see ``study.spec``); ``analyze(rows)`` turns the
stored numbers into a :class:`Finding`; ``plot(rows, figure)`` draws the evidence. ``rows`` are the grid tags
plus the stored status, metrics, diagnostics and history.

Verdicts follow docs/statistics.md: each claim is one or more ``depthlab.stats.Comparison`` constants stated
next to the preset's rule, judged on per-seed paired differences (:func:`per_seed` pairs runs by seed), and
combined into one of the three outcomes with ``stats.combine``; :func:`decide` does that and says which clause
decided. A Finding also carries how many of the runs it used trained to a plateau (``converged``).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from depthlab import stats
from depthlab.diagnose import degradation
from depthlab.diagnose.degradation import Readings
from depthlab.train.plateau import settled_step

SIZES = ("quick", "full")
Row = dict[str, Any]
Value = str | Callable[[Row], float]


@dataclass
class Finding:
    """A study's computed outcome: ``outcome`` (one of ``stats.OUTCOMES``), the sentence saying why, the
    judged clauses, key numbers, the depth it recommends (only when one stands out of the noise) and
    ``converged`` = (runs that reached a plateau, runs used)."""

    outcome: str
    verdict: str
    clauses: list[stats.Clause] = field(default_factory=list)
    numbers: dict[str, Any] = field(default_factory=dict)
    recommended_depth: int | None = None
    converged: tuple[int, int] | None = None
    recommendation: str = ""  # the sentence behind recommended_depth (e.g. its test accuracy)

    def __post_init__(self) -> None:
        if self.outcome not in stats.OUTCOMES:
            raise ValueError(f"outcome {self.outcome!r}: must be one of {stats.OUTCOMES}")

    @property
    def held(self) -> bool | None:
        """True / False / None for held / did not hold / inconclusive."""
        return {stats.HELD: True, stats.NOT_HELD: False}.get(self.outcome)

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "verdict": self.verdict,
            "clauses": [c.to_dict() for c in self.clauses],
            "recommended_depth": self.recommended_depth,
            "converged": list(self.converged) if self.converged else None,
        }


@dataclass(frozen=True)
class Study:
    """A preset: ``grid(size, data) -> specs``, ``analyze(rows) -> Finding``, ``plot(rows, figure)``."""

    name: str
    claim: str
    anchor: str
    grid: Callable[[str, str], list[dict[str, Any]]]
    analyze: Callable[[list[Row]], Finding]
    plot: Callable[[list[Row], Any], None]
    default_data: str = "mnist1d"
    # "image": needs (C, H, W) inputs; "scalar": its own 1-D task; "own": always its own data set
    data_kinds: tuple[str, ...] = ("any",)


# MNIST-1D is procedural: generate evaluation splits of thousands (SE of an accuracy ≈ 0.6-0.8 points instead
# of ≈ 2.4 with a few hundred), keeping the usual 3,600 training examples.
MNIST1D_EVAL = {"num_samples": 12_000, "train_split": 0.5, "val_fraction": 0.4}


def data_spec(name: str, train_size: int | None = None) -> dict[str, Any]:
    """The ``data`` section of a preset's specs: MNIST-1D with large validation and test splits (and its
    training split cut to ``train_size`` when the preset's regime needs it), any other data set, a user's
    own included, as it is."""
    if not name.startswith("mnist1d"):
        return {"name": name}
    return {"name": name, **MNIST1D_EVAL, **({"train_size": train_size} if train_size else {})}


def metric(row: Row, name: str) -> float:
    """A stored metric as a float; NaN when missing, failed or non-finite (diverged runs keep what they
    have)."""
    value = row.get(name)
    if value is None:
        value = (row.get("metrics") or {}).get(name)
    try:
        value = float(value)
    except (TypeError, ValueError):
        return math.nan
    return value if math.isfinite(value) else math.nan


def value_of(row: Row, value: Value) -> float:
    """``value`` of a row: a metric name or a function of the row."""
    return metric(row, value) if isinstance(value, str) else float(value(row))


def finished(rows: Iterable[Row]) -> list[Row]:
    """Rows of runs that produced a result (ok or diverged)."""
    return [r for r in rows if r.get("status") in ("ok", "diverged")]


def where(rows: Iterable[Row], **tags: Any) -> list[Row]:
    """Rows whose tags equal every given value."""
    return [r for r in rows if all(r.get(k) == v for k, v in tags.items())]


def per_seed(
    rows: Iterable[Row], value: Value, *, diverged: float = math.nan, **tags: Any
) -> dict[Any, float]:
    """``{seed: value}`` over the finished runs matching ``tags``, for pairing variants by seed.

    A diverged run counts as ``diverged`` (NaN by default: dropped from the pairs; a claim about training
    can instead count it as e.g. chance accuracy), never as the last number it happened to print.
    """
    out = {}
    for row in finished(where(rows, **tags)):
        out[row["seed"]] = diverged if row["status"] == "diverged" else value_of(row, value)
    return out


def seeds_of(rows: Iterable[Row], value: Value, **tags: Any) -> list[float]:
    """The finite per-seed values of one cell (the input of ``stats.one_se_rule`` and of plots)."""
    return [v for v in per_seed(rows, value, **tags).values() if math.isfinite(v)]


def converged(rows: Iterable[Row]) -> tuple[int, int] | None:
    """(runs that stopped on a plateau, finished runs that watched for one), from ``history.converged`` as
    the engine stored it; None when no run had the plateau rule on (a fixed budget, or no training)."""
    watched = [r for r in finished(rows) if (r.get("history") or {}).get("converged") is not None]
    return (sum(bool(r["history"]["converged"]) for r in watched), len(watched)) if watched else None


def settled(row: Row) -> bool:
    """Whether a run's training is over, by the lab's one convergence rule (``train.plateau.settled_step``):
    its plateau rule held, or it fits its training set."""
    history = {**(row.get("history") or {}), "final": {"train_acc": metric(row, "train_acc")}}
    return settled_step(history) is not None


def at_convergence(clause: stats.Clause, rows: Iterable[Row], doubtful: str = stats.HELD) -> stats.Clause:
    """A claim about what nets can fit is judged at convergence: a clause with outcome ``doubtful`` that
    rests on the given runs (only those its clause compares) while some ran out of budget before settling
    becomes inconclusive, saying how many."""
    used = [r for r in finished(rows) if r["status"] == "ok"]
    unsettled = [r for r in used if not settled(r)]
    if clause.outcome != doubtful or not unsettled:
        return clause
    return clause.overruled(
        stats.INCONCLUSIVE,
        f"{len(unsettled)} of the {len(used)} runs it compares ran out of budget before settling",
    )


def reading_at(row: Row, step: int, key: str = "trainset_acc") -> float:
    """A run's evaluation record ``key`` nearest ``step`` (NaN when it has none)."""
    return degradation.record_at((row.get("history") or {}).get("records") or [], step, key)


def budget_of(rows: Iterable[Row]) -> int:
    """The step budget the given runs trained for (the largest stored step count)."""
    return max(((r.get("history") or {}).get("steps") or 0 for r in rows), default=0)


def judge_degradation(
    comparison: stats.Comparison, rows: list[Row], shallow: dict, deep: dict
) -> stats.Clause:
    """``diagnose.degradation.judge`` on two cells (tags ``shallow``, ``deep``) of equal-budget runs."""
    return degradation.judge(comparison, twin_readings(rows, shallow, deep), budget_of(rows))


def twin_readings(rows: Iterable[Row], shallow: dict, deep: dict) -> dict[Any, Readings]:
    """Per seed, the training error (1 - accuracy, eval mode over the training split) of a shallower and a
    deeper cell at the middle (``trainset_acc`` record) and the end (final ``train_acc``) of their equal
    budget: the readings of ``diagnose.degradation.judge``."""
    rows = list(rows)
    a = {r["seed"]: r for r in finished(where(rows, **shallow)) if r["status"] == "ok"}
    b = {r["seed"]: r for r in finished(where(rows, **deep)) if r["status"] == "ok"}
    out = {}
    for seed in sorted(a.keys() & b.keys(), key=sort_key):
        mid = budget_of((a[seed], b[seed])) // degradation.K
        readings = [reading_at(a[seed], mid), metric(a[seed], "train_acc")]
        readings += [reading_at(b[seed], mid), metric(b[seed], "train_acc")]
        out[seed] = Readings(*(1 - v for v in readings))
    return out


def decide(
    clauses: Sequence[stats.Clause],
    rows: Iterable[Row],
    detail: str = "",
    **extra: Any,
) -> Finding:
    """The Finding of a claim made of ``clauses``: held only when every clause held; the sentence names the
    clause that decided, then ``detail`` (the measured numbers in words). ``extra`` goes to the Finding."""
    result = stats.combine(clauses)
    decider = stats.deciding(clauses)
    if result == stats.HELD:
        head = (
            f"held: all {len(clauses)} clauses held"
            if len(clauses) > 1
            else f"held: {clauses[0].comparison.name}"
        )
    elif decider is not None:
        head = f"{result}, decided by {decider.comparison.name}"
        if decider.reason:
            head += f" ({decider.reason})"
    else:
        head = result
    verdict = f"{head}. {detail}".strip() if detail else head
    return Finding(result, verdict, list(clauses), converged=converged(rows), **extra)


def mean(values: Iterable[float]) -> float:
    """Mean of the finite values; NaN when there are none."""
    good = [v for v in values if not math.isnan(v)]
    return sum(good) / len(good) if good else math.nan


def geo_mean(values: Iterable[float]) -> float:
    """Geometric mean of the positive finite values (ratios and gradient sizes live on a log scale)."""
    good = [v for v in values if v > 0 and math.isfinite(v)]
    return math.exp(sum(map(math.log, good)) / len(good)) if good else math.nan


def mean_by(rows: Iterable[Row], key: str, value: Value) -> dict[Any, float]:
    """Mean over seeds of ``value`` for each value of tag ``key`` (ok runs; diverged runs are shown, not
    averaged in), sorted."""
    groups: dict[Any, list[float]] = defaultdict(list)
    for row in finished(rows):
        if row["status"] == "ok":
            groups[row[key]].append(value_of(row, value))
    return {k: mean(groups[k]) for k in sorted(groups, key=sort_key)}


def sort_key(value: Any) -> tuple:
    """Numbers first in numeric order, then strings."""
    return (0, value, "") if isinstance(value, (int, float)) else (1, 0, str(value))


def pct(value: float) -> str:
    """0.934 -> '93.4%' (NaN -> 'n/a')."""
    return "n/a" if math.isnan(value) else f"{100 * value:.1f}%"


def sci(value: float) -> str:
    """A positive number in short scientific form, e.g. '3.2e-05'."""
    return "n/a" if math.isnan(value) else f"{value:.1e}"


def tags_of(rows: Iterable[Row], key: str) -> list[Any]:
    """Distinct values of tag ``key`` in sorted order."""
    return sorted({r[key] for r in rows if key in r}, key=sort_key)


def undecided(rows: list[Row], need: int = 2) -> Finding | None:
    """An inconclusive Finding saying there is not enough data, when fewer than ``need`` runs finished."""
    done = len(finished(rows))
    if done >= need:
        return None
    return Finding(
        stats.INCONCLUSIVE,
        f"only {done} of {len(rows)} runs finished; rerun the same command to complete them",
        converged=converged(rows),
    )
