"""Shared test settings: quiet, deterministic, and polite to a 2-core machine."""

import importlib.util

import pytest
import torch

# Test models are tiny: extra intra-op threads gain nothing, and with two xdist workers on two cores (or any
# other load) waiting threads cost seconds per call.
torch.set_num_threads(1)

# The optional extras (pyproject's [project.optional-dependencies], plus timm, which CI installs without its
# dependencies): the module each brings and how a user installs it. A test marked
# ``@pytest.mark.extra(name)`` skips with the extra's name where that module is missing, so `make test` passes
# on a bare machine; CI installs the extras and runs exactly these tests with ``-m extra``.
EXTRAS = {
    "ray": ("ray", "pip install 'depthlab[ray]'"),
    "lightning": ("lightning", "pip install 'depthlab[lightning]'"),
    "parquet": ("pyarrow", "pip install 'depthlab[parquet]'"),
    "hf": ("datasets", "pip install 'depthlab[hf]'"),
    "tensorboard": ("tensorboard", "pip install 'depthlab[tensorboard]'"),
    "wandb": ("wandb", "pip install 'depthlab[wandb]'"),
    "onnx": ("onnxruntime", "pip install 'depthlab[onnx]'"),
    "timm": ("timm", "pip install --no-deps timm"),
}


def missing_extra_reason(extra: str) -> str | None:
    """Why a test of ``extra`` cannot run here, or None when the extra is installed."""
    if extra not in EXTRAS:
        raise pytest.UsageError(f"unknown extra {extra!r} in @pytest.mark.extra; valid: {', '.join(EXTRAS)}")
    module, install = EXTRAS[extra]
    if importlib.util.find_spec(module) is not None:
        return None
    return f"needs the optional extra '{extra}' ({module} is not installed: {install})"


def pytest_runtest_setup(item):
    for mark in item.iter_markers("extra"):
        reason = missing_extra_reason(mark.args[0])
        if reason:
            pytest.skip(reason)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    yield


@pytest.fixture
def wandb_offline(tmp_path, monkeypatch):
    """W&B offline, writing under ``tmp_path/wandb``. wandb keeps its settings (the directory included) in a
    process-wide singleton from the first ``wandb.init``: without the teardown, a second test in the same
    worker writes its run into the first test's folder."""
    import wandb

    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    monkeypatch.setenv("WANDB_SILENT", "true")
    wandb.teardown()
    yield tmp_path / "wandb"
    wandb.teardown()
