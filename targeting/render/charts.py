"""Inline SVG charts for the HTML dossier: every chart has axes with units, tick labels that
stay inside it, a legend, and the reference line it is read against. Rendering only."""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from targeting.render.escape import html_text as escape
from targeting.units import pct

FONT = 12  # px; a label's width is estimated at 0.62 em per character (system sans-serif)
EXAMINED, DISCREPANT, INTERVAL, BASELINE, BAR = "#9dbbdc", "#1f4e79", "#3b6ea5", "#c0392b", "#2e7d32"


@dataclass(frozen=True)
class Interval:
    """One row of an interval chart: a label, the estimate and its 95% interval."""

    label: str
    estimate: float | None
    low: float | None
    high: float | None


def text_width(text: str, size: int = FONT) -> float:
    return len(text) * size * 0.62


def interval_chart(rows: Sequence[Interval], baseline: float | None, bar: float | None,
                   width: int = 760, title: str = "Estimated precision with 95% intervals",
                   axis: str = "query") -> str:
    """Each row's estimate (a dot) and interval (a line) on one shared 0..max % axis, with the
    population's rate (red, dashed) and the policy's bar (green) as vertical lines where given;
    `axis` names what the rows are."""
    label_w = max((text_width(r.label) for r in rows), default=40) + 12 + 20  # + the axis label
    top_value = max([r.high or 0 for r in rows] + [baseline or 0, bar or 0, 0.01])
    scale_max = _nice_ceiling(top_value)
    left, right, row_h, top = label_w, 24, 22, 34
    plot_w = width - left - right
    height = top + row_h * len(rows) + 48

    def x(value: float) -> float:
        return left + value / scale_max * plot_w

    legend = [("dot and line: estimate and 95% interval", INTERVAL, "line"),
              ("population's rate", BASELINE, "dash"), ("policy bar", BAR, "line")]
    shown = [item for item, value in zip(legend, (0.0, baseline, bar)) if value is not None]
    parts = [_legend(shown, left, 14)]
    for tick in _ticks(scale_max):
        parts.append(f'<line x1="{x(tick):.1f}" x2="{x(tick):.1f}" y1="{top - 4}" '
                     f'y2="{top + row_h * len(rows)}" stroke="#e3e3e3"/>')
        parts.append(_text(pct(tick, 0), x(tick), top + row_h * len(rows) + 16, "middle",
                           "tick"))
    for i, r in enumerate(rows):
        y = top + row_h * i + row_h / 2
        parts.append(_text(r.label, left - 8, y + 4, "end", "row-label"))
        if r.low is not None and r.high is not None:
            parts.append(f'<line x1="{x(r.low):.1f}" x2="{x(r.high):.1f}" y1="{y:.1f}" y2="{y:.1f}" '
                         f'stroke="{INTERVAL}" stroke-width="3"><title>{escape(r.label)}: '
                         f'{pct(r.low)}–{pct(r.high)}</title></line>')
        if r.estimate is not None:
            parts.append(f'<circle cx="{x(r.estimate):.1f}" cy="{y:.1f}" r="4" fill="{INTERVAL}">'
                         f'<title>{escape(r.label)}: {pct(r.estimate)}</title></circle>')
    bottom = top + row_h * len(rows)
    for value, colour, dash in ((baseline, BASELINE, ' stroke-dasharray="5 3"'), (bar, BAR, "")):
        if value is not None:
            parts.append(f'<line x1="{x(value):.1f}" x2="{x(value):.1f}" y1="{top - 4}" '
                         f'y2="{bottom}" stroke="{colour}" stroke-width="2"{dash}/>')
    parts.append(f'<line x1="{left}" x2="{width - right}" y1="{bottom}" y2="{bottom}" '
                 'stroke="#555"/>')
    parts.append(_text("estimated precision (% of examined shipments found discrepant)",
                       left + plot_w / 2, height - 6, "middle", "axis-label x-label"))
    parts.append(_y_label(axis, top + row_h * len(rows) / 2))
    return _svg(width, height, title, parts)


