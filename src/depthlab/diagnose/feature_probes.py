"""Linear probes on frozen features after each block, and lesions (one residual block skipped at a time).

Probes (Alain & Bengio 2016, arXiv 1610.01644): a multinomial logistic regression per layer, trained on the
frozen features of the train split and scored on the test split. Features are the stem's and every block's
output (``DepthNet.forward_intermediates``), or the outputs of named modules of any model (forward hooks).
Conv maps bigger than ``max_features`` are average-pooled along their spatial axes (as Alain & Bengio do), and
to the channels alone when even one position per channel is too many.

The probe is fitted with full-batch L-BFGS in torch, on the model's device, on standardized features: the same
fit on CPU and GPU, and far faster than a per-layer scikit-learn fit on a GPU machine.

Lesion (Veit et al. 2016, arXiv 1605.06431): accuracy when block ``i`` is replaced by the identity, on a copy,
for every block whose output has its input's shape.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from depthlab.errors import DepthlabError, check, unknown

MAX_FEATURES = 1024


def pool_features(h: torch.Tensor, max_features: int = MAX_FEATURES) -> torch.Tensor:
    """(N, ...) -> (N, F) with F <= max_features: flatten, average-pooling spatial axes if needed."""
    if h.dim() <= 2 or h[0].numel() <= max_features:
        return h.flatten(1)
    channels, spatial = h.shape[1], h.shape[2:]
    per_channel = max(1, max_features // channels)
    if h.dim() == 3:
        return F.adaptive_avg_pool1d(h, min(per_channel, spatial[0])).flatten(1)
    side = max(1, math.isqrt(per_channel))
    target = (min(side, spatial[0]), min(side, spatial[1])) if h.dim() == 4 else None
    if target is None:
        return h.flatten(2).mean(2)
    return F.adaptive_avg_pool2d(h, target).flatten(1)


def _resolve(model: nn.Module, names: Sequence[str]) -> list[nn.Module]:
    modules = dict(model.named_modules())
    missing = [n for n in names if n not in modules]
    if missing:
        raise unknown("module", missing[0], [n for n in modules if n])
    return [modules[n] for n in names]


@torch.no_grad()
def layer_features(
    model: nn.Module,
    x: torch.Tensor,
    modules: Sequence[str] | None = None,
    batch_size: int = 512,
    max_features: int = MAX_FEATURES,
) -> list[torch.Tensor]:
    """Pooled, flattened features of each tapped layer for inputs ``x`` (the model in eval mode)."""
    was_training = model.training
    model.eval()
    try:
        chunks = [_tap(model, x[i : i + batch_size], modules) for i in range(0, len(x), batch_size)]
    finally:
        model.train(was_training)
    return [torch.cat([pool_features(c[k], max_features) for c in chunks]) for k in range(len(chunks[0]))]


def _tap(model: nn.Module, x: torch.Tensor, modules: Sequence[str] | None) -> list[torch.Tensor]:
    if modules is None:
        if not hasattr(model, "forward_intermediates"):
            raise DepthlabError(
                f"{type(model).__name__} has no forward_intermediates: name the modules to probe"
            )
        return list(model.forward_intermediates(x))
    outputs: list[torch.Tensor] = []
    handles = [
        m.register_forward_hook(lambda _m, _i, out: outputs.append(out)) for m in _resolve(model, modules)
    ]
    try:
        model(x)
    finally:
        for handle in handles:
            handle.remove()
    return outputs


def fit_probe(
    x_train: torch.Tensor,
    y_train: torch.Tensor,
    x_test: torch.Tensor,
    y_test: torch.Tensor,
    num_classes: int,
    steps: int = 100,
    weight_decay: float = 1e-4,
) -> dict[str, float]:
    """Multinomial logistic regression by L-BFGS on standardized features; train and test accuracy."""
    mean, std = x_train.mean(0), x_train.std(0).clamp_min(1e-6)
    a, b = (x_train - mean) / std, (x_test - mean) / std
    probe = nn.Linear(a.shape[1], num_classes, device=a.device)
    nn.init.zeros_(probe.weight)  # the loss is convex: a fixed start gives the same probe on every call
    nn.init.zeros_(probe.bias)
    optimizer = torch.optim.LBFGS(
        probe.parameters(), max_iter=steps, history_size=20, line_search_fn="strong_wolfe"
    )

    def closure():
        optimizer.zero_grad()
        loss = F.cross_entropy(probe(a), y_train) + weight_decay * probe.weight.square().sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        optimizer.step(closure)
    with torch.no_grad():
        return {"train_acc": _accuracy(probe(a), y_train), "test_acc": _accuracy(probe(b), y_test)}


def _accuracy(logits: torch.Tensor, y: torch.Tensor) -> float:
    return (logits.argmax(1) == y).float().mean().item()


def linear_probes(
    model: nn.Module,
    data,
    modules: Sequence[str] | None = None,
    steps: int = 100,
    max_features: int = MAX_FEATURES,
) -> list[dict]:
    """One row per tapped layer: ``layer``, ``name``, ``features``, probe ``train_acc`` and ``test_acc``."""
    check(
        getattr(data, "task", "classification") == "classification",
        "linear probes need a classification task",
    )
    device = next(model.parameters()).device
    train = layer_features(model, data.x_train.to(device), modules, max_features=max_features)
    test = layer_features(model, data.x_test.to(device), modules, max_features=max_features)
    names = (
        list(modules) if modules is not None else ["stem"] + [f"blocks.{i}" for i in range(len(train) - 1)]
    )
    y_train, y_test = data.y_train.to(device), data.y_test.to(device)
    rows = []
    for i, (name, a, b) in enumerate(zip(names, train, test, strict=True)):
        scores = fit_probe(a.float(), y_train, b.float(), y_test, data.num_classes, steps)
        rows.append({"layer": i, "name": name, "features": a.shape[1]} | scores)
    return rows


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1024) -> float:
    """Classification accuracy of ``model`` on (x, y), in eval mode, batched."""
    was_training = model.training
    model.eval()
    correct = sum(
        (model(x[i : i + batch_size]).argmax(1) == y[i : i + batch_size]).sum().item()
        for i in range(0, len(x), batch_size)
    )
    model.train(was_training)
    return correct / len(x)


def _block_keeps_shape(block: nn.Module, sample: torch.Tensor, model: nn.Module) -> bool:
    seen = []
    handle = block.register_forward_hook(lambda _m, inputs, out: seen.append(inputs[0].shape == out.shape))
    try:
        with torch.no_grad():
            model(sample)
    finally:
        handle.remove()
    return bool(seen) and all(seen)


def lesion(model: nn.Module, data, blocks: str = "blocks") -> dict:
    """Test accuracy with each block of ``model.<blocks>`` replaced by the identity (where shapes allow)."""
    lesioned = copy.deepcopy(model).eval()
    stack = dict(lesioned.named_modules()).get(blocks)
    if not isinstance(stack, (nn.Sequential, nn.ModuleList)):
        raise DepthlabError(
            f"blocks={blocks!r}: expected the name of an nn.Sequential or nn.ModuleList of blocks"
        )
    device = next(lesioned.parameters()).device
    x, y = data.x_test.to(device), data.y_test.to(device)
    baseline = accuracy(lesioned, x, y)
    rows = []
    for i in range(len(stack)):
        block = stack[i]
        skippable = _block_keeps_shape(block, x[:2], lesioned)
        acc = None
        if skippable:
            stack[i] = nn.Identity()
            acc = accuracy(lesioned, x, y)
            stack[i] = block
        rows.append(
            {
                "block": i,
                "name": f"{blocks}.{i}",
                "skippable": skippable,
                "test_acc": acc,
                "drop": None if acc is None else baseline - acc,
            }
        )
    return {"baseline_acc": baseline, "blocks": rows}
