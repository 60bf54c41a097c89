"""The report: self-contained HTML (escaped user strings, inline PNGs), CSV, atomic writes, a real browser."""

from __future__ import annotations

import base64
import csv
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from depthlab import atomic, stats
from depthlab.study.plan import Plan
from depthlab.study.presets.base import Study, decide, mean_by, pct, per_seed
from depthlab.study.presets.plotting import PALETTE, lines
from depthlab.study.report import write_report
from depthlab.study.runner import execute
from depthlab.study.spec import expand

EVIL = "<script>document.title='pwned'</script>"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def fake_run(spec):
    depth = spec["model"]["depth"]
    if depth == 3:
        raise ValueError("boom")
    if depth == 4:
        return {"status": "diverged", "metrics": {"train_acc": float("nan")}}
    acc = 1.0 - 0.1 * depth + 0.01 * spec["seed"]  # two seeds, the same 10-point gap: a zero-width interval
    return {"status": "ok", "metrics": {"train_acc": acc}, "history": {"converged": spec["seed"] == 0}}


def demo_grid(size, data):
    base = {"study": "demo", "model": {"name": "mlp"}, "data": {"name": data}}
    return expand(
        base,
        {
            "variant": {EVIL: {"model.norm": "x"}, "plain": {"model.norm": "none"}},
            "model.depth": [1, 2, 3, 4],
            "seed": [0, 1],
        },
    )


SHALLOW_WINS = stats.Comparison("shallow wins", "train accuracy, depth 1 minus depth 2", 1, 0.02)


def demo_analyze(rows):
    acc = mean_by([r for r in rows if r["variant"] == "plain"], "depth", "train_acc")
    shallow, deep = (per_seed(rows, "train_acc", variant="plain", depth=d) for d in (1, 2))
    detail = f"accuracy {pct(acc[1])} at depth 1, {pct(acc[2])} at depth 2"
    return decide([SHALLOW_WINS.judge_paired(shallow, deep)], rows, detail, recommended_depth=1)


def demo_plot(rows, figure):
    lines(figure.subplots(1, 1), rows, "depth", "train_acc", by="variant")


DEMO = Study("demo", f"a claim with {EVIL}", "an anchor", demo_grid, demo_analyze, demo_plot)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    plan = Plan(DEMO, "mnist1d", "", demo_grid("quick", "mnist1d"))
    execute(plan.specs, out, run_fn=fake_run, quiet=True)
    return write_report([plan], out, size="quick", data="mnist1d")


def test_report_verdict_and_summary_are_computed_from_the_stored_numbers(report):
    html = report.read_text()
    assert "accuracy 90.5% at depth 1, 80.5% at depth 2" in html
    assert re.search(r"recommended depth</th><td><b>1</b>", html)
    assert "depthlab study demo --quick --data mnist1d --out" in html
    import torch

    assert f"torch {torch.__version__}" in html  # where the runs ran, from the stored environment
    assert "8 ok, 4 failed, 4 diverged" in html


def test_each_verdict_shows_its_effect_interval_seeds_rule_and_convergence(report):
    html = report.read_text()
    assert "+10.0 [+10.0, +10.0] pts (n=2, paired t)" in html  # the effect and its interval, in points
    assert re.search(r"<td>2</td>\s*<td class=\"held\">held</td>", html)  # seeds, then the outcome
    assert SHALLOW_WINS.rule().replace(">", "&gt;") in html
    assert "converged: 4 of 8" in html  # seed 0 of the 8 ok runs; failed and diverged runs did not say
    assert re.search(r'<th class="held">held</th><td><b>1</b></td>', html)  # the summary counts outcomes
    assert re.search(r'<th class="failed">did not hold</th><td><b>0</b></td>', html)


def test_user_strings_are_escaped_and_the_page_is_self_contained(report):
    html = report.read_text()
    assert "<script>" not in html.lower()
    assert "&lt;script&gt;document.title=" in html
    assert not re.search(r"(src|href)=\"(https?:)?//", html)  # nothing fetched from anywhere
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    assert len(images) == 1 and base64.b64decode(images[0]).startswith(PNG_MAGIC)
    assert (report.parent / "demo.png").read_bytes().startswith(PNG_MAGIC)


