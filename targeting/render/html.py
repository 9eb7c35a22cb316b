"""The NTC's review as one self-contained HTML report: what to sign first, the policy, every
query's verdict on one interval chart and in words, charts with axes and legends, retirements
and a sign-off table. No scripts, no external files; readable at 1,280 px and printable.
Rendering only: everything shown comes from `review.Review`."""
from __future__ import annotations

from typing import Any

from targeting.backtest.matches import Rows
from targeting.compile.english import describe
from targeting.decide.policy import Verdict, effectiveness_threshold
from targeting.decide.review import Review
from targeting.render import formats as report
from targeting.render.charts import Interval, interval_chart, monthly_chart
from targeting.render.criteria import explain_verdict, policy_sentences, summary
from targeting.render.dossier import false_line, to_sign
from targeting.render.escape import html_text as escape
from targeting.units import num, pct

_STYLE = """
*{box-sizing:border-box}
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;
 padding:1.5rem 2rem; max-width:62rem;color:#1b1b1b;background:#fff}
h1{font-size:1.7rem;margin:.2rem 0 .4rem}
h2{font-size:1.3rem;margin:2rem 0 .5rem;border-bottom:2px solid #ddd}
h3{font-size:1.05rem;margin:1.2rem 0 .3rem}
table{border-collapse:collapse;margin:.5rem 0 1rem;max-width:100%}
td,th{border-bottom:1px solid #ddd;padding:.3rem .55rem;text-align:left;vertical-align:top}
th{background:#f3f5f7;font-weight:600} td.num,th.num{text-align:right;white-space:nowrap}
td.nowrap{white-space:nowrap} td.fails{min-width:12rem}
.pass{color:#176b2c;font-weight:600}.fail{color:#a4262c;font-weight:600}
.rule{background:#f5f5f5;padding:.6rem .8rem;border-left:4px solid #3b6ea5;overflow-wrap:anywhere}
.meta{color:#555;overflow-wrap:anywhere}
.sign{background:#fffbe6;border:1px solid #e6d77a;padding:.6rem 1rem}
ul.criteria{list-style:none;padding-left:0}
ul.criteria li{margin:.35rem 0;padding-left:1.6rem;text-indent:-1.6rem}
.change{display:block;text-indent:0;color:#444}
svg.chart{display:block;margin:.5rem 0 1rem;max-width:100%;height:auto}
svg.chart text{fill:#222;font-family:system-ui,sans-serif}
section.query{break-inside:auto} code{overflow-wrap:anywhere}
@media print{body{max-width:none;padding:0;font-size:11pt} h2{break-after:avoid}
 svg.chart,table,.sign{break-inside:avoid} section.query{break-before:auto}}
"""


def page(title: str, body: list[str]) -> str:
    """A self-contained page in the report's style: no scripts, no external files."""
    return "\n".join(["<!doctype html><html lang=en><head><meta charset=utf-8>"
                      "<meta name=viewport content='width=device-width,initial-scale=1'>"
                      f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>",
                      f"<h1>{escape(title)}</h1>", *body, "</body></html>"])


def html(review: Review) -> str:
    """The whole page: summary first, then the evidence."""
    parts = [_header(review), _to_sign(review), _policy(review), _summary(review)]
    parts += [_query(review, v) for v in review.verdicts]
    parts.append(_retirements(review))
    parts.append("<h2>Sign-off</h2><table><tr><th>decision<th>reviewer<th>date<th>signature"
                 "<tr><td>&nbsp;<td><td><td></table>")
    return page("Promotion review", parts)


def _header(review: Review) -> str:
    w = review.window
    return (f"<p class=meta>Window {w.since} .. {w.until} ({w.days:,} days) · policy "
            f"<code>{review.policy.hash[:16]}</code> · data <code>{review.data_fingerprint[:16]}</code> · "
            f"evidence source: {escape(review.evidence_source)} · "
            f"{sum(v.promote for v in review.verdicts)} of {len(review.verdicts)} active queries meet "
            f"the policy</p><p class=meta>{escape(false_line(review))}</p>")


def _to_sign(review: Review) -> str:
    items = "".join(f"<li>{escape(line)}" for line in to_sign(review))
    return f"<div class=sign><h2 id=sign>To sign</h2><ul>{items}</ul></div>"


def _policy(review: Review) -> str:
    items = "".join(f"<li>{escape(line)}" for line in policy_sentences(review.policy))
    return (f"<h2>The policy</h2><p>A query is promoted when it meets every criterion:</p>"
            f"<ul>{items}</ul>")


