"""The study report's HTML: it extends the shared page shell (depthlab.page), rendered with autoescape."""

REPORT_TEMPLATE = r"""{% extends "page" %}
{% block title %}depthlab study report{% endblock %}
{% block width %}1200px{% endblock %}
{% block style %}
  h1 { margin-bottom: 0.2em; }
  section { border-top: 1px solid #ddd; margin-top: 2em; padding-top: 1em; }
  .held { color: #176317; } .failed { color: #a11; } .open { color: #8a6d00; }
  .verdict { font-weight: 600; } .anchor { background: #f5f5f0; padding: 0.5em 0.8em; border-left: 3px
  solid #bbb; }
  code, pre { background: #f3f3f3; padding: 0.1em 0.3em; }
  table { border-collapse: collapse; }
  td, th { padding: 0.2em 0.8em; border-bottom: 1px solid #eee; text-align: left; vertical-align: top; }
  .clauses { font-size: 13px; margin: 0.5em 0; } .rule { color: #555; font-size: 12px; }
{%- endblock %}
{% block body -%}
<h1>depthlab study report</h1>
<p>Data: <b>{{ data }}</b> · size: <b>{{ size }}</b> · reproduce everything: <code>{{ command }}</code></p>
<p>Measured with {{ machine }}.</p>

<h2>Summary</h2>
<p>Each verdict is one of <b>held</b> (the 95% interval of every stated effect lies beyond its minimum
effect, on the predicted side), <b>did not hold</b> (an interval lies on the other side of zero, or inside
the minimum effect) and <b>inconclusive</b> (anything else); see docs/statistics.md.</p>
{% macro names(group) %}{% for s in group %}<a href="#{{ s.name }}">{{ s.name }}</a>
{%- if not loop.last %}, {% endif %}{%- else %}none{% endfor %}{% endmacro %}
<table>
{% for outcome, group in groups %}
  <tr><th class="{{ css[outcome] }}">{{ outcome }}</th><td><b>{{ group|length }}</b></td>
    <td>{{ names(group) }}</td></tr>
{% endfor %}
  <tr><th>recommended depth</th><td>
    {%- if recommends is not none %}<b>{{ recommends.finding.recommended_depth }}</b>{% endif %}</td><td>
    {%- if recommends is not none %}from the {{ recommends.name }} study
      {%- if recommends.finding.recommendation %}: {{ recommends.finding.recommendation }}{% endif %}
    {%- else %}none stands out of the noise (or the depth study has not run){% endif %}</td></tr>
</table>
<ul>
{% for s in sections %}
  <li><a href="#{{ s.name }}">{{ s.name }}</a>:
    <span class="{{ css[s.finding.outcome] }}">{{ s.finding.outcome }}</span>
    — {{ s.finding.verdict }}</li>
{% endfor %}
</ul>

{% for s in sections %}
<section id="{{ s.name }}">
  <h2>{{ s.name }}</h2>
  <p><b>Claim.</b> {{ s.claim }}</p>
  <p>Data: {{ s.data }}{% if s.note %} ({{ s.note }}){% endif %} · runs:
    {% for status, n in s.counts.items() %}{{ n }} {{ status }}{% if not loop.last %}, {% endif %}
    {%- endfor %}
    {%- if s.finding.converged %} · converged: {{ s.finding.converged[0] }} of {{ s.finding.converged[1] }}
    runs used stopped on a training-loss plateau
    {%- if s.finding.converged[0] < s.finding.converged[1] %} (the others ran out of their step budget)
    {%- endif %}{% endif %}</p>
  <img alt="{{ s.name }} plots" src="data:image/png;base64,{{ s.png_base64 }}">
  <p class="verdict {{ css[s.finding.outcome] }}">Verdict ({{ s.finding.outcome }}):
    {{ s.finding.verdict }}</p>
  {% if s.finding.clauses %}
  <table class="clauses">
    <tr><th>clause</th><th>effect [95% interval]</th><th>seeds</th><th>outcome</th><th>rule</th></tr>
    {% for c in s.finding.clauses %}
    <tr><td>{{ c.comparison.name }}</td>
      <td>{% if c.interval.n %}{{ c.interval.format(c.comparison.scale, c.comparison.unit) }}
        {%- else %}no paired seeds yet{% endif %}</td>
      <td>{{ c.interval.n }}</td>
      <td class="{{ css[c.outcome] }}">{{ c.outcome }}
        {%- if c.reason and c.outcome != "held" %}<br><small>{{ c.reason }}</small>{% endif %}</td>
      <td class="rule">{{ c.comparison.rule() }}</td></tr>
    {% endfor %}
  </table>
  {% endif %}
  <p class="anchor"><b>Published.</b> {{ s.anchor }}</p>
  <p>Reproduce: <code>{{ s.command }}</code></p>
</section>
{% endfor %}
{% endblock %}
"""
