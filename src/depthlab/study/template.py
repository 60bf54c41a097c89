"""The report's HTML template (jinja2, rendered with autoescape: user strings show as text)."""

REPORT_TEMPLATE = r"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy"
      content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<title>depthlab study report</title>
<style>
  body { font: 15px/1.5 system-ui, sans-serif; max-width: 1200px; margin: 2em auto; padding: 0 1em; color:
  #222; }
  h1 { margin-bottom: 0.2em; }
  section { border-top: 1px solid #ddd; margin-top: 2em; padding-top: 1em; }
  .held { color: #176317; } .failed { color: #a11; } .open { color: #8a6d00; }
  .verdict { font-weight: 600; } .anchor { background: #f5f5f0; padding: 0.5em 0.8em; border-left: 3px
  solid #bbb; }
  code, pre { background: #f3f3f3; padding: 0.1em 0.3em; }
  img { max-width: 100%; }
  table { border-collapse: collapse; }
  td, th { padding: 0.2em 0.8em; border-bottom: 1px solid #eee; text-align: left; }
</style>
</head>
<body>
<h1>depthlab study report</h1>
<p>Data: <b>{{ data }}</b> · size: <b>{{ size }}</b> · reproduce everything: <code>{{ command }}</code></p>
<p>Measured with {{ machine }}.</p>

<h2>Summary</h2>
{% macro names(group) %}{% for s in group %}{{ s.name }}{% if not loop.last %}, {% endif %}
{%- else %}none{% endfor %}{% endmacro %}
{% macro outcome(s) -%}
  {{ 'held' if s.finding.held else ('undecided' if s.finding.held is none else 'did not hold') }}
{%- endmacro %}
{% macro css(s) -%}
  {{ 'held' if s.finding.held else ('open' if s.finding.held is none else 'failed') }}
{%- endmacro %}
<table>
  <tr><th>held</th><td class="held">{{ names(held) }}</td></tr>
  <tr><th>did not hold</th><td class="failed">{{ names(failed) }}</td></tr>
  <tr><th>undecided</th><td class="open">{{ names(open_) }}</td></tr>
  <tr><th>recommended depth</th><td>
    {%- if depth is not none %}<b>{{ depth }}</b> (from the {{ depth_source }} study)
    {%- else %}not determined (run the depth study){% endif %}</td></tr>
</table>
<ul>
{% for s in sections %}
  <li><a href="#{{ s.name }}">{{ s.name }}</a>:
    <span class="{{ css(s) }}">{{ outcome(s) }}</span>
    — {{ s.finding.verdict }}</li>
{% endfor %}
</ul>

{% for s in sections %}
<section id="{{ s.name }}">
  <h2>{{ s.name }}</h2>
  <p><b>Claim.</b> {{ s.claim }}</p>
  <p>Data: {{ s.data }}{% if s.note %} ({{ s.note }}){% endif %} · runs:
    {% for status, n in s.counts.items() %}{{ n }} {{ status }}{% if not loop.last %}, {% endif %}
    {%- endfor %}</p>
  <img alt="{{ s.name }} plots" src="data:image/png;base64,{{ s.png_base64 }}">
  <p class="verdict {{ css(s) }}">Verdict ({{ outcome(s) }}): {{ s.finding.verdict }}</p>
  <p class="anchor"><b>Published.</b> {{ s.anchor }}</p>
  <p>Reproduce: <code>{{ s.command }}</code></p>
</section>
{% endfor %}
</body>
</html>
"""
