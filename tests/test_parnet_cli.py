"""``depthlab reparam IN OUT``: a trained checkpoint becomes a fused one that computes the same function."""

import json

import pytest
import torch
from safetensors.torch import save_file

from depthlab.cli import main
from depthlab.deploy import load_deployed
from depthlab.models import create_model
from depthlab.models.reparam import randomize_batchnorm
from depthlab.train.checkpoint import save_checkpoint

CONFIG = {"width": 8, "input_shape": [1, 28, 28], "num_classes": 10}


@pytest.fixture
def trained():
    model = create_model("parnet_lite", **CONFIG)
    randomize_batchnorm(model)  # stands in for trained statistics
    return model.eval()


def outputs_match(model, path):
    fused = load_deployed(path)
    x = torch.randn(3, 1, 28, 28)
    with torch.no_grad():
        torch.testing.assert_close(fused(x), model(x), rtol=1e-5, atol=1e-5)
    return fused


def test_converts_a_training_checkpoint_folder(tmp_path, trained, capsys):
    state = {f"model.{k}": v for k, v in trained.state_dict().items()}
    save_checkpoint(tmp_path / "run", "step-00000010", state, {"step": 10})
    code = main(
        [
            "reparam",
            str(tmp_path / "run"),
            str(tmp_path / "deploy"),
            "--model",
            "parnet_lite",
            *(f"{k}={','.join(map(str, v)) if isinstance(v, list) else v}" for k, v in CONFIG.items()),
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "deploy form, depth 9" in out and "max relative error" in out
    fused = outputs_match(trained, tmp_path / "deploy")
    assert fused.is_fused
    assert sum(p.numel() for p in fused.parameters()) < sum(p.numel() for p in trained.parameters())
    assert json.loads((tmp_path / "deploy.json").read_text())["form"] == "deploy"


def test_converts_a_safetensors_file_with_json_config(tmp_path, trained):
    save_file(trained.state_dict(), str(tmp_path / "w.safetensors"))
    (tmp_path / "w.json").write_text(json.dumps({"model": "parnet_lite", "config": CONFIG}))
    assert main(["reparam", str(tmp_path / "w.safetensors"), str(tmp_path / "out" / "fused")]) == 0
    outputs_match(trained, tmp_path / "out" / "fused.safetensors")


def test_bad_input_is_one_line_and_exit_2(tmp_path, trained, capsys):
    save_file(trained.state_dict(), str(tmp_path / "w.safetensors"))
    assert main(["reparam", str(tmp_path / "w.safetensors"), str(tmp_path / "o")]) == 2
    assert "--model" in capsys.readouterr().err
    weights, out = str(tmp_path / "w.safetensors"), str(tmp_path / "o")
    assert main(["reparam", weights, out, "--model", "parnet_lite"]) == 2
    assert "do not fit" in capsys.readouterr().err  # default width 16 vs the saved width 8
    assert main(["reparam", str(tmp_path / "missing.safetensors"), str(tmp_path / "o")]) == 2
    assert "no such checkpoint" in capsys.readouterr().err


def test_a_write_cut_short_leaves_no_half_written_file(tmp_path, trained, monkeypatch):
    import depthlab.deploy as deploy

    save_file(trained.state_dict(), str(tmp_path / "w.safetensors"))
    (tmp_path / "w.json").write_text(json.dumps({"model": "parnet_lite", "config": CONFIG}))

    def disk_full(tensors, path):
        open(path, "wb").write(b"half a file")
        raise OSError("No space left on device")

    monkeypatch.setattr(deploy, "save_file", disk_full)
    with pytest.raises(OSError, match="No space"):
        deploy.convert_checkpoint(tmp_path / "w.safetensors", tmp_path / "out" / "fused")
    assert list((tmp_path / "out").iterdir()) == []  # neither the weights nor a temp file nor the JSON