def monthly_chart(rows: Sequence[dict[str, Any]], width: int = 760, height: int = 240,
                  title: str = "Examined and discrepant shipments per month") -> str:
    """Bars of examined (light) and discrepant (dark) shipments per arrival month, with a count
    axis, month labels that fit, and a legend."""
    top_value = max((int(r["examined"]) for r in rows), default=0)
    scale_max = _nice_ceiling(max(top_value, 1))
    ticks = _ticks(scale_max, min(5, int(scale_max)))  # whole shipments only
    left = max(text_width(f"{int(t):,}") for t in ticks) + 34
    right, top, bottom = 16, 30, 50
    plot_w, plot_h = width - left - right, height - top - bottom
    step = plot_w / max(len(rows), 1)
    bar_w = max(min(step / 2 - 1, 14), 1)

    def y(value: float) -> float:
        return top + plot_h - value / scale_max * plot_h

    parts = [_legend([("examined", EXAMINED, "box"), ("discrepant", DISCREPANT, "box")], left, 14)]
    for tick in ticks:
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" '
                     'stroke="#e3e3e3"/>')
        parts.append(_text(f"{int(tick):,}", left - 6, y(tick) + 4, "end", "tick"))
    every = max(1, math.ceil(text_width("2024-10") / step * 1.3))
    for i, r in enumerate(rows):
        x0 = left + i * step + (step - 2 * bar_w) / 2
        for k, (key, colour) in enumerate((("examined", EXAMINED), ("discrepant", DISCREPANT))):
            value = int(r[key])
            parts.append(f'<rect x="{x0 + k * bar_w:.1f}" y="{y(value):.1f}" width="{bar_w:.1f}" '
                         f'height="{top + plot_h - y(value):.1f}" fill="{colour}"><title>'
                         f'{escape(r["month"])}: {value:,} {key}</title></rect>')
        if i % every == 0:
            centre = left + i * step + step / 2
            anchor = "end" if centre + text_width(str(r["month"])) / 2 > width - 2 else "middle"
            parts.append(_text(str(r["month"]), min(centre, width - 2), top + plot_h + 16, anchor,
                               "tick"))
    parts.append(f'<line x1="{left}" x2="{width - right}" y1="{top + plot_h}" y2="{top + plot_h}" '
                 'stroke="#555"/>')
    parts.append(f'<line x1="{left}" x2="{left}" y1="{top}" y2="{top + plot_h}" stroke="#555"/>')
    parts.append(_text("arrival month", left + plot_w / 2, height - 8, "middle",
                       "axis-label x-label"))
    parts.append(_y_label("shipments", top + plot_h / 2))
    return _svg(width, height, title, parts)


def _y_label(text: str, middle: float) -> str:
    return (f'<text class="axis-label y-label" transform="translate(14 {middle:.0f}) rotate(-90)" '
            f'text-anchor="middle" font-size="{FONT}">{escape(text)}</text>')


def _legend(items: list[tuple[str, str, str]], x: float, y: float) -> str:
    parts, at = ['<g class="legend">'], x
    for label, colour, mark in items:
        if mark == "box":
            parts.append(f'<rect x="{at:.1f}" y="{y - 9}" width="10" height="10" fill="{colour}"/>')
        else:
            dash = ' stroke-dasharray="5 3"' if mark == "dash" else ""
            parts.append(f'<line x1="{at:.1f}" x2="{at + 14:.1f}" y1="{y - 4}" y2="{y - 4}" '
                         f'stroke="{colour}" stroke-width="2"{dash}/>')
        parts.append(_text(label, at + 18, y, "start", "legend-label"))
        at += 18 + text_width(label) + 16
    return "".join(parts) + "</g>"


def _text(text: str, x: float, y: float, anchor: str, cls: str) -> str:
    return (f'<text class="{cls}" x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" '
            f'font-size="{FONT}">{escape(text)}</text>')


def _svg(width: int, height: float, title: str, parts: list[str]) -> str:
    return (f'<svg class="chart" width="{width}" height="{height:.0f}" viewBox="0 0 {width} '
            f'{height:.0f}" role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>'
            + "".join(parts) + "</svg>")


def _nice_ceiling(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 × 10^k at or above `value`: an axis end that reads well."""
    exponent = math.floor(math.log10(value))
    for factor in (1, 2, 2.5, 5, 10):
        if factor * 10 ** exponent >= value - 1e-12:
            return float(factor * 10 ** exponent)
    return float(10 ** (exponent + 1))


def _ticks(scale_max: float, count: int = 5) -> list[float]:
    return [scale_max * i / count for i in range(count + 1)]
