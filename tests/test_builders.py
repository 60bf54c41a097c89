"""Models from the user's own code: ``file.py:build`` and ``pkg.module:build`` builders, timm-style
``@register_model``, through create_model, train, doctor and study (a spawned worker imports the builder by
path; an edited builder reruns; a builder that raises is a failed run and the study goes on).
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from depthlab.cli import main
from depthlab.errors import DepthlabError
from depthlab.models import MODELS, builder_source_hash, create_model

BUILDER = """
from typing import Literal

from torch import nn


def build(depth: int, width: int = 16, act: Literal["relu", "tanh"] = "relu", input_shape=(3,), num_classes=2
):
    layers, features = [nn.Flatten()], input_shape[0]
    for _ in range(depth):
        layers += [nn.Linear(features, width), nn.ReLU() if act == "relu" else nn.Tanh()]
        features = width
    return nn.Sequential(*layers, nn.Linear(features, num_classes))


def bare(depth, width=4):  # no input_shape / num_classes: they are not passed
    return nn.Sequential(*[nn.Linear(width, width) for _ in range(depth)])


def failing(depth: int):
    if depth > 1:
        raise ValueError("depth %d is not supported\\nby this builder" % depth)
    return nn.Linear(3, 2)
"""


@pytest.fixture
def nets(tmp_path) -> Path:
    path = tmp_path / "nets.py"
    path.write_text(BUILDER)
    return path


def linears(model: nn.Module) -> list[nn.Linear]:
    return [m for m in model.modules() if isinstance(m, nn.Linear)]


def test_overrides_are_coerced_by_annotation_and_data_keys_passed_when_accepted(nets):
    model = create_model(f"{nets}:build", depth="3", width="8", act="tanh", input_shape=(5,), num_classes=4)
    layers = linears(model)
    assert len(layers) == 4 and layers[0].in_features == 5 and layers[-1].out_features == 4
    assert layers[1].in_features == 8 and isinstance(model[2], nn.Tanh)
    assert model.config.depth == 3 and model.config.width == 8
    bare = create_model(f"{nets}:bare", depth="2", width="6", input_shape=(9,), num_classes=3)
    assert [m.in_features for m in linears(bare)] == [6, 6]  # unannotated: 6 read as an int from "6"


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"widht": 3}, "unknown option for build 'widht'; did you mean 'width'?"),
        ({"width": "abc"}, "width='abc': expected int"),
        ({"act": "rleu"}, "unknown value for act 'rleu'; did you mean 'relu'?"),
    ],
)
def test_bad_overrides_get_the_same_one_line_errors_as_registered_models(nets, overrides, message):
    with pytest.raises(DepthlabError) as err:
        create_model(f"{nets}:build", depth=2, **overrides)
    assert message in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(DepthlabError, match="unknown option for MLPConfig 'widht'; did you mean 'width'"):
        create_model("mlp", widht=3)


def test_a_package_module_builder_and_timm_style_register_model(tmp_path, monkeypatch):
    package = tmp_path / "mypkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "zoo.py").write_text(
        textwrap.dedent(
            """
            from torch import nn
            from depthlab.models import register_model

            @register_model
            def tiny_zoo_net(depth: int = 2, input_shape=(4,), num_classes=3):
                return nn.Sequential(nn.Flatten(), *[nn.Linear(4, 4) for _ in range(depth)], nn.Linear(4, 3))
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        by_path = create_model("mypkg.zoo:tiny_zoo_net", depth=3)
        assert len(linears(by_path)) == 4
        assert len(linears(create_model("tiny_zoo_net", depth=1))) == 2  # registered on import
        expected = __import__("hashlib").sha256((package / "zoo.py").read_bytes()).hexdigest()[:16]
        assert (
            builder_source_hash("tiny_zoo_net") == expected == builder_source_hash("mypkg.zoo:tiny_zoo_net")
        )
    finally:
        MODELS._items.pop("tiny_zoo_net", None)
    assert builder_source_hash("mlp") is None


