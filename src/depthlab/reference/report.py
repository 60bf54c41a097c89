"""Plain-text reports of reference runs: loss-curve summary, per-layer gradient flow, example sweeps.

Gradient flow is judged as the doctor and the gradients study judge it: by the RMS of dL/dh at each Dense
layer's output h, first hidden layer over last hidden layer (the head left out), at the first step, against
the doctor's thresholds (Glorot & Bengio 2010; He et al. 2015, arXiv 1502.01852). The weight-gradient norms
‖dL/dW‖ are printed too, but not judged: they scale with each layer's shape and input, so a first/last ratio
of them compares different things (a BatchNorm XOR net whose dL/dh ratio is 0.1 has a weight-gradient ratio
of 6e-4).
"""

from __future__ import annotations

import numpy as np

from depthlab.reference.examples import ExampleResult, steps_to
from depthlab.reference.network import TrainResult

# the doctor's thresholds (depthlab.diagnose.checks.THRESHOLDS), restated so this package stays NumPy-only
VANISHING_RATIO, EXPLODING_RATIO = 1e-2, 1e2


def loss_summary(losses: list[float], points: int = 5) -> str:
    """The loss at a few evenly spaced steps and at the end: ``step 0 0.6931 | step 500 0.6900 | ...``."""
    steps = sorted({int(s) for s in np.linspace(0, len(losses) - 1, points)})
    return " | ".join(f"step {s} {losses[s]:.4g}" for s in steps)


def xor_title(settings: dict) -> str:
    """One line naming the run: ``XOR: depth 10, width 4, activation sigmoid, ...``."""
    return "XOR: " + ", ".join(f"{key} {value}" for key, value in settings.items())


def xor_report(result: TrainResult, settings: dict) -> str:
    """What ``depthlab reference xor`` prints."""
    lines = [
        xor_title(settings),
        f"loss: {loss_summary(result.losses)}",
        f"accuracy (inference mode): {result.accuracy:.2f}   P(1) = {np.round(result.predictions, 3)}",
        "per Dense layer, first step -> last step: RMS of dL/dh at its output | weight-gradient norm ‖dL/dW‖",
    ]
    rows = zip(
        result.first_act_grad_rms,
        result.last_act_grad_rms,
        result.first_grad_norms,
        result.last_grad_norms,
        strict=True,
    )
    for i, (rms0, rms1, norm0, norm1) in enumerate(rows):
        lines.append(f"  layer {i + 1:2d}  {rms0:9.2e} -> {rms1:9.2e}  |  {norm0:9.2e} -> {norm1:9.2e}")
    lines.append(
        "dL/dh RMS, first hidden layer over the last (head left out) at step 0: "
        f"{flow_verdict(result.act_grad_ratio)}"
    )
    return "\n".join(lines)


def flow_verdict(ratio: float) -> str:
    """The ratio and what it means, on the doctor's thresholds."""
    if ratio == 0:
        return "0 (vanishing: no gradient reaches layer 1, every path to it is dead or underflowed)"
    if ratio < VANISHING_RATIO:
        return f"{ratio:.2e} (vanishing: below {VANISHING_RATIO:g}, the first layer barely moves)"
    if ratio > EXPLODING_RATIO:
        # the residual XOR nets land here and train (5/5): their last branches saturate, so the last hidden
        # layer's dL/dh is small; the report names the doctor's reading without calling it a failure
        return (
            f"{ratio:.2e} (gradients reach layer 1 and grow toward it: above {EXPLODING_RATIO:g}, which the "
            "doctor flags as exploding)"
        )
    return f"{ratio:.2e} (gradients reach layer 1: within {VANISHING_RATIO:g} to {EXPLODING_RATIO:g})"


def examples_report(name: str, results: list[ExampleResult]) -> str:
    """One line per seed and a summary: solved, final MSE, steps until MSE < 0.01."""
    lines = [f"{name}: {'seed':>4} {'solved':>6} {'final MSE':>10} {'steps to MSE<0.01':>18}  outputs"]
    for r in results:
        reached = steps_to(r.losses)
        lines.append(
            f"{'':{len(name) + 1}} {r.seed:>4} {str(r.solved):>6} {r.losses[-1]:>10.2e} "
            f"{'never' if reached is None else reached:>18}  {np.round(r.outputs, 3)}"
        )
    solved = sum(r.solved for r in results)
    lines.append(
        f"{name}: solved {solved}/{len(results)} seeds; median final MSE "
        f"{np.median([r.losses[-1] for r in results]):.2e}"
    )
    return "\n".join(lines)
