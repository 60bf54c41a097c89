"""The self-contained HTML page of every report (the study report, the advice), the PNG of its plots, and the
HTML fragments that verdicts, watch tables and run summaries show in a notebook (``_repr_html_``).

One shell for all: a Content-Security-Policy that allows nothing but inline styles and ``data:`` images (the
page opens offline, and a string that escaped escaping still could not run a script), the shared CSS, and
jinja2 with autoescape, so every string a user typed shows as text. A report's template extends the shell
(``{% extends "page" %}``) and fills its blocks: ``title``, ``width`` (the CSS max-width of the text),
``style`` (its own CSS rules) and ``body``.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Iterable, Sequence
from html import escape
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


def html_table(header: Sequence[str], rows: Iterable[Sequence[Any]], caption: str | None = None) -> str:
    """An HTML ``<table>`` fragment (a notebook's ``_repr_html_``); every cell and the caption are escaped,
    floats shown to 3 significant digits."""
    head = "".join(f"<th>{escape(str(h))}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(cell_text(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    title = f"<caption>{escape(caption)}</caption>" if caption else ""
    return f"<table>{title}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def cell_text(value: Any) -> str:
    """A table cell as text: floats to 3 significant digits (``nan`` where nothing was measured)."""
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.3g}"
    return str(value)


def figure_img(figure: Figure) -> str:
    """A matplotlib Figure as an inline ``<img>`` (PNG in a ``data:`` address)."""
    return f'<img src="data:image/png;base64,{png_base64(figure_png(figure))}">'
