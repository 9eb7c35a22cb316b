"""The NTC's review as one self-contained HTML page: tables and inline SVG charts, no scripts,
no external files. Rendering only: everything shown comes from `review.Review`."""
from __future__ import annotations

from typing import Any

from targeting.backtest.matches import Rows
from targeting.compile.english import describe
from targeting.decide.policy import Verdict
from targeting.decide.review import Review
from targeting.render import formats as report
from targeting.render.escape import html_text as escape
from targeting.units import num, pct

_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:60rem;color:#1b1b1b}
h1,h2{font-weight:600} table{border-collapse:collapse;margin:.5rem 0 1rem}
td,th{border-bottom:1px solid #ddd;padding:.25rem .6rem;text-align:left} td:first-child{white-space:nowrap}
.pass{color:#176b2c}.fail{color:#a4262c;font-weight:600} .rule{background:#f5f5f5;padding:.6rem}
.meta{color:#555} svg{display:block;margin:.3rem 0 1rem}
"""


def html(review: Review) -> str:
    """The whole page."""
    parts = [f"<!doctype html><html lang=en><meta charset=utf-8><title>Promotion review</title>"
             f"<style>{_STYLE}</style><h1>Promotion review</h1>", _header(review), _summary(review)]
    parts += [_candidate(review, v) for v in review.verdicts if v.promote]
    parts.append(_retirements(review))
    parts.append("<h2>Sign-off</h2><table><tr><th>decision<th>reviewer<th>date<th>signature"
                 "<tr><td>&nbsp;<td><td><td></table></html>")
    return "\n".join(parts)


def _header(review: Review) -> str:
    w = review.window
    return (f"<p class=meta>Window {w.since} .. {w.until} ({w.days:,} days) · policy "
            f"<code>{review.policy.hash[:16]}</code> · data <code>{review.data_fingerprint[:16]}</code> · "
            f"{sum(v.promote for v in review.verdicts)} of {len(review.verdicts)} active queries meet "
            f"the policy</p>")


def _summary(review: Review) -> str:
    rows = "".join(
        f"<tr><td>{escape(v.rule.id)}<td>{escape(v.rule.port or '')}"
        f"<td class={'pass' if v.promote else 'fail'}>{'promote' if v.promote else 'not yet'}"
        f"<td>{escape(report.estimate(v.metrics, review.policy.min_examined))}"
        f"<td>{escape(pct(v.metrics.get('hit_rate')))}<td>{_bar_of(v.metrics)}"
        f"<td>{escape(', '.join(c.name for c in v.failing) or '–')}"
        for v in review.verdicts)
    return ("<h2>All active queries</h2><table><tr><th>id<th>port<th>verdict<th>estimated precision"
            " [95% CI]<th>observed hit rate<th>estimate's interval (red: population's rate)"
            f"<th>fails{rows}</table>")


def _bar_of(metrics: dict[str, Any]) -> str:
    return _bar(metrics.get("est_hit_rate_low"), metrics.get("est_hit_rate_high"),
                metrics.get("baseline_hit_rate"))


def _bar(low: float | None, high: float | None, baseline: float | None, width: int = 160) -> str:
    """The 95% interval as a bar on a 0-100% scale, with the population's rate as a red tick."""
    if low is None or high is None:
        return ""
    x, w = low * width, max((high - low) * width, 1)
    tick = (f"<rect x={baseline * width:.1f} width=2 height=10 fill=#c0392b><title>population "
            f"{pct(baseline)}</title></rect>" if baseline is not None else "")
    return (f"<svg width={width} height=10 role=img aria-label='interval'><rect width={width} "
            f"height=10 fill=#eee /><rect x={x:.1f} width={w:.1f} height=10 fill=#3b6ea5 />{tick}</svg>")


def _candidate(review: Review, v: Verdict) -> str:
    rule = v.rule
    rows = "".join(f"<tr><td>{escape(c.name)}<td class={'pass' if c.passed else 'fail'}>"
                   f"{'yes' if c.passed else 'no'}<td>{escape(_value(c.value))}"
                   f"<td>{escape(_value(c.threshold))}"
                   for c in [*v.criteria, v.transfer])
    parts = [f"<h2>{escape(rule.id)}: {escape(rule.title)}</h2>",
             f"<p class=meta>Owner {escape(rule.owner or '–')}, port {escape(rule.port or '–')}, "
             f"created {rule.created or '–'}</p>", f"<p class=rule>{escape(describe(rule.where))}</p>"]
    if rule.rationale:
        parts.append(f"<p>{escape(rule.rationale)}</p>")
    parts.append(f"<table><tr><th>criterion<th>passed<th>value<th>threshold{rows}</table>")
    detail = review.details.get(rule.id)
    if detail is not None:
        parts.append("<h3>Monthly trend</h3>" + _monthly_chart(detail.monthly))
        parts.append("<h3>By port</h3>" + _table(detail.by_port, {"hit_rate": pct}))
        parts.append("<h3>Overlap with active UDRs</h3>" + (_table(detail.overlaps, {"jaccard": pct})
                     if detail.overlaps
                     else "<p>No active UDR matches any of the same shipments.</p>"))
    return "\n".join(parts)


def _monthly_chart(rows: Rows, height: int = 80, step: int = 18) -> str:
    """Bars of examined (light) and discrepant (dark) shipments per month."""
    top = max((r["examined"] for r in rows), default=0) or 1
    bars = []
    for i, r in enumerate(rows):
        for value, colour, offset in ((r["examined"], "#a9c4e0", 0), (r["discrepant"], "#1f4e79", 6)):
            h = value / top * (height - 12)
            bars.append(f"<rect x={i * step + offset} y={height - 12 - h:.1f} width=6 height={h:.1f} "
                        f"fill={colour}><title>{escape(r['month'])}: {value}</title></rect>")
    labels = "".join(f"<text x={i * step} y={height} font-size=8>{escape(r['month'][2:])}</text>"
                     for i, r in enumerate(rows) if i % 3 == 0)
    return (f"<svg width={max(len(rows) * step, 100)} height={height} role=img "
            f"aria-label='examined and discrepant by month'>{''.join(bars)}{labels}</svg>")


def _table(rows: Rows, formats: dict[str, Any]) -> str:
    columns = list(rows[0]) if rows else []
    head = "".join(f"<th>{escape(c)}" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{escape(_cell(row[c], formats.get(c)))}" for c in columns)
                   for row in rows)
    return f"<table><tr>{head}{body}</table>"


def _cell(value: Any, fmt: Any) -> str:
    if fmt is not None and value is not None:
        return str(fmt(value))
    return num(value, 3) if isinstance(value, float) else ("–" if value is None else str(value))


def _value(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} {_value(v)}" for k, v in value.items())
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _retirements(review: Review) -> str:
    if not review.retire:
        return "<h2>Retirement</h2><p>No active UDR meets a retirement criterion.</p>"
    items = "".join(f"<li><b>{escape(r.rule.id)}</b> ({escape(r.rule.title)}): {escape('; '.join(r.reasons))}"
                    for r in review.retire)
    return f"<h2>UDRs proposed for retirement</h2><ul>{items}</ul>"
