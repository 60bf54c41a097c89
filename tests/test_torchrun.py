"""``torchrun --nproc_per_node=1``: fit joins a process group of one and trains through DDP (gloo on the
CPU, NCCL on a GPU), with the same weights as a plain single-process run: one GPU exercises the multi-GPU
path."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from depthlab.data.dataset import Dataset
from depthlab.train import fit

SETTINGS = dict(optimizer="sgd", lr=0.1, momentum=0.9, epochs=2, batch_size=16, quiet=True, seed=3)

_SCRIPT = textwrap.dedent("""
    import sys
    import torch
    from torch.nn.parallel import DistributedDataParallel
    sys.path.insert(0, {tests!r})
    from test_torchrun import SETTINGS, data, model
    from depthlab.train.engine import _Run, resolve_config
    import torch.distributed as dist

    run = _Run(model(), data(), resolve_config(None, dict(SETTINGS, device={device!r})), [])
    history = run.execute()
    torch.save(
        {{
            "ddp": isinstance(run.train_model, DistributedDataParallel),
            "backend": dist.get_backend(),
            "status": history.status,
            "state": {{k: v.cpu() for k, v in run.model.state_dict().items()}},
        }},
        {out!r},
    )
""")


def model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(10, 32), torch.nn.Tanh(), torch.nn.Linear(32, 3))


def data() -> Dataset:
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(96, 10, generator=g), torch.randint(0, 3, (96,), generator=g)
    return Dataset("blobs", x, y, x[:32], y[:32], x[:32], y[:32], num_classes=3)


@pytest.mark.slow
@pytest.mark.parametrize(
    "device",
    [
        "cpu",
        pytest.param(
            "cuda",
            marks=[
                pytest.mark.gpu,
                pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA"),
            ],
        ),
    ],
)
def test_one_process_under_torchrun_trains_through_ddp_like_a_plain_run(tmp_path, device):
    out = tmp_path / "result.pt"
    script = tmp_path / "train.py"
    script.write_text(_SCRIPT.format(tests=str(Path(__file__).parent), device=device, out=str(out)))
    launch = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=1",
        str(script),
    ]
    done = subprocess.run(launch, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    result = torch.load(out, weights_only=True)
    assert result["ddp"] and result["status"] == "ok"
    assert result["backend"] == ("nccl" if device == "cuda" else "gloo")
    plain = model()
    fit(plain, data(), **SETTINGS, device=device)
    for key, value in plain.state_dict().items():
        torch.testing.assert_close(result["state"][key], value.cpu(), rtol=1e-5, atol=1e-6)
    assert not torch.equal(result["state"]["0.weight"], model()[0].weight)  # it did train
