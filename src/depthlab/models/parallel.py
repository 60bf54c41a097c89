"""Stream-parallel ParNet inference (Non-deep Networks, arXiv 2110.07641, multi-GPU timing).

The three streams are independent once their inputs exist, but the trunk is chained (x1 -> x2 -> x3), so the
schedule is: run the trunk; then stream 3 (the longest path), stream 2 and stream 1 + its downsampling run
concurrently; then the two fusions, the final block and the head run where the result is collected.

Modes:

- ``sequential``: the model's own forward (the reference);
- ``threads``: CPU (or any device): streams 1 and 2 go to a two-worker thread pool while the calling thread
  runs stream 3; PyTorch ops release the GIL, so the streams overlap (competing with intra-op threads).
  (``torch.jit.fork`` is not used: in eager mode it runs the function inline, i.e. sequentially.)
- ``cuda_streams``: one GPU, one CUDA stream per ParNet stream, ordered by ``wait_stream`` (no host sync);
- ``devices``: one CUDA device per stream (the paper's 3-GPU setting); the trunk runs on the first device and
  x2 / x3 are copied over (the official code recomputes the trunk on every GPU instead), outputs come back to
  the first device for the fusions.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import torch
from torch import nn

from depthlab.errors import DepthlabError, check, unknown
from depthlab.models.parnet import ParNet

MODES = ("sequential", "threads", "cuda_streams", "devices")


def default_mode(device: torch.device) -> str:
    """``devices`` with 3+ GPUs, ``cuda_streams`` on one GPU, ``threads`` on CPU."""
    if device.type != "cuda":
        return "threads"
    return "devices" if torch.cuda.device_count() >= 3 else "cuda_streams"


class StreamTask(nn.Module):
    """What one worker runs: a stream, plus the downsampling that follows stream 1."""

    def __init__(self, stream: nn.Module, after: nn.Module | None = None):
        super().__init__()
        self.stream = stream
        self.after = after if after is not None else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.after(self.stream(x))


class ParallelParNet(nn.Module):
    """Inference wrapper running ParNet's three streams concurrently; outputs equal the wrapped model's."""

    def __init__(
        self, model: ParNet, mode: str = "auto", devices: Sequence[str | torch.device] | None = None
    ):
        super().__init__()
        device = next(model.parameters()).device
        mode = default_mode(device) if mode == "auto" else mode
        if mode not in MODES:
            raise unknown("parallel mode", mode, (*MODES, "auto"))
        self.model, self.mode = model, mode
        self.tasks = [
            StreamTask(model.streams[0], model.down1),
            StreamTask(model.streams[1]),
            StreamTask(model.streams[2]),
        ]
        self.devices = [device] * 3
        self.cuda_streams: list[torch.cuda.Stream] = []
        self.pool = ThreadPoolExecutor(max_workers=2) if mode == "threads" else None
        if mode in ("cuda_streams", "devices"):
            self.setup_cuda(device, devices)

    def setup_cuda(self, device: torch.device, devices: Sequence[str | torch.device] | None) -> None:
        """``devices``: put stream task i on device i (copies); ``cuda_streams``: one CUDA stream per task."""
        check(device.type == "cuda", f"parallel mode {self.mode!r} needs the model on CUDA, not {device}")
        if self.mode == "devices":
            devices = [torch.device(d) for d in (devices or [f"cuda:{i}" for i in range(3)])]
            if len(devices) != 3 or torch.cuda.device_count() < len({d.index for d in devices}):
                raise DepthlabError(
                    f"devices={devices}: parallel mode 'devices' needs 3 CUDA devices "
                    f"({torch.cuda.device_count()} available)"
                )
            self.devices = devices
            self.tasks = [
                t if d == device else copy.deepcopy(t).to(d) for t, d in zip(self.tasks, devices, strict=True)
            ]
        else:
            self.cuda_streams = [torch.cuda.Stream(device) for _ in range(3)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "sequential":
            return self.model(x)
        inputs = self.model.trunk_inputs(x)
        runners = {"threads": self.run_threads, "cuda_streams": self.run_cuda, "devices": self.run_devices}
        run = runners[self.mode]
        d1, y2, y3 = run(inputs)
        m = self.model
        features = m.final(m.fuse3(y3, m.fuse2(y2, d1))).mean((2, 3))
        return m.forward_head(features)

    def run_threads(self, inputs: list[torch.Tensor]) -> list[torch.Tensor]:
        """Streams 1 and 2 on the pool, stream 3 (the longest) on the calling thread."""
        modes = (torch.is_grad_enabled(), torch.is_inference_mode_enabled())
        futures = [
            self.pool.submit(with_modes(task, *modes), xi)
            for task, xi in zip(self.tasks[:2], inputs[:2], strict=True)
        ]
        y3 = self.tasks[2](inputs[2])
        return [f.result() for f in futures] + [y3]

    def run_cuda(self, inputs: list[torch.Tensor]) -> list[torch.Tensor]:
        """Issue streams 3, 2, 1 on their CUDA streams (no host sync); the main stream then waits for them."""
        main = torch.cuda.current_stream(inputs[0].device)
        outputs: list[torch.Tensor] = [inputs[0]] * 3
        for i in (2, 1, 0):
            stream = self.cuda_streams[i]
            stream.wait_stream(main)
            with torch.cuda.stream(stream):
                inputs[i].record_stream(stream)  # no reuse of its memory before this stream is done
                outputs[i] = self.tasks[i](inputs[i])
        for stream, y in zip(self.cuda_streams, outputs, strict=True):
            main.wait_stream(stream)
            y.record_stream(main)
        return outputs

    def run_devices(self, inputs: list[torch.Tensor]) -> list[torch.Tensor]:
        """Stream i on device i, on that device's current stream (devices run concurrently by themselves).

        Cross-device copies order themselves after the current streams of both devices, so no explicit events
        are needed, and none of this blocks the host.
        """
        home = inputs[0].device
        outputs: list[torch.Tensor] = [inputs[0]] * 3
        for i in (2, 1, 0):
            with torch.cuda.device(self.devices[i]):
                outputs[i] = self.tasks[i](inputs[i].to(self.devices[i], non_blocking=True))
        return [y.to(home, non_blocking=True) for y in outputs]

    def close(self) -> None:
        """Stop the worker threads (threads mode)."""
        if self.pool is not None:
            self.pool.shutdown()
            self.pool = None


def with_modes(fn: Callable[[torch.Tensor], torch.Tensor], grad: bool, inference: bool) -> Callable:
    """``fn`` under the caller's grad and inference modes (both thread-local: workers must set them)."""

    def run(x: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode(inference), torch.set_grad_enabled(grad):
            return fn(x)

    return run
