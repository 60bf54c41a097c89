"""Progress on the terminal: one overall bar (runs done / total, ETA) and the runs now in flight; or
silence."""

from __future__ import annotations

from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text


def describe(spec: dict[str, Any]) -> str:
    """A short label for a run: its study and grid coordinates, e.g. ``residual depth=20 variant=plain
    seed=0``."""
    tags = " ".join(f"{k}={v}" for k, v in spec.get("tags", {}).items())
    return f"{spec.get('study', '')} {tags}".strip()


class StudyProgress:
    """Live display of a study; ``quiet=True`` shows nothing."""

    def __init__(self, total: int, done: int = 0, quiet: bool = False, console: Console | None = None):
        self.quiet = quiet
        self.current: dict[str, str] = {}
        self.bar = Progress(
            TextColumn("[bold]runs"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("•"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=console,
        )
        self.task = self.bar.add_task("runs", total=total, completed=done)
        self.live = (
            None if quiet else Live(self._render(), console=console, refresh_per_second=4, transient=False)
        )

    def _render(self) -> Group:
        lines = [Text(f"  running: {label}", style="dim") for label in self.current.values()]
        return Group(self.bar, *lines)

    def started(self, key: str, label: str) -> None:
        self.current[key] = label
        self._refresh()

    def finished(self, key: str, status: str) -> None:
        self.current.pop(key, None)
        self.bar.advance(self.task)
        self._refresh()

    def _refresh(self) -> None:
        if self.live is not None:
            self.live.update(self._render())

    def __enter__(self) -> StudyProgress:
        if self.live is not None:
            self.live.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self.live is not None:
            self.live.__exit__(*exc)
