"""Run code that seeds Python's and NumPy's global generators without leaking that into the caller's state."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator

import numpy as np


@contextlib.contextmanager
def preserved_global_rng() -> Iterator[None]:
    """Save the ``random`` and ``numpy.random`` global states and restore them on exit."""
    py_state, np_state = random.getstate(), np.random.get_state()
    try:
        yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
