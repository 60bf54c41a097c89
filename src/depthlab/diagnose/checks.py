"""The doctor's checks on a watch table: gradient flow, step size, dead and saturated units, divergence.

Every check reads the per-layer rows of ``watch`` and compares one number with a threshold in ``THRESHOLDS``;
docs/diagnose.md gives the ranges measured on healthy and sick nets that place each threshold.

- Gradient flow is judged by ``act_grad_rms``, the RMS of dLoss/dh at each weight layer's output h, from the
  first hidden layer to the last (the head excluded): the measure of Glorot & Bengio 2010 and He et al. 2015
  (arXiv 1502.01852), which unlike the weight-gradient norm does not depend on the layers' shapes. The ratio
  first/last is read at the first recorded step (at initialization, where the theory predicts it and where
  Adam has not yet rescaled the steps) and as the median over the recorded steps; vanishing is flagged when
  either is below ``vanishing_ratio``, exploding when either is above ``exploding_ratio``. Both checks judge
  these same two readings; when one is below and the other above (the flow swings from one side to the
  other), one PROBLEM line names the side of the first reading, which is the one to fix first, and the other
  check says so in a note. A ratio of exactly 0 is said to be an underflow (float32), not a missing number.
- Step size: the largest ||W_after - W_before|| / ||W_before|| of any layer over the recorded steps; a step
  that rewrites more than ``update_ratio`` of a layer is flagged with the exploding check (too large a
  learning rate: the step, not the gradient, blows up), as is any infinite gradient.
- Dead units and saturation: the worst layer at the last recorded step; divergence: weights or outputs that
  became NaN/inf (or the engine's ``diverged`` status).

On a transformer (``block_rows`` given) the gradient flow is read at the blocks' outputs instead, and the
transformer checks of ``checks_transformer.py`` are added.

``recorded_steps`` reads only the first and the last ``RECENT_STEPS`` recorded steps, so the checks cost the
same on a long live run as on a short one.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from depthlab.diagnose import remedies
from depthlab.diagnose.checks_transformer import (
    ENTROPY,
    RANK,
    TOP,
    block_flow_readings,
    block_steps,
    block_verdicts,
)
from depthlab.diagnose.verdict import NOTE, OK, PROBLEM, Verdict
from depthlab.errors import unknown

# measured ranges behind each threshold: docs/diagnose.md (MNIST-1D, 200 steps, two seeds per net)
THRESHOLDS = {
    "vanishing_ratio": 1e-2,  # healthy >= 0.1 at init, >= 0.5 as the median; vanishing <= 6e-4 at init
    "exploding_ratio": 1e2,  # healthy <= 24 at init; exploding >= 370 at init or >= 320 as the median
    "update_ratio": 0.5,  # healthy runs' largest step <= 0.21 of a layer; runs that die or diverge >= 0.56
    "dead_frac": 0.5,  # nets that train <= 0.5 (0.32 at depth 20); nets that died 1.0
    "saturated_frac": 0.5,  # healthy <= 0.01; saturated sigmoid/tanh nets 0.57-0.82
    # a transformer's per-block table (checks_transformer.py; measured ranges in docs/diagnose.md)
    "top_ratio": 0.6,  # post-LN at init (default init) 1.0-1.04; pre-LN of 6-24 blocks 0.16-0.54
    "entropy_fraction": 0.1,  # recall, AdamW: lr 1e-3 >= 0.73, lr 1e-2 0.39; lr 0.1 (never learns) 0.01
    "rank_ratio": 1e-2,  # attention only at init 6e-8 (recall), 5.7e-3 (chars, 12 blocks); skips >= 0.11
}
RECENT_STEPS = 50

VANISHING, EXPLODING = "vanishing gradients", "exploding gradients"
DEAD, SATURATION, DIVERGENCE = "dead units", "saturation", "divergence"
GENERIC = {
    VANISHING: "a ReLU-family activation, He init, normalization or skip connections",
    EXPLODING: "a smaller init (He or Xavier), normalization, skip connections, gradient clipping",
    "step": "a lower learning rate, warmup or gradient clipping",
    DEAD: "a lower learning rate, a leaky ReLU, He init or normalization",
    SATURATION: "a ReLU-family activation, Xavier init or normalization",
    DIVERGENCE: "a lower learning rate, warmup or gradient clipping",
}


def limits(thresholds: Mapping[str, float] | None) -> dict[str, float]:
    """The default thresholds updated by ``thresholds``; an unknown key is an error naming the valid ones."""
    for key in thresholds or {}:
        if key not in THRESHOLDS:
            raise unknown("threshold", key, THRESHOLDS)
    return THRESHOLDS | dict(thresholds or {})


def recorded_steps(rows: Sequence[dict], recent: int = RECENT_STEPS) -> list[list[dict]]:
    """The rows of the first recorded step and of the last ``recent`` ones, each in depth order."""
    if not rows:
        return []
    tail: dict[int, list[dict]] = {}
    for row in reversed(rows):
        if row["step"] not in tail and len(tail) == recent:
            break
        tail.setdefault(row["step"], []).append(row)
    steps = [tail[s] for s in sorted(tail)]
    if rows[0]["step"] not in tail:
        steps.insert(0, list(itertools.takewhile(lambda r: r["step"] == rows[0]["step"], rows)))
    return [sorted(step, key=lambda r: (r["depth"], r["layer"])) for step in steps]


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


@dataclass(frozen=True)
class Flow:
    """First/last hidden-layer ratio of dLoss/dh RMS: at the first recorded step and the median."""

    first: float
    first_step: int
    median: float
    steps: int
    first_layer: str
    last_layer: str
    unit: str = "hidden layer"  # or, on a transformer, "block's output"

    def text(self) -> str:
        return (
            f"dLoss/dh RMS of the first {self.unit} ({self.first_layer!r}) over the last "
            f"({self.last_layer!r}) is {ratio_text(self.first)} at step {self.first_step} and "
            f"{ratio_text(self.median, again=self.first == 0)} (median over {self.steps} recorded steps)"
        )


def ratio_text(ratio: float, again: bool = False) -> str:
    """A ratio in words; 0 means the first layer's dLoss/dh underflowed, not that nothing was measured."""
    if ratio != 0:
        return f"{ratio:.2g}"
    if again:
        return "0 (underflowed)"
    return "0 (dLoss/dh there underflowed to 0: below float32's smallest normal number, 1.2e-38)"


