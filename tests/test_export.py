"""``depthlab export``: every registry model and a user's builder as ONNX (run by onnxruntime) or a
``torch.export`` program, ParNet in its deploy form by default, a trained run with its weights.

Oracles: PyTorch eager on the deploy form (``depthlab.deploy.deploy_form``), on a fresh input and batch size
the export never saw; the depth meter (``longest_path_depth``) and ParNet's published depth 12 (arXiv
2110.07641) for the depth read from the ONNX graph; the checkpoint's own tensors for a trained run's weights.
"""

from __future__ import annotations

import sys
import textwrap

import pytest
import torch
from safetensors.torch import load_file

from depthlab.cli import main
from depthlab.deploy import deploy_form
from depthlab.errors import DepthlabError
from depthlab.export import ATOL, RTOL, export_model, onnx_depth
from depthlab.models import create_model, list_models


def small(name: str) -> dict:
    """Overrides that keep each registered model tiny (its depth as registered, except the CIFAR ResNets)."""
    if name in ("mlp", "mlp_basic"):
        return dict(depth=4, width=8)
    if name == "cnn1d":
        return dict(depth=3, width=4)
    if name == "cnn2d":
        return dict(depth=3, width=4, input_shape=(3, 12, 12))
    if name in ("resnet_cifar", "plain_cifar"):
        return dict(depth=8, width=4, input_shape=(3, 8, 8))
    if name.startswith("parnet"):
        return dict(width=4, input_shape=(3, 32, 32), num_classes=10)
    return dict(width=4, input_shape=(3, 16, 16), num_classes=10)


def eager(model, x):
    with torch.no_grad():
        return deploy_form(model)(x)


def run_onnx(path, x):
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return torch.from_numpy(session.run(None, {"input": x.numpy()})[0])


@pytest.mark.extra("onnx")
@pytest.mark.parametrize("name", list_models())
def test_every_registry_model_runs_in_onnxruntime_as_in_pytorch(name, tmp_path):
    torch.manual_seed(0)
    model = create_model(name, **small(name))
    done = export_model(model, tmp_path / f"{name}.onnx")
    assert done.checked_by == "onnxruntime" and done.form == "deploy"
    x = torch.randn(3, *model.config.input_shape)  # batch 3: the exported batch axis is dynamic
    torch.testing.assert_close(run_onnx(done.path, x), eager(model, x), rtol=RTOL, atol=ATOL)
    assert done.graph_depth == onnx_depth(done.path) == done.meter_depth


@pytest.mark.extra("onnx")
def test_parnet_is_exported_fused_and_its_onnx_graph_is_12_deep(tmp_path):
    import onnx

    model = create_model("parnet_s", width=8, input_shape=(3, 64, 64), num_classes=10)
    deploy = export_model(model, tmp_path / "deploy.onnx")
    train = export_model(model, tmp_path / "train.onnx", form="train")
    assert deploy.graph_depth == train.graph_depth == 12  # the paper's depth, in either form

    def convs(path):
        return sum(node.op_type == "Conv" for node in onnx.load(str(path)).graph.node)

    fused = deploy_form(model)
    assert convs(deploy.path) == sum(isinstance(m, torch.nn.Conv2d) for m in fused.modules())
    assert convs(deploy.path) < convs(train.path)  # each block's 3x3 and 1x1 branches are one conv


@pytest.mark.parametrize("name", ["mlp", "resnet_cifar", "parnet_cifar_s"])
def test_a_torch_export_program_computes_what_the_deploy_form_does(name, tmp_path):
    torch.manual_seed(0)
    model = create_model(name, **small(name))
    done = export_model(model, tmp_path / f"{name}.pt2", format="torch-export", batch=2)
    assert done.checked_by == "torch.export.load" and done.graph_depth is None
    x = torch.randn(2, *model.config.input_shape)
    with torch.no_grad():
        got = torch.export.load(str(done.path)).module()(x)
    torch.testing.assert_close(got, eager(model, x), rtol=RTOL, atol=ATOL)


@pytest.mark.extra("onnx")
def test_a_users_builder_exports_from_the_command_line(tmp_path, monkeypatch, capsys):
    builder = tmp_path / "nets.py"
    builder.write_text(
        textwrap.dedent(
            """
            from torch import nn

            def build(depth: int, width: int = 8, input_shape: tuple = (5,), num_classes: int = 2):
                layers, features = [], input_shape[0]
                for _ in range(depth):
                    layers += [nn.Linear(features, width), nn.Tanh()]
                    features = width
                return nn.Sequential(*layers, nn.Linear(features, num_classes))
            """
        )
    )
    monkeypatch.chdir(tmp_path)
    assert main(["export", f"{builder}:build", "depth=4"]) == 0
    out = capsys.readouterr().out
    assert "wrote build.onnx" in out and "onnxruntime" in out and "5 read from the ONNX graph" in out
    assert onnx_depth(tmp_path / "build.onnx") == 5  # four hidden layers and the head


@pytest.mark.extra("onnx")
def test_a_trained_run_exports_with_its_trained_weights(tmp_path):
    import onnx
    from onnx import numpy_helper

    run = tmp_path / "run"
    argv = ["train", "mlp", "depth=2", "width=8", "steps=5", "device=cpu", "--data", "xor", "--quiet"]
    assert main([*argv, "--out", str(run)]) == 0
    assert main(["export", str(run), "--out", str(tmp_path / "mlp.onnx")]) == 0
    (weights,) = (run / "checkpoints").glob("*.safetensors")
    trained = {
        k.removeprefix("model."): v for k, v in load_file(str(weights)).items() if k.startswith("model.")
    }
    stored = {
        i.name: numpy_helper.to_array(i) for i in onnx.load(str(tmp_path / "mlp.onnx")).graph.initializer
    }
    matrices = [k for k, v in trained.items() if v.dim() == 2]
    assert matrices and all(torch.equal(torch.from_numpy(stored[k].copy()), trained[k]) for k in matrices)


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["export", "mlp", "--format", "onx"], ["'onx'", "'onnx'", "torch-export"]),
        (["export", "mlpp"], ["unknown model 'mlpp'", "'mlp'"]),
        (["export", "mlp", "dept=3"], ["'dept'", "'depth'"]),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(argv, words, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and all(word in err for word in words)
    assert not any(tmp_path.iterdir())


def test_without_onnx_the_error_names_the_extra_and_nothing_is_left(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # None in sys.modules: the import fails
    with pytest.raises(DepthlabError, match=r"pip install 'depthlab\[onnx\]'"):
        export_model(create_model("mlp", **small("mlp")), tmp_path / "m.onnx")
    assert not any(tmp_path.iterdir())
