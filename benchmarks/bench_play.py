"""``depthlab play`` end to end: updates painted per second and step->paint latency in a real browser.

Targets (issue): a depth-64, width-64 MLP on MNIST-1D on the 2-core CPU paints >= 10 updates/s with a median
step->paint latency <= 100 ms; depth 256 still >= 2 updates/s. The real ``depthlab play`` process serves a
headless Chromium (Debian's, through Playwright) that loads the page by URL state with ``play=1``; after a
warm-up the page's own counters are read (updates painted, step->paint latency from the server's timestamp at
the end of the step to the end of the paint, paint time) along with the server's per-update timing (the last
training step, watch rows -> layer view, metrics/boundary/verdicts, JSON).

The baseline, in this same process: plain ``fit`` steps/s of the same model and data with no callbacks. The
ratio "play steps/s / fit steps/s" is what watching live costs the training itself. Server and baseline run
one torch thread each.

    python benchmarks/bench_play.py                  # depth 64 and 256, 10 s each
    python benchmarks/bench_play.py --depths 64 --seconds 20 --json rows.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time

import torch

from depthlab.data import load_dataset
from depthlab.models import create_model
from depthlab.train import fit


def start_server() -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}  # 1 thread, like the baseline
    argv = [sys.executable, "-m", "depthlab.cli", "play", "--no-browser", "--port", "0"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=env)
    box: list[str] = []
    reader = threading.Thread(target=lambda: box.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(180)
    if not box:
        proc.kill()
        raise SystemExit("depthlab play printed no address")
    return proc, box[0].split(": ", 1)[1].strip()


def fit_steps_per_s(depth: int, width: int, steps: int = 60) -> float:
    """The baseline: plain fit, no callbacks, same model and data."""
    data = load_dataset("mnist1d")
    model = create_model("mlp", depth=depth, width=width, **data.model_kwargs())
    fit(model, data, steps=10, quiet=True)  # warm-up
    started = time.perf_counter()
    fit(model, data, steps=steps, quiet=True, sync_every=steps)
    return steps / (time.perf_counter() - started)


def measure_page(browser, url: str, depth: int, width: int, seconds: float, warmup: float) -> dict:
    page = browser.new_page(viewport={"width": 1500, "height": 1300})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{url}#model=mlp&depth={depth}&width={width}&data=mnist1d&play=1")
    page.wait_for_function(
        "() => { const s = window.depthlabPlay.stats(); return s.painted > 3; }", timeout=180_000
    )
    page.wait_for_timeout(warmup * 1000)
    timing: list[dict] = []
    first = page.evaluate("window.depthlabPlay.stats()")
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        page.wait_for_timeout(250)
        timing.append(page.evaluate("window.depthlabPlay.stats().timing"))
    last = page.evaluate("window.depthlabPlay.stats()")
    elapsed = time.perf_counter() - started
    page.close()
    painted = last["painted"] - first["painted"]
    n_new = min(painted, len(last["latencies"]))
    latencies = last["latencies"][-n_new:] if n_new else [float("nan")]
    paint_ms = last["paintMs"][-n_new:] if n_new else [float("nan")]
    server = {k: statistics.fmean(t[k] for t in timing if t) for k in timing[-1]}  # views: a tick in 4
    steps = last["step"] - first["step"]
    return {
        "depth": depth,
        "width": width,
        "updates_per_s": painted / elapsed,
        "median_step_to_paint_ms": statistics.median(latencies),
        "p90_step_to_paint_ms": sorted(latencies)[int(0.9 * (len(latencies) - 1))],
        "play_steps_per_s": steps / elapsed,
        "paint_ms": statistics.median(paint_ms),
        "update_bytes": last["bytes"],
        **{f"server_{k}": v for k, v in server.items()},
        "page_errors": len(errors),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depths", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--json", help="append one JSON row per depth to this file")
    args = parser.parse_args()
    torch.set_num_threads(1)  # idle OpenMP threads spin: on a loaded 2-core machine a second one costs more
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("needs Debian's chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    proc, url = start_server()
    rows = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
            for depth in args.depths:
                print(f"depth {depth}: measuring the page ...", file=sys.stderr, flush=True)
                row = measure_page(browser, url, depth, args.width, args.seconds, args.warmup)
                print(f"depth {depth}: the fit baseline ...", file=sys.stderr, flush=True)
                row["fit_steps_per_s"] = fit_steps_per_s(depth, args.width)  # after: never both at once
                row["steps_ratio_play_vs_fit"] = row["play_steps_per_s"] / row["fit_steps_per_s"]
                rows.append(row)
                print_table([row])  # as soon as it is measured
            browser.close()
    finally:
        proc.terminate()
        proc.wait(30)
    if args.json:
        with open(args.json, "a") as handle:
            for row in rows:
                handle.write(json.dumps(row) + "\n")


def print_table(rows: list[dict]) -> None:
    print(f"torch {torch.__version__}, CPU threads {torch.get_num_threads()}, load {os.getloadavg()[0]:.1f}")
    head = (
        "depth | updates/s | step->paint median (p90) ms | play steps/s | fit steps/s | ratio | "
        "server ms: train / stats / views / json | paint ms | bytes"
    )
    print(head)
    for r in rows:
        server = " / ".join(
            f"{r[f'server_{k}']:.1f}" for k in ("train_ms", "stats_ms", "views_ms", "json_ms")
        )
        print(
            f"{r['depth']:5d} | {r['updates_per_s']:9.1f} | {r['median_step_to_paint_ms']:6.0f} "
            f"({r['p90_step_to_paint_ms']:.0f}) | {r['play_steps_per_s']:12.1f} | "
            f"{r['fit_steps_per_s']:11.1f} | "
            f"{r['steps_ratio_play_vs_fit']:5.2f} | {server} | {r['paint_ms']:.1f} | {r['update_bytes']}"
        )


if __name__ == "__main__":
    main()
