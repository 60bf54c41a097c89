"""The doctor's checks on a transformer's per-block table (``watch_blocks.py``).

- Gradient flow: on a transformer the vanishing/exploding checks read dLoss/dh at the first block's output
  over the last block's (``block_flow_readings``), the residual stream the blocks share, not the weight
  layers'.
- Gradients at the top (``top_verdict``): the last block's dLoss/dh over the first block's. Xiong et al. 2020
  (arXiv 2002.04745) show that at init a post-LN stack's gradient near the output is not damped, while a
  pre-LN stack's shrinks as 1/sqrt(depth); that large top gradient is why post-LN needs a learning-rate
  warm-up. Measured, post-LN reads about 1 and pre-LN at most 0.54 (docs/diagnose.md).
  Remedies: pre-LN, warm-up, DeepNorm (Wang et al. 2022, arXiv 2203.00555).
- Attention entropy collapse (``entropy_verdict``): the lowest mean attention entropy of any block, as a
  fraction of uniform attention's, over the recorded steps (Zhai et al. 2023, arXiv 2303.06296). Their cure,
  sigmaReparam, is not one of the model's dials; a lower learning rate and a warm-up are.
- Rank collapse (``rank_verdict``): the tokens' relative residual leaving the last block over entering the
  first (Dong et al. 2021, arXiv 2103.03404); the cure is skip connections, and MLPs slow it down.

The thresholds are in ``checks.THRESHOLDS``, with the measured ranges behind them in docs/diagnose.md.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from depthlab.diagnose import remedies
from depthlab.diagnose.verdict import NOTE, OK, PROBLEM, Verdict, format_value

TOP, ENTROPY, RANK = "gradients at the top", "attention entropy collapse", "rank collapse"
# the smallest post-LN stacks that needed a warm-up in Xiong et al. and Liu et al. (2020, arXiv 2004.08249)
POST_LN_MIN_BLOCKS = 6
NOT_RECORDED = "not judged: no recorded step with the per-block table yet"


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def block_steps(block_rows: Sequence[dict], recent: int) -> list[list[dict]]:
    """The per-block rows of the first recorded step and of the last ``recent`` ones, each in block order."""
    by_step: dict[int, list[dict]] = {}
    for row in block_rows:
        by_step.setdefault(row["step"], []).append(row)
    steps = sorted(by_step)
    keep = steps[:1] + [s for s in steps[-recent:] if s != steps[0]]
    return [sorted(by_step[s], key=lambda r: r["block"]) for s in keep]


def _ratios(steps: list[list[dict]], top_over_bottom: bool) -> list[tuple[int, float]]:
    """(step, first block's grad_rms over the last's, or its inverse) for each step where both are usable."""
    out = []
    for rows in steps:
        if len(rows) < 2:
            continue
        first, last = rows[0]["grad_rms"], rows[-1]["grad_rms"]
        if _finite(first) and _finite(last) and first > 0 and last > 0:
            out.append((rows[0]["step"], last / first if top_over_bottom else first / last))
    return out


def block_flow_readings(steps: list[list[dict]]) -> tuple | None:
    """``checks.Flow``'s fields for dLoss/dh at the first block's output over the last block's: the ratio at
    the first usable step, that step, the median, the steps read and the two names; None with fewer than two
    blocks or no gradient recorded."""
    ratios = _ratios(steps, top_over_bottom=False)
    if not ratios:
        return None
    median = statistics.median(r for _, r in ratios)
    return ratios[0][1], ratios[0][0], median, len(ratios), steps[0][0]["name"], steps[0][-1]["name"]


def _also(config: Mapping | None, choices: Sequence[Mapping[str, Any]], chosen: Mapping[str, Any]) -> str:
    """The other alternatives the run does not already have, as ``; other remedies: k=v, k=v``."""
    others = [remedies.pick(config, [c]) for c in choices]
    words = [" ".join(f"{k}={format_value(v)}" for k, v in o.items()) for o in others if o and o != chosen]
    return f"; other remedies: {', '.join(dict.fromkeys(words))}" if words else ""


def _problem(check: str, text: str, config: Mapping | None, choices, words: str) -> Verdict:
    """A PROBLEM whose remedy is the first of ``choices`` the run does not have, naming the others; in
    ``words`` when the model's dials are unknown or every choice is already set."""
    remedy = remedies.pick(config, choices)
    if remedy:
        return Verdict(check, PROBLEM, text + _also(config, choices, remedy), remedy)
    tail = f"; the usual remedies ({words}) are already set" if config is not None else f"; try {words}"
    return Verdict(check, PROBLEM, text + tail)


