"""The quick study at toy size, for the GPU check's dry run: the first ``--max-runs`` runs of each chosen
preset on ``--device``, each run's training cut to ``--steps`` steps, through the same plan, runner, tasks,
measures and report as ``depthlab study`` (which the check runs unchanged on the GPU); then the study's row
for ``gpu_table.py``.

    python benchmarks/gpu_study.py cost --device cpu --steps 5 --max-runs 2 --out DIR --json rows.jsonl
"""

from __future__ import annotations

import argparse
import sys

from depthlab.study.plan import plan
from depthlab.study.report import write_report
from depthlab.study.runner import execute


def shortened(spec: dict, steps: int) -> dict:
    """The spec with its training cut to ``steps`` optimizer steps (specs that do not train are kept)."""
    if "train" not in spec:
        return spec
    return {**spec, "train": {**spec["train"], "steps": steps}}


def main(argv: list[str] | None = None) -> int:
    from gpu_table import emit_study_row

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="+", help="presets")
    parser.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--max-runs", type=int, default=2, help="runs kept per preset")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--out", required=True)
    parser.add_argument("--json", required=True)
    args = parser.parse_args(argv)
    plans = plan(args.names, "quick", None, args.device)
    for p in plans:
        p.specs = [shortened(s, args.steps) for s in p.specs[: args.max_runs]]
    execute([s for p in plans for s in p.specs], args.out, workers=args.workers, quiet=True)
    print("report:", write_report(plans, args.out, size="quick"))
    return emit_study_row(args.json, args.out, plans, args.device, f"toy quick study ({args.steps} steps)")


if __name__ == "__main__":
    sys.exit(main())
