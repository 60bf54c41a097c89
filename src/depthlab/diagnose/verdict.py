"""A doctor's verdict: one check, its status, the evidence in words, and the overrides to try."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from depthlab.page import html_table

PROBLEM, OK, NOTE = "PROBLEM", "ok", "note"
Status = Literal["PROBLEM", "ok", "note"]
COLUMNS = ("check", "status", "message", "try")  # a verdict as a table row (notebooks, TensorBoard, W&B)


def format_value(value: Any) -> str:
    """A remedy value as the user types it back: ``true``, ``0.0001``, ``he_normal``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


@dataclass(frozen=True)
class Verdict:
    """``status`` is PROBLEM (something to fix), ok (checked, healthy) or note (not judged, or a finding that
    is not a problem, such as a slower start); ``remedy`` holds overrides, never one already set."""

    check: str
    status: Status
    message: str
    remedy: dict[str, Any] = field(default_factory=dict)

    @property
    def problem(self) -> bool:
        return self.status == PROBLEM

    def try_text(self) -> str:
        return " ".join(f"{k}={format_value(v)}" for k, v in self.remedy.items())

    def line(self) -> str:
        """``PROBLEM vanishing gradients: <evidence> — try norm=batch`` or ``ok vanishing gradients: ...``."""
        head = f"{self.status} {self.check}: {self.message}"
        return f"{head} — try {self.try_text()}" if self.remedy else head

    def cells(self) -> list[str]:
        """The verdict as a row of ``COLUMNS``."""
        return [self.check, self.status, self.message, self.try_text()]

    def _repr_html_(self) -> str:
        return html_table(COLUMNS, [self.cells()])

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "status": self.status,
            "message": self.message,
            "remedy": dict(self.remedy),
        }


def problems_first(verdicts: Iterable[Verdict]) -> list[Verdict]:
    """Problems, then notes, then the healthy checks, each group in its own order."""
    rank = {PROBLEM: 0, NOTE: 1}
    return sorted(verdicts, key=lambda v: rank.get(v.status, 2))


class Verdicts(list):
    """A list of verdicts that a notebook shows as one table, problems first."""

    def _repr_html_(self) -> str:
        return html_table(COLUMNS, [v.cells() for v in problems_first(self)])
