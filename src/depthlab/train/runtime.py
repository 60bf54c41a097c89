"""Where and how a run executes: device, mixed precision, compilation, and the distributed process group.

Options that only pay off on a GPU (AMP, ``torch.compile``, channels_last) are ignored on the CPU with a one-
line note in ``History.notes``: on a small CPU they cost compile time or run slower than fp32.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from depthlab.errors import DepthlabError
from depthlab.train.config import TrainConfig


@dataclass(frozen=True)
class Distributed:
    """This process's place in a (possibly single-process) job."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    in_group: bool = False  # a process group exists (torchrun, even with one process): DDP wraps the model

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def distributed_context(device_pref: str = "auto") -> Distributed:
    """Join the process group ``torchrun`` describes (NCCL on GPUs, gloo on CPU), or report one process.

    ``torchrun --nproc_per_node=1`` joins a group of one, so the DDP and NCCL code paths run on a single GPU
    as they do on eight. Each rank picks its GPU before NCCL starts: otherwise every rank's communicator (and
    the barrier's) lands on GPU 0.
    """
    if not dist.is_initialized():
        if not launched_by_torchrun():
            return Distributed()
        use_cuda = torch.cuda.is_available() and device_pref != "cpu"
        if use_cuda:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")) % torch.cuda.device_count())
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    local_rank = int(os.environ.get("LOCAL_RANK", dist.get_rank()))
    return Distributed(dist.get_rank(), dist.get_world_size(), local_rank, in_group=True)


def launched_by_torchrun() -> bool:
    """True in a process that torchrun started (it sets TORCHELASTIC_RUN_ID, also for one process)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 or "TORCHELASTIC_RUN_ID" in os.environ


def resolve_device(name: str, where: Distributed) -> torch.device:
    """``auto`` picks CUDA when present; ``cuda`` without a GPU is an error naming the choices."""
    if name == "cuda" and not torch.cuda.is_available():
        raise DepthlabError("device='cuda' but no CUDA GPU is available (valid here: auto, cpu)")
    if name == "cpu" or not torch.cuda.is_available():
        return torch.device("cpu")
    return torch.device("cuda", where.local_rank % torch.cuda.device_count())


def gpu_only_notes(config: TrainConfig, device: torch.device) -> list[str]:
    """One line per GPU-only option that is ignored on this device."""
    if device.type == "cuda":
        return []
    notes = []
    if config.amp != "off":
        notes.append(f"amp={config.amp} ignored on cpu (fp32 is faster here)")
    if config.compile:
        notes.append("compile=true ignored on cpu (compile time outweighs the gain for small models)")
    return notes


def set_backend_flags(device: torch.device) -> None:
    """TF32 matmuls and cuDNN autotuning on CUDA (a few ulps for a large speed-up); nothing on the CPU."""
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True


def autocast(config: TrainConfig, device: torch.device):
    """The autocast context of this run (a no-op without AMP or on the CPU)."""
    if config.amp == "off" or device.type != "cuda":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if config.amp == "bf16" else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)


def grad_scaler(config: TrainConfig, device: torch.device) -> torch.amp.GradScaler | None:
    """A loss scaler for fp16 on CUDA (bf16 needs none)."""
    if config.amp == "fp16" and device.type == "cuda":
        return torch.amp.GradScaler(device.type)
    return None


def wrap_for_training(
    model: nn.Module, config: TrainConfig, device: torch.device, where: Distributed
) -> nn.Module:
    """The module the training step calls: DDP across ranks, then ``torch.compile`` on CUDA."""
    wrapped = model
    if where.in_group:
        device_ids = [device.index] if device.type == "cuda" else None
        wrapped = nn.parallel.DistributedDataParallel(model, device_ids=device_ids)
    if config.compile and device.type == "cuda":
        wrapped = torch.compile(wrapped, mode=config.compile_mode)
    return wrapped


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work, so the clock reads what was done (no-op on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def barrier(where: Distributed) -> None:
    """Wait for every rank (no-op in a single process)."""
    if where.world_size > 1:
        dist.barrier()


def first_bad_step(losses: torch.Tensor, first_step: int, where: Distributed) -> int | None:
    """The step of the first non-finite loss (``losses`` are steps ``first_step``...), agreed by all ranks."""
    bad = (~torch.isfinite(losses)).nonzero()
    step = first_step + int(bad[0]) if len(bad) else _NO_STEP
    if where.world_size > 1:  # a NaN on one rank must stop all of them, or the others hang in all-reduce
        agreed = torch.tensor([step], device=losses.device)
        dist.all_reduce(agreed, op=dist.ReduceOp.MIN)
        step = int(agreed)
    return None if step == _NO_STEP else step


_NO_STEP = 2**62