def swing(f: Flow, limit: Mapping[str, float]) -> str | None:
    """The check seen first when the first reading and the median fall on opposite sides of the thresholds."""
    low, high = limit["vanishing_ratio"], limit["exploding_ratio"]
    if f.first < low and f.median > high:
        return VANISHING
    if f.first > high and f.median < low:
        return EXPLODING
    return None


def swing_text(f: Flow, first: str) -> str:
    """One line for a flow that swings: fix the side seen first, since the later readings grow out of it."""
    later = EXPLODING if first == VANISHING else VANISHING
    when = "as initialized" if f.first_step == 0 else f"at step {f.first_step}"
    return (
        f"{f.text()}: the flow swings from {first.split()[0]} {when} to {later.split()[0]} later; fix the "
        f"{first} first: the first reading is what the activation, init and normalization set, and the later "
        "readings are training acting on it"
    )


def flow(steps: list[list[dict]]) -> Flow | None:
    """None when fewer than two hidden layers, or no step with a usable act_grad_rms."""
    ratios, names = [], ("", "")
    for layer_rows in steps:
        hidden = layer_rows[:-1]  # the head's dLoss/dlogits has another scale
        if len(hidden) < 2:
            continue
        a, b = hidden[0].get("act_grad_rms"), hidden[-1].get("act_grad_rms")
        if _finite(a) and _finite(b) and b > 0:
            ratios.append((layer_rows[0]["step"], a / b))
            names = (hidden[0]["name"], hidden[-1]["name"])
    if not ratios:
        return None
    return Flow(ratios[0][1], ratios[0][0], statistics.median(r for _, r in ratios), len(ratios), *names)


def block_flow(steps: list[list[dict]]) -> Flow | None:
    """A transformer's flow: dLoss/dh at the first block's output over the last block's."""
    readings = block_flow_readings(steps)
    return Flow(*readings, unit="block's output") if readings else None


def vanishing_verdict(f: Flow | None, limit: Mapping[str, float], config: Mapping | None) -> Verdict:
    if f is None:
        return Verdict(VANISHING, NOTE, "not judged: needs two hidden layers with act_grad_rms recorded")
    side = swing(f, limit)
    if side == VANISHING:
        return _problem(VANISHING, swing_text(f, VANISHING), remedies.vanishing(config), config)
    if side == EXPLODING:
        return Verdict(VANISHING, NOTE, f"{f.text()}: judged under {EXPLODING} (the flow swings both ways)")
    low = limit["vanishing_ratio"]
    text = f"{f.text()} (flagged below {low:g})"
    if min(f.first, f.median) >= low:
        return Verdict(VANISHING, OK, text)
    return _problem(VANISHING, text, remedies.vanishing(config), config)


def _largest_update(steps) -> tuple[float, int, str]:
    best = (math.nan, -1, "")
    for layer_rows in steps:
        for r in layer_rows:
            u = r.get("update_ratio")
            if r.get("weight_norm", 0) > 0 and _finite(u) and not u <= best[0]:
                best = (u, r["step"], r["name"])
    return best


