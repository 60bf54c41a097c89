"""The study presets, by name (each maps to a claim in the seeds; see docs/studies.md).

Each preset is the module ``depthlab.study.presets.<name>`` with a module-level ``STUDY``; the one list of
names below is also the order the report shows them in.
"""

from __future__ import annotations

import importlib

from depthlab.errors import unknown
from depthlab.study.presets.base import SIZES, Finding, Study

SUITE = (
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
)
# In the full suite, and in the quick one by name only (the default quick suite keeps its 10-minute budget).
FULL_ONLY = ("rank_collapse", "transformer_norm", "transformer_shape")
STUDIES: dict[str, Study] = {
    name: importlib.import_module(f"depthlab.study.presets.{name}").STUDY for name in SUITE + FULL_ONLY
}


def list_studies(size: str = "quick") -> list[str]:
    """The names a suite of ``size`` runs when none are given, in report order (``STUDIES`` has them all)."""
    return list(SUITE) + (list(FULL_ONLY) if size == "full" else [])


def get_study(name: str) -> Study:
    """The preset ``name``; an unknown name raises DepthlabError with the valid ones."""
    if name not in STUDIES:
        raise unknown("study", name, STUDIES)
    return STUDIES[name]


__all__ = ["FULL_ONLY", "SIZES", "STUDIES", "SUITE", "Finding", "Study", "get_study", "list_studies"]
