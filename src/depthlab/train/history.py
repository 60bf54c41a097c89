"""What a run returns: status, per-evaluation records, final metrics and speed, JSON-safe."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from depthlab.json_safe import json_safe


@dataclass
class History:
    """The outcome of ``fit``; a diverged run (status ``diverged``) is a result, not an error."""

    status: Literal["ok", "diverged"] = "ok"
    diverged_step: int | None = None
    records: list[dict[str, Any]] = field(default_factory=list)
    final: dict[str, float] = field(default_factory=dict)
    steps: int = 0
    wall_time: float = 0.0
    samples_per_sec: float = 0.0
    notes: list[str] = field(default_factory=list)
    converged: bool | None = (
        None  # None: plateau detection off; False: the budget (or a divergence) came first
    )
    curve: list[tuple[int, float]] = field(
        default_factory=list
    )  # (step, mean training loss, weighted by batch size) at each loss read
    plateau_step: int | None = None  # the step at which the plateau rule first held

    def to_dict(self) -> dict[str, Any]:
        """A plain dict for JSON: NaN and inf become None."""
        return json_safe(
            {
                "status": self.status,
                "diverged_step": self.diverged_step,
                "records": self.records,
                "final": self.final,
                "steps": self.steps,
                "wall_time": self.wall_time,
                "samples_per_sec": self.samples_per_sec,
                "notes": self.notes,
                "converged": self.converged,
                "curve": self.curve,
                "plateau_step": self.plateau_step,
            }
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> History:
        """The inverse of ``to_dict`` (None stays None)."""
        data = dict(data)
        data["curve"] = [(int(step), loss) for step, loss in data.get("curve", [])]
        return cls(**data)