def exploding_verdict(steps, f: Flow | None, limit: Mapping[str, float], config: Mapping | None) -> Verdict:
    update, update_step, update_layer = _largest_update(steps)
    infinite = [r["name"] for s in steps for r in s if r.get("grad_norm") == math.inf]
    high, step_limit = limit["exploding_ratio"], limit["update_ratio"]
    side = swing(f, limit) if f else None
    if side == VANISHING:
        parts = [f"{f.text()}: judged under {VANISHING} (the flow swings both ways)"]
    elif side == EXPLODING:
        parts = [swing_text(f, EXPLODING)]
    else:
        parts = [f"{f.text()} (flagged above {high:g})"] if f else []
    if _finite(update):
        parts.append(
            f"the largest step changed {update_layer!r} by {update:.2g} of its norm at step {update_step} "
            f"(flagged above {step_limit:g})"
        )
    if infinite:
        parts.append(f"infinite gradient norm in {infinite[0]!r}")
    if not parts:
        return Verdict(EXPLODING, NOTE, "not judged: no recorded step with gradients yet")
    text = "; ".join(parts)
    grows = f is not None and side != VANISHING and max(f.first, f.median) > high
    if grows or infinite:
        return _problem(EXPLODING, text, remedies.exploding_gradients(config), config)
    if _finite(update) and update > step_limit:
        return _problem(EXPLODING, text, remedies.smaller_steps(config), config, generic="step")
    return Verdict(EXPLODING, NOTE if side else OK, text)


def unit_verdicts(steps, limit: Mapping[str, float], config: Mapping | None) -> list[Verdict]:
    """Dead ReLU units and saturated sigmoid/tanh units, worst layer at the last recorded step."""
    last = steps[-1] if steps else []
    out = []
    for check, column, what, fix in (
        (DEAD, "dead_frac", "of units dead", remedies.dead_units),
        (SATURATION, "saturated_frac", "of values saturated", remedies.saturation),
    ):
        scored = [(r[column], r["name"]) for r in last if _finite(r.get(column))]
        if not scored:
            out.append(Verdict(check, OK, "no layer with this kind of activation module"))
            continue
        value, name = max(scored)
        text = (
            f"worst layer {name!r}: {value:.0%} {what} at step {last[0]['step']} "
            f"(flagged above {limit[column]:.0%})"
        )
        out.append(
            _problem(check, text, fix(config), config) if value > limit[column] else Verdict(check, OK, text)
        )
    return out


def divergence_verdict(
    steps, config: Mapping | None, status: str | None = None, diverged_step: int | None = None
) -> Verdict:
    """The loss became NaN/inf (the engine's status), or, from a watch alone, weights or outputs did."""
    if status == "diverged":
        return _problem(
            DIVERGENCE, f"loss became NaN/inf at step {diverged_step}", remedies.smaller_steps(config), config
        )
    for layer_rows in steps:
        # a NaN weight is what a NaN loss leaves after the step; a NaN output std may only mean "not measured"
        bad = [
            r["name"] for r in layer_rows if not _finite(r.get("weight_norm")) or r.get("out_std") == math.inf
        ]
        if bad:
            text = f"weights or outputs of {bad[0]!r} became NaN/inf at step {layer_rows[0]['step']}"
            return _problem(DIVERGENCE, text, remedies.smaller_steps(config), config)
    return Verdict(DIVERGENCE, OK, "loss stayed finite" if status else "weights and outputs stayed finite")


MODEL_DIALS = ("activation", "init", "norm", "residual")


def _problem(
    check: str, text: str, remedy: dict, config: Mapping | None, generic: str | None = None
) -> Verdict:
    if not remedy:
        hint = GENERIC[generic or check]
        has_dials = config is not None and (generic == "step" or any(k in config for k in MODEL_DIALS))
        text += f"; the usual remedies ({hint}) are already set" if has_dials else f"; try {hint}"
    return Verdict(check, PROBLEM, text, remedy)


def check_rows(
    rows: Sequence[dict],
    config: Mapping[str, Any] | None = None,
    thresholds: Mapping[str, float] | None = None,
    status: str | None = None,
    diverged_step: int | None = None,
    block_rows: Sequence[dict] | None = None,
) -> list[Verdict]:
    """Every check on a watch table (and, when given, the run's status); ``block_rows`` (a transformer's
    per-block table, ``Watch.block_rows``) adds the transformer checks and moves the gradient flow to the
    blocks' outputs. None: not a transformer."""
    limit = limits(thresholds)
    steps = recorded_steps(rows)
    if not steps and status != "diverged":  # a watch that has not finished a step yet
        checks = (VANISHING, EXPLODING, DEAD, SATURATION, DIVERGENCE)
        checks += (TOP, ENTROPY, RANK) if block_rows is not None else ()
        return [Verdict(c, NOTE, "not judged: no recorded step yet") for c in checks]
    per_block = block_steps(block_rows, RECENT_STEPS) if block_rows else []
    f = block_flow(per_block) if per_block else flow(steps)
    return [
        vanishing_verdict(f, limit, config),
        exploding_verdict(steps, f, limit, config),
        *unit_verdicts(steps, limit, config),
        divergence_verdict(steps, config, status, diverged_step),
        *(block_verdicts(per_block, limit, config) if block_rows is not None else []),
    ]