def test_results_csv_has_one_row_per_run_with_status_and_tags(report):
    with open(report.parent / "results.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 16
    assert sorted(r["status"] for r in rows) == ["diverged"] * 4 + ["failed"] * 4 + ["ok"] * 8
    plain2 = [r for r in rows if r["variant"] == "plain" and r["depth"] == "2" and r["seed"] == "0"]
    assert float(plain2[0]["train_acc"]) == pytest.approx(0.8)


def test_one_palette_gives_a_variant_the_same_colour_in_every_panel(report):
    from matplotlib.figure import Figure

    figure = Figure()
    rows = [{"variant": v, "depth": 1, "seed": 0, "status": "ok", "train_acc": 0.5} for v in ("b", "a")]
    first, second = figure.subplots(1, 2)
    lines(first, rows, "depth", "train_acc", by="variant")
    lines(second, list(reversed(rows)), "depth", "train_acc", by="variant")
    colours = [[bar.lines[0].get_color() for bar in ax.containers] for ax in (first, second)]
    assert colours[0] == colours[1] and colours[0][0] != colours[0][1]
    assert PALETTE("a") == colours[0][0]  # tags are drawn in sorted order: "a" first


def test_no_temporary_files_are_left_behind(report):
    assert not [p.name for p in report.parent.iterdir() if p.name.endswith(".tmp")]


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path, monkeypatch):
    target = atomic.write_text(tmp_path / "a.txt", "old")

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic.os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space"):
        atomic.write_bytes(target, b"new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


CHECK_SCRIPT = (
    "window.addEventListener('load', () => { const imgs = [...document.images]; "
    "const ok = imgs.filter(i => i.complete && i.naturalWidth > 0).length; "
    "const d = document.createElement('div'); d.id = 'imgcheck'; "
    "d.textContent = 'images=' + imgs.length + ' rendered=' + ok + ' title=' + document.title; "
    "document.body.appendChild(d); });"
)

BROWSER_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _browser(args: list[str], profile: Path) -> subprocess.CompletedProcess:
    command = [_chromium(), *BROWSER_FLAGS, f"--user-data-dir={profile}", *args]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=120, env={**os.environ, "HOME": str(profile)}
    )


@pytest.mark.skipif(_chromium() is None, reason="chromium is not installed (apt-get install -y chromium)")
def test_report_opens_in_a_headless_browser_without_errors_and_every_image_renders(report, tmp_path):
    # A copy with a checker script: the report itself carries none, and its CSP forbids scripts; the copy's
    # CSP
    # allows exactly this script (by hash), so any other script (an unescaped user string) would still be
    # blocked.
    import hashlib

    digest = base64.b64encode(hashlib.sha256(CHECK_SCRIPT.encode()).digest()).decode()
    html = report.read_text().replace(
        "default-src 'none';", f"default-src 'none'; script-src 'sha256-{digest}';"
    )
    checked = tmp_path / "checked.html"
    checked.write_text(html.replace("</body>", f"<script>{CHECK_SCRIPT}</script></body>"))
    dom = _browser(
        ["--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000", "--dump-dom", checked.as_uri()],
        tmp_path / "profile1",
    )
    match = re.search(r'id="imgcheck">images=(\d+) rendered=(\d+) title=([^<]*)<', dom.stdout)
    assert match, f"the check did not run; browser stderr:\n{dom.stderr[-2000:]}"
    assert match.group(1) == match.group(2) == "1"
    assert match.group(3) == "depthlab study report"  # the <script> run name did not execute
    console_errors = [
        line
        for line in dom.stderr.splitlines()
        if "CONSOLE" in line.upper() and re.search(r"error|uncaught|refused", line, re.I)
    ]
    assert not console_errors, console_errors
    shot = tmp_path / "report.png"
    _browser(["--window-size=1280,2000", f"--screenshot={shot}", report.as_uri()], tmp_path / "profile2")
    assert shot.exists() and shot.read_bytes().startswith(PNG_MAGIC)
    print(f"report screenshot: {shot}")


def test_the_verdicts_are_written_beside_the_report_for_the_terminal_and_programs(report):
    from depthlab.study import summary

    (record,) = summary.read(report.parent)
    assert record["study"] == "demo" and record["outcome"] == stats.HELD
    assert (
        record["clause"] == "shallow wins" and record["effect"] == "+10.0 [+10.0, +10.0] pts (n=2, paired t)"
    )
    assert summary.lines([record])[0].startswith("held          demo shallow wins: +10.0 [+10.0, +10.0] pts")
