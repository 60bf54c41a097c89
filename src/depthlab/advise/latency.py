"""Inference latency per depth, measured on this machine with depthlab's one timer (``diagnose.timing``).

The model is timed in the form it would ship in, ``depthlab.deploy.deploy_form`` (the one the studies time):
eval mode, no autograd, every ParNet block's branches folded into one 3x3 conv and every BatchNorm after a
conv or linear folded into it. Weights do not change the time, so an untrained model of the same config is
timed; the reported value is the median milliseconds per forward within ``budget`` seconds of timed calls.
On the CPU it is timed on one thread, as the cost study times it: a small model's forward gains little from a
second thread, and a median over two threads on a shared machine reads the other load (measured: a ResNet-20
at 177 ms against 6 ms on one busy 2-core machine).
"""

from __future__ import annotations

import torch
from torch import nn

from depthlab.deploy import deploy_form
from depthlab.diagnose.timing import time_forward
from depthlab.models.params import count_params


def _folded(model: nn.Module, deployed: nn.Module) -> bool:
    # A fold (branches into one conv, a BN's affine pair into its conv) removes parameters; a model with
    # nothing to fold keeps them all, and its row is labelled with the train form it was timed in.
    return count_params(deployed)[0] < count_params(model)[0]


def latency_ms(
    model: nn.Module, input_shape: tuple[int, ...], batch: int, device: str = "cpu", budget: float = 0.2
) -> tuple[float, str]:
    """Median milliseconds per forward of a ``batch`` on ``device`` in the deploy form, and the form's name
    (``deploy``, or ``train`` when there was nothing to fold)."""
    model = model.to(device)
    deployed = deploy_form(model)
    x = torch.randn(batch, *input_shape, device=device)
    threads = 1 if x.device.type == "cpu" else None
    timing = time_forward(deployed, x, budget, threads=threads)
    return timing.ms, "deploy" if _folded(model, deployed) else "train"
