"""A load study: N tiny runs (a depth-1 MLP, a few steps on XOR) on a pool of worker processes.

Each result carries a 64 KB diagnostics blob, so a driver that kept finished results in memory would grow by
64 KB per run, far above measurement noise; the driver prints its peak resident memory (VmHWM) as JSON.
"""

from __future__ import annotations

import json
import sys

BLOB = 64 * 1024


def tiny_run(spec):
    """``run_spec`` plus a large diagnostics entry (stored in the database, never needed in memory)."""
    from depthlab.study.tasks import run_spec

    result = dict(run_spec(spec))
    result["diagnostics"] = {"blob": "x" * BLOB}
    return result


def load_specs(n: int) -> list[dict]:
    """``n`` distinct tiny runs (distinct seeds)."""
    return [
        {
            "task": "train",
            "study": "load",
            "seed": i,
            "model": {"name": "mlp", "depth": 1},
            "data": {"name": "xor"},
            "train": {"steps": 3, "batch_size": 4, "eval_every": 1},
            "tags": {"i": i},
        }
        for i in range(n)
    ]


def peak_rss_kb() -> int:
    """This process's peak resident set size in kB (Linux ``VmHWM``)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


def main(out: str, runs: int, workers: int) -> None:
    from depthlab.study.runner import execute

    summary = execute(load_specs(runs), out, run_fn=tiny_run, workers=workers, quiet=True)
    print(json.dumps({"peak_kb": peak_rss_kb(), "ran": summary.ran, "statuses": dict(summary.statuses)}))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
