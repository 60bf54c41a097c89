"""Numerical faults are results: NaN in the data, a loss that blows up, a layer that overflows. The run is
stored as ``diverged`` with the step and the layer where the first non-finite value appeared, and the study
goes on.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from depthlab.data import Dataset, load_dataset
from depthlab.data.registry import DATASETS, register_dataset
from depthlab.data.splits import SplitOptions
from depthlab.diagnose.nonfinite import locate_divergence
from depthlab.models import create_model
from depthlab.study.runner import execute
from depthlab.study.spec import run_hash
from depthlab.study.store import Store
from depthlab.study.tasks import run_spec
from depthlab.train import fit
from depthlab.train.batches import epoch_permutation

NAN_AT = 13  # the training example that holds a NaN
BATCH = 8


def _xor_with_a_nan(options, seed: int) -> Dataset:
    data = load_dataset("xor", seed=seed, replicas=8)
    x = data.x_train.clone()
    x[NAN_AT, 0] = float("nan")
    return dataclasses.replace(data, name="xor_nan", x_train=x)


@pytest.fixture
def xor_nan():
    """``xor_nan`` registered for one test only (other tests enumerate the registry)."""
    register_dataset("xor_nan", SplitOptions, val_fraction=0.0)(_xor_with_a_nan)
    yield "xor_nan"
    DATASETS._items.pop("xor_nan")


def _step_that_reads(index: int, n: int, seed: int = 0) -> int:
    """The 1-based step whose batch holds training example ``index`` in epoch 0 (the engine's own order)."""
    order = epoch_permutation(n, seed, 0, torch.device("cpu")).tolist()
    return order.index(index) // BATCH + 1


def _spec(data: str, **train) -> dict:
    return {
        "task": "train",
        "study": "numerics",
        "seed": 0,
        "model": {"name": "mlp", "depth": 3, "width": 8},
        "data": {"name": data},
        "train": {"epochs": 2, "batch_size": BATCH, **train},
    }


def test_nan_data_and_a_blown_up_loss_are_stored_as_diverged_with_step_and_layer_and_the_study_goes_on(
    tmp_path, xor_nan
):
    specs = [_spec(xor_nan), _spec("xor"), _spec("xor", lr=1e30, optimizer="sgd")]
    summary = execute(specs, tmp_path, run_fn=run_spec, quiet=True)
    assert summary.statuses == {"diverged": 2, "ok": 1}
    with Store(tmp_path) as store:
        nan, ok, exploded = (store.get(run_hash(s)) for s in specs)
    assert nan["status"] == "diverged" and ok["status"] == "ok" and exploded["status"] == "diverged"
    expected = _step_that_reads(NAN_AT, 32)
    assert nan["metrics"]["diverged_step"] == expected == nan["history"]["diverged_step"]
    assert nan["metrics"]["diverged_layer"] == "input" and nan["metrics"]["diverged_in"] == "data"
    assert exploded["metrics"]["diverged_step"] == exploded["history"]["diverged_step"]
    # by hand: step 1's update (lr 1e30) makes every weight ~1e30 x its gradient; at step 2 the stem's
    # output (~1e29) is still finite in float32 and the block's (~1e29 x 1e29 x 8) overflows (forward)
    where = {k: exploded["metrics"][k] for k in ("diverged_step", "diverged_layer", "diverged_in")}
    assert where == {"diverged_step": 2, "diverged_layer": "blocks.0.layer", "diverged_in": "forward"}
    assert "diverged_step" not in ok["metrics"]


def _overflowing(layer: str, scale: float):
    """An MLP whose layers before ``layer`` pass on values >= 1 and whose ``layer`` has every weight
    equal to ``scale``: its output is at least 8 * scale, on every example."""

    def build():
        torch.manual_seed(0)
        model = create_model("mlp", depth=4, width=8, input_shape=(2,), num_classes=2)
        with torch.no_grad():
            for name, module in model.named_modules():
                if name == layer:
                    module.weight.fill_(scale)
                    break
                if isinstance(module, torch.nn.Linear):
                    module.weight.fill_(0.1)
                    module.bias.fill_(1.0)
        return model

    return build


@pytest.mark.parametrize("block", ["blocks.0", "blocks.1"])
def test_the_layer_whose_output_overflows_is_named(block):
    data = load_dataset("xor", replicas=8)
    layer = _weight_layer(block)
    build = _overflowing(layer, 1e38)  # >= 8e38 > 3.4e38: float32 overflows to inf right at this layer
    history = fit(build(), data, epochs=1, batch_size=BATCH, quiet=True)
    assert history.status == "diverged" and history.diverged_step == 1
    found = locate_divergence(build, data, {"epochs": 1, "batch_size": BATCH}, history.diverged_step)
    assert found == {"step": 1, "layer": layer, "where": "forward"}
    # the control: the same net, unscaled, stays finite
    assert fit(_overflowing(layer, 1.0)(), data, epochs=1, batch_size=BATCH, quiet=True).status == "ok"


def _weight_layer(block: str) -> str:
    """The module name of the weight layer inside an MLP block."""
    model = create_model("mlp", depth=4, width=8, input_shape=(2,), num_classes=2)
    names = [n for n, m in model.named_modules() if n.startswith(block) and isinstance(m, torch.nn.Linear)]
    return names[0]


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="AMP runs on CUDA only")
def test_a_layer_that_overflows_in_fp16_but_not_in_fp32_is_named_on_cuda():
    data = load_dataset("xor", replicas=8)
    layer = _weight_layer("blocks.1")
    build = _overflowing(layer, 3e4)  # outputs >= 2.4e5: inf in fp16 (max 65504), finite in fp32 and bf16
    common = {"epochs": 1, "batch_size": BATCH, "device": "cuda", "quiet": True}
    assert fit(build(), data, amp="off", **common).status == "ok"
    assert fit(build(), data, amp="bf16", **common).status == "ok"
    history = fit(build(), data, amp="fp16", **common)
    assert history.status == "diverged"
    found = locate_divergence(build, data, {**common, "amp": "fp16"}, history.diverged_step)
    assert found["layer"] == layer and found["where"] == "forward"