def test_an_edited_builder_file_is_imported_afresh_with_a_new_hash(nets):
    before = builder_source_hash(f"{nets}:build")
    assert len(linears(create_model(f"{nets}:build", depth=2))) == 3
    nets.write_text(BUILDER.replace("range(depth)", "range(depth + 1)"))
    assert builder_source_hash(f"{nets}:build") != before
    assert len(linears(create_model(f"{nets}:build", depth=2))) == 4


@pytest.mark.parametrize(
    "ref, message",
    [
        ("missing.py:build", "builder file 'missing.py' does not exist"),
        ("{nets}:biuld", "did you mean 'build'?"),
        ("{nets}:failing", "raised ValueError: depth 2 is not supported by this builder"),
        ("no_such_package_xyz.mod:build", "no module named 'no_such_package_xyz'"),
    ],
)
def test_bad_builder_references_are_one_line(nets, ref, message):
    with pytest.raises(DepthlabError) as err:
        create_model(ref.format(nets=nets), depth=2)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_a_builder_returning_something_else_or_failing_to_import(tmp_path):
    (tmp_path / "odd.py").write_text("def build(depth):\n    return 'a string'\n")
    (tmp_path / "broken.py").write_text("import no_such_module_abc\n")
    with pytest.raises(DepthlabError, match="returned str, not a torch.nn.Module"):
        create_model(f"{tmp_path / 'odd.py'}:build", depth=1)
    with pytest.raises(DepthlabError, match="importing it raised ModuleNotFoundError"):
        create_model(f"{tmp_path / 'broken.py'}:build", depth=1)


@pytest.fixture
def table(tmp_path) -> Path:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=80), "b": rng.normal(size=80), "c": rng.normal(size=80)})
    frame["y"] = np.where(frame["a"] + frame["b"] > 0, "pos", "neg")
    path = tmp_path / "table.csv"
    frame.to_csv(path, index=False)
    return path


