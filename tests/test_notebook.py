"""``docs/notebook.ipynb`` runs from top to bottom in a fresh kernel (nbclient, in the dev extra) and its
objects display themselves: the watch as a table with an inline figure, the verdicts as a table, the
DataFrame pivoted by layer and step.

Oracle: what the notebook's own run must hold whatever its numbers are: the MLP of depth 12 has 12 weight
layers, all on its longest path (the head included), the watch recorded steps 0, 10, ...
50 of 60, and every one of the doctor's five table checks is shown.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REASON = "needs nbclient, nbformat and ipykernel (the dev extra: pip install -e '.[dev]')"
nbclient = pytest.importorskip("nbclient", reason=REASON)
nbformat = pytest.importorskip("nbformat", reason=REASON)
pytest.importorskip("ipykernel", reason=REASON)

NOTEBOOK = Path(__file__).parents[1] / "docs" / "notebook.ipynb"
CHECKS = ("vanishing gradients", "exploding gradients", "dead units", "saturation", "divergence")


def _output(cell, kind: str) -> str:
    return next(o["data"][kind] for o in cell["outputs"] if o.get("output_type") == "execute_result")


def test_the_notebook_runs_and_its_objects_show_themselves(tmp_path, monkeypatch):
    monkeypatch.setenv(
        "PYTHONPATH", str(Path(__file__).parents[1] / "src")
    )  # the kernel imports this depthlab
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=600, resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert not [o for cell in code for o in cell["outputs"] if o.get("output_type") == "error"]
    shown = _output(code[1], "text/html")  # the watch
    assert shown.count("<tr>") == 1 + 12 and "watch, step 50 (of 6 recorded)" in shown
    assert "data:image/png;base64," in shown
    verdicts = _output(code[2], "text/html")
    assert all(f"<td>{check}</td>" in verdicts for check in CHECKS)
    pivot = _output(code[3], "text/html")  # pandas' own table: one column per recorded step
    assert all(f"<th>{step}</th>" in pivot for step in range(0, 60, 10))
    accuracy, depth = ast.literal_eval(_output(code[4], "text/plain"))
    assert 0.0 <= accuracy <= 1.0 and depth == 12