def _summary(review: Review) -> str:
    floor = review.policy.min_examined
    rows = "".join(
        f"<tr><td class=nowrap><a href='#{escape(v.rule.id)}'>{escape(v.rule.id)}</a>"
        f"<td class=nowrap>{escape(v.rule.port or '')}"
        f"<td class='{'pass' if v.promote else 'fail'} nowrap'>{'promote' if v.promote else 'not yet'}"
        f"<td class=num>{escape(report.estimate(v.metrics, floor))}"
        f"<td class=num>{escape(pct(v.metrics.get('hit_rate')))}"
        f"<td class=fails>{escape(', '.join(c.name for c in v.failing) or '–')}"
        for v in review.verdicts)
    return ("<h2>All active queries</h2>" + _chart(review) +
            "<table><tr><th>id<th>port<th>verdict<th class=num>estimated precision [95% CI]"
            f"<th class=num>observed hit rate<th>fails{rows}</table>")


def _chart(review: Review) -> str:
    """Every query's estimate and interval against the population's rate and the bar."""
    rows = [Interval(v.rule.id, v.metrics.get("est_hit_rate"), v.metrics.get("est_hit_rate_low"),
                     v.metrics.get("est_hit_rate_high")) for v in review.verdicts]
    if not rows:
        return "<p>No active query.</p>"
    base = next((v.metrics.get("baseline_hit_rate") for v in review.verdicts), None)
    bar = effectiveness_threshold(review.policy, base) if base is not None else None
    note = (f"<p class=meta>Red dashed line: the population's estimated rate {pct(base, 2)}; "
            f"green line: the policy's bar {pct(bar, 2)} (the lower bound must reach it).</p>"
            if base is not None and bar is not None else "")
    return interval_chart(rows, base, bar) + note


def _query(review: Review, v: Verdict) -> str:
    rule = v.rule
    items = "".join(
        f"<li><span class={'pass' if e.passed else 'fail'}>{'✔' if e.passed else '✘'}</span> "
        f"{escape(e.sentence)}"
        + (f"<span class=change>{e.prefix}: {escape(e.change)}.</span>" if e.change else "")
        for e in explain_verdict(v, review.policy))
    parts = [f"<section class=query id='{escape(rule.id)}'>",
             f"<h2>{escape(rule.id)}: {escape(rule.title)}</h2>",
             f"<p class={'pass' if v.promote else 'fail'}>{escape(summary(v))}</p>",
             f"<p class=meta>Owner {escape(rule.owner or '–')}, port {escape(rule.port or '–')}, "
             f"created {rule.created or '–'}; "
             f"{escape(report.evidence_from(v.evidence_window.since, v.evidence_source))}. Estimated "
             f"precision {escape(report.estimate(v.metrics, review.policy.min_examined))} "
             f"({escape(report.estimate_basis(v.metrics))}); observed hit rate "
             f"{escape(pct(v.metrics.get('hit_rate')))}.</p>",
             f"<p class=rule>{escape(describe(rule.where))}</p>"]
    if rule.rationale:
        parts.append(f"<p>{escape(rule.rationale)}</p>")
    parts.append(f"<ul class=criteria>{items}</ul>")
    detail = review.details.get(rule.id)
    if detail is not None:
        parts.append("<h3>Monthly trend</h3>" + monthly_chart(detail.monthly))
        parts.append("<h3>By port</h3>" + _table(detail.by_port, _PORT_COLUMNS))
        parts.append("<h3>Overlap with active UDRs</h3>" + (_table(detail.overlaps, _OVERLAP_COLUMNS)
                     if detail.overlaps
                     else "<p>No active UDR matches any of the same shipments.</p>"))
    return "\n".join(parts) + "</section>"


_PORT_COLUMNS = [("port", "port", str), ("targeted", "targeted", num), ("examined", "examined", num),
                 ("discrepant", "discrepant", num), ("hit rate", "hit_rate", pct),
                 ("flags per day", "flags_per_day", lambda v: num(v, 2))]
_OVERLAP_COLUMNS = [("UDR", "udr", str), ("shared shipments", "shared", num),
                    ("Jaccard", "jaccard", pct), ("share of this query's targets", "share_of_rule", pct),
                    ("share of the UDR's targets", "share_of_udr", pct)]


def _table(rows: Rows, columns: list[tuple[str, str, Any]]) -> str:
    head = "".join(f"<th{' class=num' if i else ''}>{escape(h)}" for i, (h, _, _) in enumerate(columns))
    body = "".join("<tr>" + "".join(f"<td{' class=num' if i else ''}>"
                                    f"{escape(fmt(row[key]) if row[key] is not None else '–')}"
                                    for i, (_, key, fmt) in enumerate(columns))
                   for row in rows)
    return f"<table><tr>{head}{body}</table>"


def _retirements(review: Review) -> str:
    if not review.retire:
        return "<h2>Retirement</h2><p>No active UDR meets a retirement criterion.</p>"
    items = "".join(f"<li><b>{escape(r.rule.id)}</b> ({escape(r.rule.title)}): {escape('; '.join(r.reasons))}"
                    for r in review.retire)
    return f"<h2>UDRs proposed for retirement</h2><ul>{items}</ul>"
