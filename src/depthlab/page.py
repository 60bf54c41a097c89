"""The self-contained HTML page of every report (the study report, the advice) and the PNG of its plots.

One shell for all: a Content-Security-Policy that allows nothing but inline styles and ``data:`` images (the
page opens offline, and a string that escaped escaping still could not run a script), the shared CSS, and
jinja2 with autoescape, so every string a user typed shows as text. A report's template extends the shell
(``{% extends "page" %}``) and fills its blocks: ``title``, ``width`` (the CSS max-width of the text),
``style`` (its own CSS rules) and ``body``.
"""

from __future__ import annotations

import base64
import io
from typing import TYPE_CHECKING, Any

import jinja2

if TYPE_CHECKING:  # matplotlib is slow to import; only the callers that draw need it loaded
    from matplotlib.figure import Figure

SHELL = r"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy"
      content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<title>{% block title %}{% endblock %}</title>
<style>
  body { font: 15px/1.5 system-ui, sans-serif; max-width: {% block width %}{% endblock %}; margin: 2em auto;
         padding: 0 1em; color: #222; }
  img { max-width: 100%; }{% block style %}{% endblock %}
</style>
</head>
<body>
{% block body %}{% endblock %}</body>
</html>
"""


def render_page(template: str, **context: Any) -> str:
    """The HTML of ``template`` (which extends the shell) with ``context``; every value is escaped."""
    loader = jinja2.DictLoader({"page": SHELL, "report": template})
    env = jinja2.Environment(loader=loader, autoescape=True, undefined=jinja2.StrictUndefined)
    return env.get_template("report").render(**context)


def figure_png(figure: Figure) -> bytes:
    """A matplotlib Figure as PNG bytes (drawn by the Figure's own canvas: pyplot's state is left alone)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def png_base64(png: bytes) -> str:
    """PNG bytes as the text of a ``data:image/png;base64,`` address."""
    return base64.b64encode(png).decode("ascii")
