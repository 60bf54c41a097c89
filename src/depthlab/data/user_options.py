"""Options of a user's own data (a table, arrays, a torch or Hugging Face data set): target, task, splits.

``test_fraction`` of all rows is held out with a fixed seed (the same test rows whatever the run's seed), then
``val_fraction`` of the rest, by the run's seed; both are stratified for classification. A ``split_column``
holding ``train`` / ``val`` / ``test`` replaces both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from depthlab.errors import check

TASKS = ("classification", "regression")
IMPUTE = ("mean", "median", "drop")


@dataclass
class UserDataOptions:
    """What to predict and how to split; see the module docstring (docs/data.md has the details)."""

    target: str | None = None
    task: Literal["classification", "regression"] | None = None
    impute: Literal["mean", "median", "drop"] | None = None
    test_fraction: float = 0.2
    val_fraction: float = 0.1
    split_column: str | None = None
    standardize: bool = True
    max_categories: int = 50
    header: bool = True
    skip_rows: int = 0
    sha256: str | None = None  # set by a study: the file must still have this content

    def __post_init__(self) -> None:
        check(0.0 <= self.test_fraction < 1.0, f"test_fraction={self.test_fraction}: must be in [0, 1)")
        check(0.0 <= self.val_fraction < 1.0, f"val_fraction={self.val_fraction}: must be in [0, 1)")
        check(self.max_categories >= 1, f"max_categories={self.max_categories}: must be >= 1")
        check(self.skip_rows >= 0, f"skip_rows={self.skip_rows}: must be >= 0")
