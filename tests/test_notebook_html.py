"""What a notebook shows (``_repr_html_``): verdicts, a watch's table and gradient flow, a doctor's report, a
study invocation's summary; escaped, figures inline, and nothing switched globally (matplotlib's backend and
pyplot's figures as they were).

Oracle: the objects' own data (``w.rows``, the verdicts' fields, the summary's counts), read back from the
HTML with the standard library's parser.
"""

from __future__ import annotations

import base64
import sys
from collections import Counter
from html.parser import HTMLParser

import matplotlib
import torch
from torch import nn

from depthlab.diagnose import diagnose
from depthlab.diagnose.doctor import DoctorReport
from depthlab.diagnose.verdict import COLUMNS, Verdict, Verdicts
from depthlab.diagnose.watch import SUMMARY_COLUMNS
from depthlab.page import cell_text
from depthlab.study.runner import RunSummary
from watched_sgd import watched_sgd


class Cells(HTMLParser):
    """The text of every table cell (row by row), the caption, and the PNG bytes of every inline image."""

    def __init__(self, html: str):
        super().__init__()
        self.rows, self.caption, self.images, self._cell = [], "", [], None
        self._in_caption = False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = ""
        elif tag == "caption":
            self._in_caption = True
        elif tag == "img":
            src = dict(attrs)["src"]
            self.images.append(base64.b64decode(src.removeprefix("data:image/png;base64,")))

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self.rows[-1].append(self._cell)
            self._cell = None
        elif tag == "caption":
            self._in_caption = False

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data
        elif self._in_caption:
            self.caption += data


def _pyplot_figures() -> list[int]:
    """pyplot's open figures (none when pyplot was never imported)."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    return pyplot.get_fignums() if pyplot else []


def _watched():
    torch.manual_seed(0)
    return watched_sgd(nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2)))


def test_a_verdict_shows_as_an_escaped_table_row():
    verdict = Verdict("saturation", "PROBLEM", "layer '<script>x</script>' saturates", {"activation": "relu"})
    html = verdict._repr_html_()
    assert "<script>" not in html
    assert Cells(html).rows == [list(COLUMNS), verdict.cells()]
    assert verdict.cells()[3] == "activation=relu"


def test_a_watch_shows_its_last_step_and_the_gradient_flow_without_touching_pyplot():
    backend, figures = matplotlib.get_backend(), _pyplot_figures()
    w = _watched()
    page = Cells(w._repr_html_())
    last = [r for r in w.rows if r["step"] == 4]
    assert page.rows[0] == list(SUMMARY_COLUMNS)
    assert page.rows[1:] == [[cell_text(r[c]) for c in SUMMARY_COLUMNS] for r in last]
    assert page.caption == "watch, step 4 (of 3 recorded)"
    assert len(page.images) == 1 and page.images[0].startswith(b"\x89PNG\r\n\x1a\n")
    assert matplotlib.get_backend() == backend and _pyplot_figures() == figures


def test_verdicts_and_a_doctor_report_show_problems_first():
    w = _watched()
    found = diagnose(w)
    assert isinstance(found, Verdicts) and found == list(found)  # still a list
    shown = Cells(found._repr_html_()).rows[1:]
    statuses = [row[1] for row in shown]
    assert sorted(shown) == sorted(v.cells() for v in found)
    assert statuses == sorted(statuses, key=lambda s: {"PROBLEM": 0, "note": 1}.get(s, 2))
    report = DoctorReport("tiny", list(found), w.rows, {})
    page = Cells(report._repr_html_())
    assert page.rows[1:] == shown and len(page.images) == 1


def test_a_study_invocation_shows_its_counts():
    summary = RunSummary(total=8, skipped=3, statuses=Counter(ok=4, failed=1), wall_seconds=12.34)
    header, row = Cells(summary._repr_html_()).rows
    assert dict(zip(header, row, strict=True)) == {
        "runs in the grid": "8",
        "already stored": "3",
        "ran": "5",
        "ok": "4",
        "failed": "1",
        "wall seconds": "12.3",
    }
