"""A rich progress bar with the running loss and accuracy; silent in quiet mode and on non-zero ranks."""

from __future__ import annotations

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


class ProgressBar:
    """Steps done out of ``total``, with a metrics line updated when the engine reads the loss."""

    def __init__(self, total: int, enabled: bool, done: int = 0):
        self.progress = None
        if enabled:
            self.progress = Progress(
                TextColumn("train"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[metrics]}"),
                TimeRemainingColumn(),
                transient=False,
            )
            self.task = self.progress.add_task("train", total=total, completed=done, metrics="")
            self.progress.start()

    def update(self, step: int, **metrics: float | None) -> None:
        """Move to ``step`` and show ``metrics`` (None values are left out)."""
        if self.progress is None:
            return
        text = "  ".join(f"{k} {v:.4g}" for k, v in metrics.items() if v is not None)
        self.progress.update(self.task, completed=step, metrics=text)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
