"""``benchmarks/gpu_check.sh``: its dry run runs every step at toy size on the CPU and writes one table with
every row (device, torch, dtype, memory format, batch, mode); a step over its time limit keeps the other
steps' rows and fails the check; the targets are judged on GPU rows only, with the miss said in percent."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "gpu_check.sh"
sys.path.insert(0, str(ROOT / "benchmarks"))

import gpu_table  # noqa: E402


def run_check(out: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "OUT": str(out), "PYTHON": sys.executable, **env}
    return subprocess.run(
        ["bash", str(SCRIPT), *args], capture_output=True, text=True, env=environment, timeout=420
    )


def table_rows(path: Path) -> list[dict[str, str]]:
    """The Markdown table as dicts keyed by its header."""
    lines = [line for line in path.read_text().splitlines() if line.startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    assert header == list(gpu_table.COLUMNS)
    return [
        dict(zip(header, (c.strip() for c in line.strip("|").split("|")), strict=True)) for line in lines[2:]
    ]


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("gpu_check")
    done = run_check(out, "--dry-run")
    return done, table_rows(out / "gpu_check.md")


def step_results(rows, step) -> list[str]:
    return [r["result"] for r in rows if r["step"] == step and r["case"] == "step"]


def find(rows, step, case_part, **cells):
    return [
        r
        for r in rows
        if r["step"] == step and case_part in r["case"] and all(r[k] == v for k, v in cells.items())
    ]


@pytest.mark.slow
def test_the_dry_run_passes_every_step_and_prints_the_table_it_writes(dry_run):
    done, rows = dry_run
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    for step in ("tests", "engine", "parnet", "watch", "study"):
        assert step_results(rows, step) == ["ok"], step
    assert "| step | case | device |" in done.stdout  # the same table on stdout


@pytest.mark.slow
def test_every_row_says_device_torch_dtype_memory_format_batch_and_mode(dry_run):
    _, rows = dry_run
    assert len(rows) > 50
    for row in rows:
        assert row["device"] == "cpu" and row["torch"] == torch.__version__
        if row["case"] != "step" and row["step"] != "tests":
            assert all(row[k] not in ("", "?", "–") for k in ("dtype", "memory format", "batch", "mode")), row


@pytest.mark.slow
def test_every_engine_parnet_watch_and_study_case_has_its_row(dry_run):
    _, rows = dry_run
    for batch in ("16", "32"):
        assert len(find(rows, "engine", "naive loop", batch=batch, dtype="fp32", mode="eager")) == 1
        fits = find(rows, "engine", "fit (on-device crop+flip)", batch=batch)
        assert sorted(r["mode"] for r in fits) == ["eager", "eager (compile reduce-overhead is GPU-only)"]
        assert all(r["vs baseline"].endswith("× naive") for r in fits)
    models = ["ParNet-S train form", "ParNet-S deploy form", "ResNet-34", "ResNet-50"]
    parallel = ["ParNet-S train form, threads", "ParNet-S deploy form, threads"]
    for batch, layout in (("1", ("fp32", "NCHW")), ("4", ("bf16", "channels_last"))):
        for model in models + parallel:
            modes = ("eager", "graph", "compile") if model in models else ("eager", "graph")
            for mode in modes:
                hits = [
                    r
                    for r in find(rows, "parnet", model, batch=batch, mode=mode)
                    if r["case"] == model and (r["dtype"], r["memory format"]) == layout
                ]
                assert len(hits) == 1, (model, batch, mode)
                assert (
                    hits[0]["value"].endswith(" ms") if mode == "eager" else "GPU-only" in hits[0]["result"]
                )
    deploy_vs_train = find(rows, "parnet", "deploy form vs ParNet-S train form", batch="1")
    assert deploy_vs_train[0]["target"] == "≤ 0.7× train form" and deploy_vs_train[0]["result"] == "n/a (cpu)"
    variants = ["no watch", "watch every=10", "watch every=1", "callback every=10", "callback every=1"]
    assert [r["case"].split(", ")[-1] for r in find(rows, "watch", "MLP")] == variants
    study = find(rows, "study", "toy quick study")
    assert len(study) == 1 and study[0]["value"].startswith("2/2 stored: 2 ok") and study[0]["result"] == "ok"


@pytest.mark.slow
def test_a_step_over_its_limit_keeps_the_other_rows_and_fails_the_check(tmp_path):
    done = run_check(tmp_path, "--dry-run", "--only", "parnet,watch", GPU_CHECK_BUDGET_PARNET="1")
    assert done.returncode == 1
    rows = table_rows(tmp_path / "gpu_check.md")
    assert step_results(rows, "parnet")[0].startswith("timed out after 1 s")
    assert step_results(rows, "watch") == ["ok"]
    assert len(find(rows, "watch", "MLP")) == 5 and not find(rows, "engine", "")


def test_bad_options_and_a_missing_gpu_are_one_line_and_exit_2(tmp_path):
    done = run_check(tmp_path, "--dryrun")
    assert done.returncode == 2 and "unknown option '--dryrun'" in done.stderr
    if not torch.cuda.is_available():  # on a GPU this would start the real check
        done = run_check(tmp_path)
        assert done.returncode == 2 and "no CUDA GPU" in done.stderr


def gpu_row(**fields) -> dict:
    return {"step": "engine", "case": "c", "device": "NVIDIA H200", "torch": "2.11", **fields}


def test_targets_are_judged_on_gpu_rows_and_a_miss_says_by_how_much():
    met = gpu_table.cells(gpu_row(key="engine/fit/512", value=120_000.0, ratio=11.0, baseline="naive"))
    missed = gpu_table.cells(gpu_row(key="engine/fit/512", value=99_000.0, ratio=8.0, baseline="naive"))
    on_cpu = gpu_table.cells(gpu_row(key="engine/fit/512", value=10.0, ratio=1.0, device="cpu"))
    column = gpu_table.COLUMNS.index("result")
    assert met[column] == "met; met"
    assert missed[column] == "missed by 20%; missed by 10%"  # 8 vs >= 10, 99k vs >= 110k
    assert on_cpu[column] == "n/a (cpu)"
    at_most = gpu_table.cells(gpu_row(key="parnet/streams_vs_resnet34/graph/1", value=0.8, ratio=1.08))
    assert at_most[column] == "missed by 8%" and at_most[gpu_table.COLUMNS.index("vs baseline")] == "1.08×"


def test_a_row_cut_short_by_a_killed_writer_is_skipped(tmp_path):
    rows = tmp_path / "rows.jsonl"
    gpu_table.emit(str(rows), step="watch", case="a", value=1.0)
    with open(rows, "a") as f:
        f.write('{"step": "watch", "case": "b", "val')
    assert [r["case"] for r in gpu_table.read_rows([str(rows)])] == ["a"]


def test_every_test_that_skips_without_cuda_is_marked_gpu_so_the_check_runs_it():
    """A CUDA-only test without the gpu marker would never run in the GPU check (``pytest -m gpu``)."""
    unmarked = []
    for path in sorted((ROOT / "tests").glob("test_*.py")):
        lines = path.read_text().splitlines()
        file_marked = any("pytestmark" in line for line in lines) and "pytest.mark.gpu" in path.read_text()
        for i, line in enumerate(lines):
            needs_cuda = "skipif" in line and ("cuda.is_available()" in line or "cuda.device_count()" in line)
            if (
                needs_cuda
                and not file_marked
                and not any("mark.gpu" in x for x in lines[max(0, i - 3) : i + 3])
            ):
                unmarked.append(f"{path.name}:{i + 1}")
    assert not unmarked
