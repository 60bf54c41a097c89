"""``depthlab study`` on the command line: listing, bad input as one line + exit 2, a tiny end-to-end run."""

from __future__ import annotations

import sys

import pytest

from depthlab.cli import main
from depthlab.errors import DepthlabError
from depthlab.study import presets, suite
from depthlab.study.backends import import_ray, run_jobs


def test_list_names_every_preset_with_its_claim(capsys):
    assert main(["study", "--list"]) == 0
    out = capsys.readouterr().out
    for name in (
        "depth",
        "gradients",
        "normalization",
        "residual",
        "overfitting",
        "representation",
        "composition",
        "cost",
        "transfer",
        "width_vs_depth",
        "nondeep",
    ):
        assert name in out
    assert presets.get_study("residual").claim in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["study", "residul", "--out", "{tmp}"], "unknown study 'residul'; did you mean 'residual'?"),
        (["study", "residual", "--quick", "--full", "--out", "{tmp}"], "--quick and --full"),
        (["study", "residual", "--backend", "spark", "--out", "{tmp}"], "unknown backend 'spark'"),
        (["study", "--data", "mnist1dd", "--out", "{tmp}"], "unknown dataset 'mnist1dd'; did you mean"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, message, capsys, tmp_path):
    assert main([a.format(tmp=tmp_path) for a in argv]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_every_preset_has_quick_and_full_grids_with_seeds_and_the_data_applied():
    for name in presets.list_studies():
        study = presets.get_study(name)
        quick, full = study.grid("quick", "digits"), study.grid("full", "digits")
        assert 0 < len(quick) < len(full), name
        assert all("seed" in spec["tags"] for spec in quick), name
        assert len({spec["seed"] for spec in full}) >= 2, name
    plans = {p.study.name: p for p in suite.plan(None, "quick", "digits")}
    assert plans["depth"].specs[0]["data"]["name"] == "digits"
    assert plans["composition"].data == "sawtooth" and plans["composition"].data_applies is False
    nondeep = {p.study.name: p for p in suite.plan(["nondeep"], "quick", "mnist1d")}["nondeep"]
    assert nondeep.data == "digits" and "needs image data" in nondeep.note
    assert {p.study.name: p for p in suite.plan(["nondeep"], "quick", "mnist5k")}["nondeep"].data == "mnist5k"


def test_the_image_data_sets_come_from_the_registry():
    from depthlab.data.registry import DATASETS

    images = suite.image_datasets()
    assert {"digits", "mnist5k", "cifar10", "imagefolder"} <= set(images)
    assert not {"mnist1d", "sawtooth", "xor"} & set(images)
    assert all(DATASETS.get(name).layout == "image" for name in images)


def test_default_suite_is_the_quick_suite_on_mnist1d():
    plans = suite.plan()
    assert [p.study.name for p in plans] == presets.list_studies()
    assert not set(presets.FULL_ONLY) & set(presets.list_studies())  # full suite, or by name
    full = [p.study.name for p in suite.plan(None, "full")]
    assert full[-len(presets.FULL_ONLY) :] == list(presets.FULL_ONLY)
    assert suite.plan(["rank_collapse"])[0].data == "recall"
    assert suite.plan(["transformer_shape"], data="mnist1d")[0].data == "chars"  # its own data
    assert {p.data for p in plans if p.study.data_kinds == ("any",)} == {"mnist1d"}


def test_ray_backend_without_ray_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(
        sys.modules, "ray", None
    )  # `import ray` raises ImportError, whether or not ray is installed
    with pytest.raises(DepthlabError, match=r"pip install 'depthlab\[ray\]'"):
        import_ray()


def _double(spec):
    return {"status": "ok", "metrics": {"value": 2 * spec["x"]}}


@pytest.mark.extra("ray")
def test_ray_backend_runs_every_job_on_a_local_ray_instance():
    import ray

    # Ray's workers cannot import this test module by name: ship the run function by value.
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    try:
        jobs = [(str(i), {"x": i}) for i in range(6)]
        results = dict(run_jobs(jobs, _double, workers=2, backend="ray"))
        assert {k: r["metrics"]["value"] for k, r in results.items()} == {str(i): 2 * i for i in range(6)}
        assert all(r["status"] == "ok" and r["env"]["pid"] for r in results.values())
    finally:
        ray.shutdown()


def test_a_bad_spec_is_refused_before_any_run_starts():
    from depthlab.study.tasks import validate

    good = {"model": {"name": "mlp", "depth": 3}, "data": {"name": "mnist1d"}, "train": {"steps": 10}}
    validate(good)
    with pytest.raises(DepthlabError, match="activation"):
        validate({**good, "model": {"name": "mlp", "activation": "rleu"}})
    with pytest.raises(DepthlabError, match="lr"):
        validate({**good, "train": {"lr": -1}})
    with pytest.raises(DepthlabError, match="unknown diagnostic 'probe'"):
        validate({**good, "diagnostics": ["probe"]})


def test_the_residual_presets_quick_runs_are_the_depth_presets_runs_trained_once():
    from depthlab.study.spec import run_hash

    depth = {run_hash(s) for s in presets.get_study("depth").grid("quick", "mnist1d")}
    residual = [run_hash(s) for s in presets.get_study("residual").grid("quick", "mnist1d")]
    assert len(residual) == 20 and set(residual) <= depth
    planned = [s for p in suite.plan(["depth", "residual"]) for s in p.specs]
    assert len({run_hash(s) for s in planned}) == len(depth)  # the suite trains each of them once