def test_train_and_doctor_take_a_builder(nets, table, tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", f"{nets}:build", "depth=2", "width=8", "steps=5", "--data", str(table), "--target", "y"]
    assert main([*argv, "--quiet", "--out", str(out)]) == 0
    result = json.loads((out / "result.json").read_text())
    assert result["model_config"] == {
        "depth": 2,
        "width": 8,
        "act": "relu",
        "input_shape": [3],
        "num_classes": 2,
    }
    assert result["model_source_sha256"] == builder_source_hash(f"{nets}:build")
    assert result["data_meta"]["file"] == str(table.resolve()) and "table.csv" in capsys.readouterr().out
    from depthlab.data import load_dataset
    from depthlab.diagnose.doctor import doctor

    report = doctor(f"{nets}:build", load_dataset(table, target="y"), steps=20, every=5, twin=False, depth=3)
    assert {r["name"] for r in report.rows} == {"1", "3", "5", "7"}  # the builder's four Linear layers


def _tiny_depth_grid(monkeypatch) -> None:
    from depthlab.study.presets import depth

    tiny = {"depths": [1, 4], "seeds": [0], "steps": 5, "batch_size": 128, "width": 8, "train_size": 1000}
    monkeypatch.setitem(depth.SIZES, "quick", tiny)


def test_study_depth_sweeps_a_builder_in_spawned_workers_and_reruns_when_it_is_edited(
    nets, table, tmp_path, monkeypatch
):
    from depthlab.study.plan import plan
    from depthlab.study.runner import execute

    _tiny_depth_grid(monkeypatch)
    monkeypatch.chdir(tmp_path)

    def specs():
        monkeypatch.chdir(tmp_path)  # the user types relative paths
        (p,) = plan(["depth"], data=table.name, model="nets.py:build", data_options={"target": "y"})
        return p

    first = specs()
    assert "no parameter norm, residual" in first.note and len(first.specs) == 2  # variants collapsed
    spec = first.specs[0]
    assert spec["model"]["name"] == f"{nets.resolve()}:build" and spec["data"]["name"] == str(table.resolve())
    assert spec["sources"]["model"] == builder_source_hash(f"{nets}:build")
    assert (
        spec["data"]["sha256"][:12] in first.note and "table.csv" in first.note
    )  # the report names the file
    monkeypatch.chdir(Path(__file__).parent)  # the workers' working directory knows nothing of nets.py
    done = execute(first.specs, tmp_path / "study", workers=2, quiet=True)
    assert done.statuses == {"ok": 2}
    assert execute(specs().specs, tmp_path / "study", quiet=True).skipped == 2
    nets.write_text(BUILDER + "\n# edited\n")
    again = execute(specs().specs, tmp_path / "study", quiet=True)
    assert again.skipped == 0 and again.statuses == {"ok": 2}


def test_a_builder_that_raises_is_a_failed_run_and_the_study_goes_on(nets, table, tmp_path, monkeypatch):
    from depthlab.study.plan import plan
    from depthlab.study.runner import execute
    from depthlab.study.spec import run_hash
    from depthlab.study.store import Store

    _tiny_depth_grid(monkeypatch)
    (p,) = plan(["depth"], data=str(table), model=f"{nets}:failing", data_options={"target": "y"})
    assert "init, width left at failing()'s defaults" in p.note
    done = execute(p.specs, tmp_path / "study", quiet=True)
    assert done.statuses == {"ok": 1, "failed": 1}
    with Store(tmp_path / "study") as store:
        failed = [store.get(run_hash(s)) for s in p.specs if s["model"]["depth"] == 4][0]
    assert "depth 4 is not supported by this builder" in failed["error"]


def test_study_says_in_one_line_when_a_preset_needs_dials_the_builder_lacks(nets, table):
    from depthlab.study.plan import plan

    names = ["gradients", "depth", "nondeep"]  # nondeep needs images: it keeps its own data and model
    plans = {
        p.study.name: p
        for p in plan(names, data=str(table), model=f"{nets}:bare", data_options={"target": "y"})
    }
    assert "--model does not apply" in plans["nondeep"].note
    assert "needs dials" in plans["gradients"].note and "runs on its own model" in plans["gradients"].note
    assert all(s["model"]["name"] != f"{nets.resolve()}:bare" for s in plans["gradients"].specs)
    assert all(s["model"]["name"] == f"{nets.resolve()}:bare" for s in plans["depth"].specs)
    from depthlab.study.plan import reproduce

    again = reproduce(plans["depth"], "quick", "out")  # the report's command reruns it on the builder
    assert f"--model {nets.resolve()}:bare" in again and f"--data {table}" in again
    torch.manual_seed(0)


def test_the_depth_verdict_on_a_builder_without_norm_or_residual_judges_its_depth_sweep(nets, table):
    from depthlab.study.plan import plan
    from depthlab.study.presets.base import finished

    (p,) = plan(["depth"], data=str(table), model=f"{nets}:bare")
    gen = torch.Generator().manual_seed(0)
    rows = []
    for spec in p.specs:  # synthetic results: depth 1 -> 2 gains 10 points, then flat
        depth = spec["tags"]["depth"]
        acc = 0.8 + (0.1 if depth > 1 else 0.0) + 0.002 * torch.randn((), generator=gen).item()
        metrics = {"train_acc": acc, "val_acc": acc, "test_acc": acc}
        rows.append({**spec["tags"], "status": "ok", **metrics, "metrics": metrics, "history": {}})
    assert len(finished(rows)) == len(rows) and {r["variant"] for r in rows} == {"bare"}
    finding = p.study.analyze(rows)
    assert finding.clauses[0].comparison.name == "depth adds capacity"
    assert finding.clauses[0].outcome == "held"
    assert "need norm and residual parameters" in finding.verdict


def test_study_model_takes_a_registered_name_too():
    from depthlab.study.plan import plan

    (p,), (default,) = plan(["depth"], model="cnn1d"), plan(["depth"])
    assert {s["model"]["name"] for s in p.specs} == {"cnn1d"} and p.note == ""
    assert [s["tags"] for s in p.specs] == [
        s["tags"] for s in default.specs
    ]  # it has the dials: every variant
    assert all("sources" not in s for s in p.specs)  # depthlab's own code: keyed by config as before