def top_verdict(steps: list[list[dict]], limit: Mapping[str, float], config: Mapping | None) -> Verdict:
    """A post-LN stack's last-block dLoss/dh over its first block's at the first recorded step: about 1 there,
    where a pre-LN stack damps its top (Xiong et al.); judged on post-LN stacks of ``POST_LN_MIN_BLOCKS``."""
    ratios = _ratios(steps, top_over_bottom=True)
    if not ratios:
        return Verdict(TOP, NOTE, "not judged: needs two blocks with dLoss/dh recorded")
    step, ratio = ratios[0]
    position, blocks = steps[0][0].get("norm_position"), len(steps[0])
    text = (
        f"dLoss/dh RMS at the last block's output ({steps[0][-1]['name']!r}) over the first's "
        f"({steps[0][0]['name']!r}) is {ratio:.2g} at step {step}"
    )
    if position != "post":
        return Verdict(TOP, OK, f"{text}; judged on post-LN stacks only (this one is {position})")
    if blocks < POST_LN_MIN_BLOCKS:
        return Verdict(
            TOP, OK, f"{text}; a post-LN stack of {blocks} blocks (judged from {POST_LN_MIN_BLOCKS})"
        )
    high = limit["top_ratio"]
    text += f" in a post-LN stack of {blocks} blocks (flagged above {high:g})"
    if ratio <= high:
        return Verdict(TOP, OK, text)
    text += ": the top's gradient is not damped as a pre-LN stack's is, so an early large step hits it"
    return _problem(TOP, text, config, remedies.TOP_HEAVY, remedies.TOP_HEAVY_WORDS)


def entropy_verdict(steps: list[list[dict]], limit: Mapping[str, float], config: Mapping | None) -> Verdict:
    """The lowest attention entropy of any block over the recorded steps, as a fraction of uniform's."""
    seen = [
        (r["attn_entropy"] / r["attn_entropy_uniform"], r["step"], r["name"])
        for rows in steps
        for r in rows
        if _finite(r.get("attn_entropy"))
        and _finite(r.get("attn_entropy_uniform"))
        and r["attn_entropy_uniform"] > 0
    ]
    if not seen:
        return Verdict(ENTROPY, NOTE, "not judged: no attention recorded")
    fraction, step, name = min(seen)
    low = limit["entropy_fraction"]
    text = (
        f"lowest attention entropy: {fraction:.2g} of uniform attention's in {name!r} at step {step} "
        f"(flagged below {low:g})"
    )
    if fraction >= low:
        return Verdict(ENTROPY, OK, text)
    text += "; sigmaReparam (Zhai et al. 2023) is not one of the model's dials"
    return _problem(ENTROPY, text, config, remedies.entropy_collapse(config), remedies.ENTROPY_WORDS)


def rank_verdict(steps: list[list[dict]], limit: Mapping[str, float], config: Mapping | None) -> Verdict:
    """The tokens' relative residual leaving the last block over entering the first, at the first recorded
    step and the last: the larger of the two is judged (a collapse that training undid is no problem)."""
    readings = []
    for rows in (steps[0], steps[-1]):
        entering, leaving = rows[0].get("residual_in"), rows[-1].get("residual_out")
        if _finite(entering) and _finite(leaving) and entering > 0:
            readings.append((leaving / entering, rows[0]["step"]))
    if not readings:
        return Verdict(RANK, NOTE, "not judged: no token representations recorded")
    low = limit["rank_ratio"]
    words = " and ".join(f"{ratio:.2g} at step {step}" for ratio, step in dict.fromkeys(readings))
    text = (
        f"the tokens' distance from rank one leaving the last block over entering the first is {words} "
        f"(flagged below {low:g})"
    )
    if max(r for r, _ in readings) >= low:
        return Verdict(RANK, OK, text)
    return _problem(RANK, text, config, remedies.RANK_COLLAPSE, remedies.RANK_WORDS)


def block_verdicts(
    steps: list[list[dict]], limit: Mapping[str, float], config: Mapping | None
) -> list[Verdict]:
    """The transformer checks on the per-block table's recorded steps (``block_steps``)."""
    if not steps:
        return [Verdict(c, NOTE, NOT_RECORDED) for c in (TOP, ENTROPY, RANK)]
    return [
        top_verdict(steps, limit, config),
        entropy_verdict(steps, limit, config),
        rank_verdict(steps, limit, config),
    ]
