"""page: the one HTML shell and PNG encoder of the study report and the advice."""

from __future__ import annotations

import base64

from matplotlib.figure import Figure

from depthlab import page
from depthlab.advise import advice as advice_report
from depthlab.diagnose import plots
from depthlab.study import report as study_report

EVIL = "<script>alert(1)</script>"
CHILD = """{% extends "page" %}{% block title %}{{ name }}{% endblock %}{% block width %}900px{% endblock %}
{% block style %}  p { color: red; }{% endblock %}{% block body %}<p>{{ name }}</p>
{% endblock %}"""


def test_a_page_is_the_shell_with_its_blocks_and_every_value_escaped():
    html = page.render_page(CHILD, name=EVIL)
    assert html.startswith("<!doctype html>") and html.endswith("</body>\n</html>")
    assert "default-src 'none'; img-src data:; style-src 'unsafe-inline'" in html
    assert "max-width: 900px" in html and "p { color: red; }" in html
    assert EVIL not in html and html.count("&lt;script&gt;alert(1)&lt;/script&gt;") == 2


def test_a_figure_becomes_png_bytes_and_their_base64_text():
    figure = Figure(figsize=(2, 1), dpi=50)
    figure.subplots().plot([0, 1], [1, 0])
    png = page.figure_png(figure)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert base64.b64decode(page.png_base64(png)) == png


def test_both_reports_and_the_plots_use_the_one_encoder_and_shell():
    assert study_report.figure_png is advice_report.figure_png is plots.figure_png is page.figure_png
    assert study_report.render_page is advice_report.render_page is page.render_page
