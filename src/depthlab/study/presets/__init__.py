"""The study presets, by name (each maps to a claim in the seeds; see docs/studies.md)."""

from __future__ import annotations

from depthlab.errors import unknown
from depthlab.study.presets.base import SIZES, Finding, Study

_MODULES = (
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


def _load() -> dict[str, Study]:
    import importlib

    found = {}
    for name in _MODULES:
        try:
            module = importlib.import_module(f"depthlab.study.presets.{name}")
        except ModuleNotFoundError as err:
            if err.name != f"depthlab.study.presets.{name}":
                raise
            continue
        found[module.STUDY.name] = module.STUDY
    return found


STUDIES: dict[str, Study] = _load()


def list_studies() -> list[str]:
    """Preset names in suite order."""
    return list(STUDIES)


def get_study(name: str) -> Study:
    """The preset ``name``; an unknown name raises DepthlabError with the valid ones."""
    if name not in STUDIES:
        raise unknown("study", name, STUDIES)
    return STUDIES[name]


__all__ = ["SIZES", "STUDIES", "Finding", "Study", "get_study", "list_studies"]
