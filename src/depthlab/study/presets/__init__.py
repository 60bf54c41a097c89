"""The study presets, by name (each maps to a claim in the seeds; see docs/studies.md)."""

from __future__ import annotations

from depthlab.errors import unknown
from depthlab.study.presets import (
    composition,
    cost,
    depth,
    gradients,
    nondeep,
    normalization,
    overfitting,
    representation,
    residual,
    transfer,
    width_vs_depth,
)
from depthlab.study.presets.base import SIZES, Finding, Study

_SUITE = (  # the report shows the studies in this order
    depth,
    gradients,
    normalization,
    residual,
    overfitting,
    representation,
    composition,
    cost,
    transfer,
    width_vs_depth,
    nondeep,
)
STUDIES: dict[str, Study] = {module.STUDY.name: module.STUDY for module in _SUITE}


def list_studies() -> list[str]:
    """Preset names in suite order."""
    return list(STUDIES)


def get_study(name: str) -> Study:
    """The preset ``name``; an unknown name raises DepthlabError with the valid ones."""
    if name not in STUDIES:
        raise unknown("study", name, STUDIES)
    return STUDIES[name]


__all__ = ["SIZES", "STUDIES", "Finding", "Study", "get_study", "list_studies"]
