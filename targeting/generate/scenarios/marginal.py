"""`marginal`: 54 officer queries at nine port facilities: 48 whose true precision lies between
1x and 3x the population rate, 28 of them within 15% of the bar (2x), and 6 strong ones at
1.6-2.2x the bar. Where a promotion policy is tested: a query just above the bar should be
promoted, one just below should not, and the strong ones should be found (its power)."""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from targeting.generate.catalogue import CATEGORIES
from targeting.generate.patterns import Causes, Pattern
from targeting.generate.rulefiles import RuleSpec, query
from targeting.generate.scenarios.common import gifts_udr, repeat_list_udr
from targeting.generate.selection import Selection
from targeting.generate.world import Dynamics, Scenario, World

# (port, mode): the busiest international mail and express facilities.
FACILITIES = (("4701", "mail"), ("4701", "express"), ("2720", "express"), ("2720", "mail"),
              ("2006", "express"), ("4196", "express"), ("3901", "mail"), ("2801", "mail"),
              ("3901", "express"))
GOODS = ("electronics", "tshirts", "apparel", "footwear", "toys", "cosmetics")
# Planted precision as a multiple of the population rate; the bar is 2x.
BELOW = tuple(np.round(np.linspace(1.70, 1.90, 14), 4))     # 0.85-0.95 of the bar
ABOVE = tuple(np.round(np.linspace(2.10, 2.30, 14), 4))     # 1.05-1.15 of the bar
LOW = tuple(np.round(np.linspace(1.05, 1.55, 10), 4))
HIGH = tuple(np.round(np.linspace(2.45, 2.95, 10), 4))
STRONG = tuple(np.round(np.linspace(3.2, 4.4, 6), 4))      # 1.6-2.2x the bar: power is measured here
BASE_RATE = 0.009   # the rest of the traffic; the queries' segments carry most violations
BAND = 0.2          # "near the bar": within 20% of it


def _ratios() -> list[float]:
    """The 54 planted ratios, spread over the segments by a fixed permutation (29 is coprime to
    54), so every facility gets a mix of below-, near- and above-bar queries."""
    ordered = [*BELOW, *ABOVE, *LOW, *HIGH, *STRONG]
    return [float(ordered[(i * 29) % len(ordered)]) for i in range(len(ordered))]


def _prefixes(goods: str) -> list[str]:
    category = next(c for c in CATEGORIES if c.name == goods)
    return sorted({h[:4] for h in category.hts})


def _segment_mask(port: str, mode: str, goods: str) -> pl.Expr:
    return ((pl.col("port_code") == port) & (pl.col("mode") == mode)
            & pl.col("hts_code").str.starts_with(_prefixes(goods)[0])
            .or_(*[pl.col("hts_code").str.starts_with(p) for p in _prefixes(goods)[1:]]))


def segments() -> list[tuple[str, str, str, float]]:
    """(port, mode, goods, planted ratio) for each query."""
    cells = [(p, m, g) for p, m in FACILITIES for g in GOODS]
    return [(*cell, ratio) for cell, ratio in zip(cells, _ratios())]


def _pattern(port: str, mode: str, goods: str, ratio: float) -> Pattern:
    return Pattern(f"marginal_{port}_{mode}_{goods}", "marginal",
                   f"{goods} by {mode} at {port}: {ratio:.2f}x the population rate",
                   lambda: _segment_mask(port, mode, goods), ratio=ratio)


def query_id(index: int, port: str) -> str:
    return f"Q-{port}-{101 + index:04d}"


def _query(index: int, port: str, mode: str, goods: str, start: dt.date) -> RuleSpec:
    other = "express" if mode == "mail" else "mail"
    hts = next(c for c in CATEGORIES if c.name == goods).hts[0]
    return query(query_id(index, port), port, start + dt.timedelta(days=7 * (index % 4)),
                 f"{goods.replace('_', ' ').capitalize()} by {mode}",
                 f"Seizures of {goods} in the {mode} stream at {port} seemed a little above "
                 f"the usual.",
                 {"mode": mode, "hts_code": {"startswith_any": _prefixes(goods)}},
                 {"mode": mode, "hts_code": hts}, {"mode": other, "hts_code": hts})


def rules(start: dt.date, months: int) -> list[RuleSpec]:
    """Two national UDRs and the 54 marginal queries."""
    udrs = [repeat_list_udr("UDR-0101", start - dt.timedelta(days=600)),
            gifts_udr("UDR-0102", start - dt.timedelta(days=400))]
    return udrs + [_query(i, p, m, g, start) for i, (p, m, g, _) in enumerate(segments())]


class Marginal(Dynamics):
    """Nothing changes over time; the facts are each query's precision against the bar."""

    def facts(self, out: Path, summary: Mapping[str, Any]) -> dict[str, Any]:
        bar = summary["bar"]["rate"]
        planted = {query_id(i, p): (p, m, g, r) for i, (p, m, g, r) in enumerate(segments())}
        rows = []
        for rule in summary["rules"]:
            if rule["id"] not in planted:
                continue
            port, mode, goods, ratio = planted[rule["id"]]
            precision = rule["precision_since_created"] or 0.0
            rows.append({"query": rule["id"], "port": port, "mode": mode, "goods": goods,
                         "planted_x_population": ratio, "true_precision": precision,
                         "x_bar": round(precision / bar, 4) if bar else None,
                         "matches": rule["matches_since_created"],
                         "examined": rule["examined_since_created"],
                         "discrepant": rule["discrepant_since_created"]})
        x = np.array([r["x_bar"] or 0.0 for r in rows])
        return {
            "queries": len(rows),
            "between_1x_and_3x_population": int(((x >= 0.5) & (x <= 1.5)).sum()),
            "just_below_bar": int(((x >= 1 - BAND) & (x < 1)).sum()),
            "just_above_bar": int(((x >= 1) & (x <= 1 + BAND)).sum()),
            "at_least_1.5x_bar": int((x >= 1.5).sum()),
            "band": f"within {BAND:.0%} of the bar on each side",
            "marginal_queries": rows,
        }


STORY = """\
Fifty-four officer queries, one for each of six kinds of goods in the mail or express stream
at nine facilities (JFK 4701 mail and express, LAX 2720 express and mail, Memphis 2006,
Louisville 4196, Chicago 3901 mail and express, San Francisco 2801 mail). Each query's segment
is planted with a would-be-found rate that is a fixed multiple of the population rate (solved
month by month, since the segments are part of the population): 14 at 0.85-0.95 of the bar, 14
at 1.05-1.15 of it, 10 at 1.05-1.55x the population, 10 at 2.45-2.95x and 6 strong ones at
3.2-4.4x (1.6-2.2x the bar, where a policy's power is measured). The bar is 2x the
population rate of would_be_found. The rest of the traffic violates at base rates, and two
national UDRs (the repeat-violator list, vague low-value gifts) run beside the queries. Officers
examine the most suspicious of each query's flags within each port's daily capacity, so the
queries' own hit rates overstate their precision."""

SCENARIO = Scenario(
    name="marginal",
    summary="54 queries: 48 with true precision 1-3x the population rate, many near the bar; 6 strong",
    story=STORY,
    world=World(
        causes=Causes(tuple(_pattern(*s) for s in segments()), base_rate=BASE_RATE),
        selection=Selection(capacity=0.06, budget={"udr": (0.0015, 0.5), "query": (0.003, 0.3)}),
    ),
    rules=rules,
    dynamics=lambda start, months: Marginal(),
)
