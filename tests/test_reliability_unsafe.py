"""Unsafe files: nothing depthlab reads runs code from the file, and user strings reach HTML only as text.

A payload here would ``touch`` a marker file if unpickled; every test asserts the marker never appears and the
error says what was refused.
"""

from __future__ import annotations

import io
import pickle
import zipfile

import pytest
import torch

from depthlab.data import load_dataset
from depthlab.data.cifar import safe_unpickle
from depthlab.errors import DepthlabError
from depthlab.models import create_model
from depthlab.study.report import write_report
from depthlab.study.spec import run_hash
from depthlab.study.store import Store
from depthlab.train import fit
from depthlab.train.checkpoint import load_checkpoint, load_weights
from faults.corrupt import CIFAR10_FILES, MakesMarker, good_checkpoint
from faults.tiny_study import tiny_plan


def _torch_save_bytes(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("format_", ["plain pickle", "torch.save zip"])
def test_a_checkpoint_holding_a_code_running_pickle_is_refused_without_running_it(format_, tmp_path):
    marker = tmp_path / "code-ran"
    folder = good_checkpoint(tmp_path / "ckpt")
    payload = {"model.weight": MakesMarker(marker)}
    raw = pickle.dumps(payload) if format_ == "plain pickle" else _torch_save_bytes(payload)
    if format_ == "torch.save zip":
        assert zipfile.is_zipfile(io.BytesIO(raw))  # really torch's format, which torch.load would unpickle
    (folder / "step-00000001.safetensors").write_bytes(raw)
    with pytest.raises(DepthlabError, match="unreadable checkpoint .*step-00000001"):
        load_checkpoint(folder)
    with pytest.raises(DepthlabError, match="unreadable checkpoint"):
        load_weights(torch.nn.Linear(3, 1), folder)
    assert not marker.exists()


def test_resuming_training_from_a_poisoned_checkpoint_is_refused(tmp_path):
    marker = tmp_path / "code-ran"
    data = load_dataset("xor", replicas=8)
    folder = tmp_path / "ckpt"
    fit(
        create_model("mlp", depth=2, width=4, **data.model_kwargs()),
        data,
        epochs=1,
        checkpoint_dir=str(folder),
        quiet=True,
    )
    (weights,) = folder.glob("*.safetensors")
    weights.write_bytes(pickle.dumps({"x": MakesMarker(marker)}))
    model = create_model("mlp", depth=2, width=4, **data.model_kwargs())
    with pytest.raises(DepthlabError, match="unreadable checkpoint"):
        fit(model, data, epochs=2, checkpoint_dir=str(folder), resume=True, quiet=True)
    assert not marker.exists()


@pytest.mark.parametrize(
    "global_",
    [
        ("posix", "system"),
        ("builtins", "eval"),
        ("builtins", "exec"),
        ("subprocess", "Popen"),
        ("numpy", "load"),
        ("os", "remove"),
    ],
)
def test_the_data_unpickler_refuses_every_global_but_numpy_array_rebuilding(global_, tmp_path):
    module, name = global_
    # GLOBAL opcode naming module.name, called with one string argument: what a hostile pickle does
    payload = b"c" + f"{module}\n{name}\n".encode() + b"(S'touch " + str(tmp_path / "x").encode() + b"'\ntR."
    with pytest.raises(DepthlabError, match=f"refusing to unpickle {module}.{name}"):
        safe_unpickle(payload, "batch")
    assert not (tmp_path / "x").exists()


def test_a_cifar_file_with_a_malicious_global_is_refused_by_load_dataset(tmp_path):
    marker = tmp_path / "code-ran"
    for name in CIFAR10_FILES:
        (tmp_path / name).write_bytes(pickle.dumps({"data": MakesMarker(marker), "labels": [0]}, protocol=2))
    with pytest.raises(DepthlabError, match="data_batch_1: refusing to unpickle posix.system"):
        load_dataset("cifar10", root=str(tmp_path))
    assert not marker.exists()


HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def test_user_strings_in_the_report_are_shown_as_text(tmp_path):
    plans = tiny_plan(runs=2, name="tiny", claim=f"claim {HOSTILE}")
    specs = plans[0].specs
    for spec in specs:
        spec["tags"]["depth"] = f"d{spec['tags']['depth']} {HOSTILE}"
    with Store(tmp_path) as store:
        store.put(run_hash(specs[0]), "tiny", specs[0], {"status": "failed", "error": f"boom {HOSTILE}"})
        store.put(run_hash(specs[1]), "tiny", specs[1], {"status": "ok", "metrics": {"test_acc": 0.5}})
    html = write_report(plans, tmp_path).read_text()
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(" in html  # the claim is there, as text
