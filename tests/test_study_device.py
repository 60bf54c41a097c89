"""``depthlab study --device``: the device reaches every run that trains, is part of its identity, and is
in the command that reproduces the study; a run trained on a GPU is measured on the CPU data afterwards."""

from __future__ import annotations

import pytest
import torch

from depthlab.errors import DepthlabError
from depthlab.study.plan import command, device_of, plan, reproduce
from depthlab.study.spec import run_hash
from depthlab.study.tasks import train_task


def test_device_is_set_on_every_training_spec_and_changes_its_hash():
    default = plan(["depth", "composition"], "quick")
    on_cpu = plan(["depth", "composition"], "quick", device="cpu")
    for before, after in zip(default, on_cpu, strict=True):
        for a, b in zip(before.specs, after.specs, strict=True):
            if a.get("task", "train") in ("train", "transfer"):
                assert b["train"]["device"] == "cpu" and run_hash(a) != run_hash(b)
                assert {k: v for k, v in b["train"].items() if k != "device"} == (a.get("train") or {})
            else:  # no training, nothing to place: the run (and its stored result) stays the same
                assert b == a
    assert [len(p.specs) for p in default] == [len(p.specs) for p in on_cpu]


def test_auto_leaves_the_specs_as_they_are():
    assert [p.specs for p in plan(["depth"], device="auto")] == [p.specs for p in plan(["depth"])]


def test_an_unknown_device_is_one_clear_error():
    with pytest.raises(DepthlabError, match="unknown device 'gpu'.*auto, cpu, cuda"):
        plan(["depth"], device="gpu")


def test_the_reproducing_command_names_the_device():
    plans = plan(["depth"], device="cpu")
    assert device_of(plans) == "cpu" and device_of(plan(["depth"])) is None
    assert "--device cpu" in reproduce(plans[0], "quick", "runs/x")
    assert "--device" not in command(None, "quick", None, "runs/x")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_a_run_trained_on_cuda_is_measured_like_one_trained_on_the_cpu():
    spec = {
        "model": {"name": "mlp", "depth": 3, "width": 16},
        "data": {"name": "mnist1d"},
        "train": {"steps": 5, "device": "cuda"},
        "diagnostics": ["grad_norms", "response_std", "lesion"],
    }
    on_gpu = train_task(spec)
    on_cpu = train_task({**spec, "train": {"steps": 5, "device": "cpu"}})
    assert on_gpu.status == on_cpu.status == "ok"
    gpu, cpu = on_gpu.diagnostics, on_cpu.diagnostics
    assert gpu.keys() == cpu.keys() == {"grad_norms_init", "grad_norms", "response_std", "lesion"}
    assert gpu["grad_norms_init"] == cpu["grad_norms_init"]  # the same model, measured before training
    # The same initial weights and batches (built and shuffled on the CPU): five steps with TF32 matmuls on
    # the GPU move the trained weights' measures by about 1e-4, while training itself moves them by 1e-2.
    close = dict(rel=2e-3)
    assert cpu["grad_norms"] != pytest.approx(cpu["grad_norms_init"], **close)
    for name in ("grad_norms", "response_std"):
        assert cpu[name] and gpu[name] == pytest.approx(cpu[name], **close), name
    for gpu_acc, cpu_acc in zip(
        [gpu["lesion"]["baseline"], *gpu["lesion"]["blocks"]],
        [cpu["lesion"]["baseline"], *cpu["lesion"]["blocks"]],
        strict=True,
    ):
        assert gpu_acc == pytest.approx(cpu_acc, abs=0.01)  # a few test examples may flip
