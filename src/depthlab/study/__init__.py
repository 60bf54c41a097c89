"""Studies: declarative grids of runs, a resumable runner (local pool or Ray), a SQLite store, an HTML report.

``run_suite(["residual"], size="quick", data="mnist1d", out="runs/study")`` runs presets, writes the report;
``execute(specs, out)`` runs any list of run specs; ``Store(out)`` reads what is stored, ``results(out)`` as a
pandas DataFrame (one row per run). See docs/studies.md.
"""

from depthlab.study.presets import get_study, list_studies
from depthlab.study.results import results
from depthlab.study.runner import execute
from depthlab.study.store import Store
from depthlab.study.suite import plan, run_suite

__all__ = ["Store", "execute", "get_study", "list_studies", "plan", "results", "run_suite"]
