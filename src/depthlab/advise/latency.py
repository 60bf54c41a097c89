"""Inference latency per depth, measured on this machine with ``torch.utils.benchmark``.

The model is timed in the form it would ship in: eval mode, no autograd, and for ParNet the deploy form (every
block's branches folded into one 3x3 conv, ``depthlab.models.reparam``; Ding et al. 2021, arXiv 2101.03697;
Goyal et al. 2021, arXiv 2110.07641). Weights do not change the time, so an untrained model of the same config
is timed. On a shared machine other work only ever adds time, so the reported value is the fastest block (the
mean per call of one block of calls) of ``REPEATS`` runs of ``blocked_autorange`` (timeit's advice).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils import benchmark

from depthlab.models.parnet_blocks import ParNetBlock
from depthlab.models.reparam import reparameterize_model

REPEATS = 5
WARMUP = 10


def deploy_form(model: nn.Module) -> tuple[nn.Module, str]:
    """The model as it would be deployed, and the form's name (``deploy`` for a re-parameterized ParNet)."""
    model = model.eval()
    if any(isinstance(m, ParNetBlock) for m in model.modules()):
        return reparameterize_model(model), "deploy"
    return model, "train"


def latency_ms(
    model: nn.Module, input_shape: tuple[int, ...], batch: int, device: str = "cpu", min_run_time: float = 0.2
) -> tuple[float, str]:
    """Median milliseconds per forward of a ``batch`` on ``device``, and the form timed."""
    model, form = deploy_form(model.to(device))
    x = torch.randn(batch, *input_shape, device=device)
    timer = benchmark.Timer(
        stmt="model(x)", globals={"model": model, "x": x}, num_threads=torch.get_num_threads()
    )
    with torch.inference_mode():  # the timer runs its statement in this thread, so this mode applies
        for _ in range(WARMUP):  # lazy allocations, oneDNN kernel choice, the thread pool's first wake-up
            model(x)
        medians = [
            timer.blocked_autorange(min_run_time=min_run_time / REPEATS).median for _ in range(REPEATS)
        ]
    return min(medians) * 1e3, form
