"""Plain-text reports of reference runs: loss-curve summary, per-layer gradient norms, example sweeps."""

from __future__ import annotations

import numpy as np

from depthlab.reference.examples import ExampleResult, steps_to
from depthlab.reference.network import TrainResult

VANISHING_RATIO = 1e-3


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
        "weight-gradient norm per Dense layer, first step -> last step:",
    ]
    for i, (first, last) in enumerate(zip(result.first_grad_norms, result.last_grad_norms, strict=True)):
        lines.append(f"  layer {i + 1:2d}  {first:9.2e} -> {last:9.2e}")
    ratio = result.first_to_last_ratio
    vanishing = ratio < VANISHING_RATIO
    verdict = "vanishing: the first layer barely moves" if vanishing else "gradients reach layer 1"
    lines.append(f"first/last layer gradient-norm ratio at step 0: {ratio:.2e} ({verdict})")
    return "\n".join(lines)


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
