"""What depth costs: parameters, FLOPs/MACs, latency, throughput, peak memory and longest-path depth.

Field names follow timm's benchmark script where one exists (``param_count`` in millions, ``infer_gmacs`` per
sample, ``infer_step_time`` in ms per batch, ``infer_samples_per_sec``, ``train_*``), plus exact ``params``,
``flops`` (per sample, forward; ``train_flops`` forward + backward) and the depth meter's numbers.

FLOPs come from ``torch.utils.flop_counter.FlopCounterMode``, which counts matmuls, convolutions and attention
(2 FLOPs per multiply-add, so ``macs = flops / 2``); elementwise ops (norms, activations) are not counted.
``flop_counter`` adds CPU attention (``scaled_dot_product_attention``'s CPU kernel, which torch's table lacks
in 2.13) with torch's own formula; causal attention counts as full attention, as torch counts it on GPU.

Timing: depthlab's one timer (``diagnose.timing``, ``torch.utils.benchmark``'s adaptive timing): blocks of
calls are timed until the median is known to 10% or the time budget is spent; the median per call is reported,
with torch's thread count (spec/performance.md).
FLOPs are counted on two samples (per-sample FLOPs of matmuls and convolutions do not depend on the batch).

Peak memory. CUDA: the caching allocator's ``max_memory_allocated`` over the call (params included). CPU has
no allocator statistics, and ``tracemalloc`` sees only Python objects, not torch's buffers, so it is an
estimate from the tensors themselves (``memory_method = "tensor_sizes"``): inference = params + the largest
input + output of any leaf module (what is live at once in a chain); training = params + grads + every other
tensor autograd saves for backward (unique storages, via ``saved_tensors_hooks``) + the output. It is a
lower bound: workspace buffers and allocator slack are not seen.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import nn
from torch.utils import flop_counter as torch_flops

from depthlab.diagnose import timing
from depthlab.diagnose.depth import longest_path_depth, model_form
from depthlab.errors import DepthlabError, check, unknown
from depthlab.models.base import random_input
from depthlab.models.params import count_params

DTYPES = {
    "float32": torch.float32,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "float64": torch.float64,
}
MB = 2**20


def _cpu_attention(query, key, value, *_args, out_shape=None, **_kwargs) -> int:
    return torch_flops.sdpa_flop_count(query, key, value)  # shapes, as torch's own formulas get them


def _cpu_attention_backward(grad_out, query, key, value, *_args, out_shape=None, **_kwargs) -> int:
    return torch_flops.sdpa_backward_flop_count(grad_out, query, key, value)


_CPU_ATTENTION = {  # the CPU kernel's arguments start as the GPU kernels' do
    torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: _cpu_attention,
    torch.ops.aten._scaled_dot_product_flash_attention_for_cpu_backward: _cpu_attention_backward,
}


def flop_counter() -> torch_flops.FlopCounterMode:
    """A quiet ``FlopCounterMode`` that also counts attention on the CPU."""
    return torch_flops.FlopCounterMode(display=False, custom_mapping=_CPU_ATTENTION)


def count_flops(model: nn.Module, x: torch.Tensor, backward: bool = False) -> int:
    """FLOPs of one forward (and backward, if asked) on batch ``x``, by FlopCounterMode."""
    with flop_counter() as counter:
        if backward:
            _loss(model(x)).backward()
        else:
            with torch.no_grad():
                model(x)
    return int(counter.get_total_flops())


def forward_and_train_flops(model: nn.Module, x: torch.Tensor) -> tuple[int, int]:
    """FLOPs of one forward, and of forward + backward, on batch ``x``, from one counted training step."""
    with flop_counter() as counter:
        output = model(x)
        forward = counter.get_total_flops()  # the ops recorded so far: the forward's
        _loss(output).backward()
    return int(forward), int(counter.get_total_flops())


def _loss(output) -> torch.Tensor:
    tensors = (
        [output] if isinstance(output, torch.Tensor) else [t for t in output if isinstance(t, torch.Tensor)]
    )
    return sum(t.float().mean() for t in tensors)


def _tensor_bytes(tensors) -> int:
    storages = {}
    for t in tensors:
        if isinstance(t, torch.Tensor):
            storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
    return sum(storages.values())


def _cpu_infer_bytes(model: nn.Module, x: torch.Tensor) -> int:
    """Largest input + output of any leaf module in one forward (the live set of a chain)."""
    largest = [0]

    def hook(_m, inputs, output):
        outputs = output if isinstance(output, (tuple, list)) else [output]
        largest[0] = max(largest[0], _tensor_bytes(list(inputs) + list(outputs)))

    leaves = [m for m in model.modules() if not list(m.children())]
    handles = [m.register_forward_hook(hook) for m in leaves]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    return largest[0]


def kept_for_backward(model: nn.Module, x: torch.Tensor, block_inputs=()) -> int:
    """Bytes of the activations kept between forward and backward, over one forward.

    That is every tensor autograd saves (unique storages) plus the input of each module in ``block_inputs``
    (all a checkpointed block keeps). Parameters that autograd saves (a Linear keeps its weight for the input
    gradient) are left out: they are not activations.
    """
    return sum(_kept_storages(model, x, block_inputs)[0].values())


def _kept_storages(model: nn.Module, x: torch.Tensor, block_inputs=()) -> tuple[dict[int, int], object]:
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    storages: dict[int, int] = {}

    def remember(t: torch.Tensor) -> torch.Tensor:
        if t.untyped_storage().data_ptr() not in params:
            storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    handles = [m.register_forward_pre_hook(lambda _m, args: remember(args[0])) for m in block_inputs]
    try:
        with torch.autograd.graph.saved_tensors_hooks(remember, lambda t: t):
            output = model(x)
    finally:
        for handle in handles:
            handle.remove()
    return storages, output


def _cpu_train_bytes(model: nn.Module, x: torch.Tensor) -> int:
    """The activations kept for backward + the output (unique storages)."""
    storages, output = _kept_storages(model, x)
    for t in [output] if isinstance(output, torch.Tensor) else list(output):
        storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
    return sum(storages.values())


def peak_memory(model: nn.Module, x: torch.Tensor, train: bool) -> tuple[float, str]:
    """(peak MB of one inference or training step, the method used); see the module docstring."""
    params = sum(p.numel() * p.element_size() for p in model.parameters())
    if x.device.type == "cuda":
        torch.cuda.synchronize(x.device)
        torch.cuda.reset_peak_memory_stats(x.device)
        _train_step(model, x)() if train else _infer_step(model, x)()
        torch.cuda.synchronize(x.device)
        return torch.cuda.max_memory_allocated(x.device) / MB, "cuda_allocator"
    if train:
        grads = sum(p.numel() * p.element_size() for p in model.parameters() if p.requires_grad)
        return (params + grads + _cpu_train_bytes(model, x)) / MB, "tensor_sizes"
    return (params + _cpu_infer_bytes(model, x)) / MB, "tensor_sizes"


def _infer_step(model: nn.Module, x: torch.Tensor) -> Callable[[], object]:
    def step():
        with torch.no_grad():
            return model(x)

    return step


def _train_step(model: nn.Module, x: torch.Tensor) -> Callable[[], object]:
    def step():
        model.zero_grad(set_to_none=True)
        _loss(model(x)).backward()

    return step


def measure(
    model: nn.Module,
    input_shape: tuple[int, ...],
    batch_size: int = 64,
    *,
    device: str | None = None,
    dtype: str = "float32",
    form: str = "train",
    time_budget: float = 1.0,
    train: bool = True,
) -> dict:
    """Cost of ``model`` on a random batch of ``batch_size`` x ``input_shape``, measured on a copy.

    ``time_budget``: seconds of timed calls per step timed (inference, training); the timing is adaptive (see
    the module docstring).
    """
    check(
        isinstance(batch_size, int) and batch_size >= 1, f"batch_size={batch_size!r}: must be an integer >= 1"
    )
    timing.check_budget(time_budget)
    if dtype not in DTYPES:
        raise unknown("dtype", dtype, DTYPES)
    target = torch.device(device) if device else next(model.parameters(), torch.empty(0)).device
    measured = copy.deepcopy(model_form(model, form)).to(target, DTYPES[dtype]).eval()
    try:
        x = random_input(model, tuple(input_shape), batch_size, target, DTYPES[dtype])
        report = _labels(model, target, dtype, batch_size, form) | _static(measured, x, form)
    except RuntimeError as err:
        raise DepthlabError(f"input_shape={tuple(input_shape)}: the model cannot run on it ({err})") from None
    report |= _timed("infer", timing.time_forward(measured, x, time_budget), measured, x)
    if train:
        measured.train()
        report |= _timed("train", timing.time_calls(_train_step(measured, x), time_budget), measured, x)
    return report


def _labels(model: nn.Module, device: torch.device, dtype: str, batch_size: int, form: str) -> dict:
    return {
        "model": type(model).__name__,
        "device": str(device),
        "dtype": dtype,
        "batch_size": batch_size,
        "form": form,
        "torch": torch.__version__,
    }


def _static(model: nn.Module, x: torch.Tensor, form: str) -> dict:
    total, trainable = count_params(model)
    few = x[:2]  # per-sample FLOPs and depth do not depend on the batch; two samples keep batch norm defined
    forward, train = forward_and_train_flops(model, few)
    flops, train_flops = forward / len(few), train / len(few)
    model.zero_grad(set_to_none=True)
    depth = longest_path_depth(model, few)  # already in ``form``
    return {
        "params": total,
        "params_trainable": trainable,
        "param_count": total / 1e6,
        "flops": flops,
        "macs": flops / 2,
        "infer_gmacs": flops / 2 / 1e9,
        "train_flops": train_flops,
        "longest_path_depth": depth.depth,
        "weight_layers": depth.weight_layers,
        "sequential_ops": depth.sequential_ops,
    }


def _timed(prefix: str, timed: timing.Timing, model: nn.Module, x: torch.Tensor) -> dict:
    memory, method = peak_memory(model, x, train=prefix == "train")
    return {
        f"{prefix}_step_time": timed.ms,
        f"{prefix}_samples_per_sec": len(x) / timed.seconds,
        f"{prefix}_peak_memory_mb": memory,
        "memory_method": method,
    }
