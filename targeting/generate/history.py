"""The month loop: draw a world's history one month (or part of a month) at a time and append it
to manifest, exams and truth, so memory stays bounded by the largest part.

Each part draws from its own generator seeded with [seed, 1, month] (or [seed, 1, month, part]),
so the same arguments give the same bytes.
"""
from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import polars as pl

from targeting.errors import ConfigError
from targeting.generate.exams import exam_rows
from targeting.generate.facts import Tally
from targeting.generate.manifest import (
    EXAMPLE_REPEAT_VIOLATOR,
    PORT_CODES,
    Columns,
    Month,
    Parties,
    draw_columns,
    make_parties,
    port_shares,
    to_frame,
)
from targeting.generate.patterns import violation_probability
from targeting.generate.selection import (
    OBSERVED_HTS,
    Arrivals,
    Plan,
    Selector,
    draw_exams,
    live,
    match_all,
    plan,
    selector,
)
from targeting.generate.truth import EXAM_TYPES, Planter, Truth, draw_truth
from targeting.generate.world import Dynamics, Seen, World
from targeting.generate.writer import PartWriter, write_lines
from targeting.rules.model import Rule
from targeting.text import normalise

DEFAULT_START = dt.date(2024, 10, 1)
# Relative volume by calendar month: the Q4 shopping peak.
SEASON = {1: 0.9, 2: 0.85, 3: 0.95, 4: 0.95, 5: 0.95, 6: 0.95, 7: 0.95, 8: 1.0, 9: 1.0,
          10: 1.15, 11: 1.35, 12: 1.4}
TABLES = ("manifest", "exams", "truth")
# A month larger than this is drawn in parts, so memory stays bounded whatever the history's
# size (a 100M-shipment history has months of ~6M rows).
PART_ROWS = 1_000_000


def month_starts(start: dt.date, months: int) -> list[dt.date]:
    """The first day of each month of the history."""
    first = start.replace(day=1)
    return [dt.date(first.year + (first.month - 1 + i) // 12, (first.month - 1 + i) % 12 + 1, 1)
            for i in range(months)]


def month_sizes(shipments: int, starts: list[dt.date], rng: np.random.Generator) -> np.ndarray:
    """Shipments per month: seasonal weights, a little growth, summing to `shipments`."""
    weight = np.array([SEASON[d.month] for d in starts]) * growth(len(starts))
    sizes: np.ndarray = rng.multinomial(shipments, weight / weight.sum())
    return sizes


def growth(months: int) -> np.ndarray:
    """Volume growth by month (1% a month), apart from the season."""
    return 1 + 0.01 * np.arange(months)


def daily_capacity(world: World, shipments: int, starts: list[dt.date]) -> np.ndarray:
    """Exams per day each port can do, per month: a share of its expected daily arrivals. Staff
    follow the growth of traffic but not the season, so the Q4 peak is rationed harder."""
    days = np.array([calendar.monthrange(d.year, d.month)[1] for d in starts])
    trend = growth(len(starts))
    per_day = shipments / float((days * trend).sum()) * trend        # season-free arrivals a day
    shares = port_shares()
    ports = list(PORT_CODES)
    share = world.selection.capacities(ports) * np.array([shares[p] for p in ports])
    return np.outer(per_day, share)


@dataclass(frozen=True)
class Run:
    """What every month part of one history shares."""

    world: World
    rules: Sequence[Rule]
    base_lists: Mapping[str, frozenset[str]]
    parties: Parties
    capacity: np.ndarray     # month x port: exams a day
    dynamics: Dynamics
    planter: Planter
    tally: Tally
    compiled: dict[tuple[object, ...], Selector] = field(default_factory=dict)


def write_history(world: World, rules: Sequence[Rule], out: Path, shipments: int, months: int,
                  seed: int, start: dt.date, dynamics: Dynamics) -> tuple[dict[str, int], Tally]:
    """Write manifest, exams, truth and lists/ into `out`; return row counts and the tally."""
    if shipments < 1 or months < 1:
        raise ConfigError("shipments and months must be at least 1")
    root = np.random.default_rng([seed, 0])
    parties = make_parties(shipments, root)
    base_lists = write_lists(out / "lists", parties)
    starts = month_starts(start, months)
    sizes = month_sizes(shipments, starts, root)
    run = Run(world, sorted(rules, key=lambda r: (r.kind != "udr", r.id)), base_lists, parties,
              daily_capacity(world, shipments, starts), dynamics, Planter(), Tally(rules, months))
    return _write_months(out, run, starts, sizes, seed), run.tally


def _write_months(out: Path, run: Run, starts: list[dt.date], sizes: np.ndarray,
                  seed: int) -> dict[str, int]:
    writers = {t: PartWriter(out / f"{t}.parquet") for t in TABLES}
    offset = exam_offset = 0
    try:
        for index, (first, n) in enumerate(zip(starts, sizes)):
            month = Month(index, len(starts), first, run.parties)
            sels = _selectors(run, month)
            for key, part in _month_parts(seed, index, int(n)):
                rng = np.random.default_rng(key)
                frames = _month_part(rng, run, month, sels, part, part / max(1, int(n)),
                                     offset, exam_offset)
                for table, frame in zip(TABLES, frames):
                    writers[table].write(frame)
                offset, exam_offset = offset + part, exam_offset + len(frames[1])
        for writer in writers.values():
            writer.close()
    except BaseException:
        for writer in writers.values():
            writer.abort()
        raise
    return {t: w.rows for t, w in writers.items()}


def _selectors(run: Run, month: Month) -> list[Selector]:
    """Every rule compiled with the lists known this month, on its schedule (compiled again
    only when a list changed: compiling 50 rules every month cost a tenth of generation)."""
    lists = {**run.base_lists, **run.dynamics.lists(month)}
    sels = []
    for rule in run.rules:
        planned = run.dynamics.schedule(rule, month)
        key = (rule.id, tuple((name, hash(values)) for name, values in sorted(lists.items())))
        if key not in run.compiled:
            if len(run.compiled) > 4 * len(run.rules):   # lists that changed are not coming back
                run.compiled.clear()
            run.compiled[key] = selector(rule, lists)
        sel = run.compiled[key]
        if planned is not None:
            sel = replace(sel, active_from=planned[0], selects=planned[1])
        sels.append(sel)
    return sels


def _month_parts(seed: int, month: int, n: int) -> list[tuple[list[int], int]]:
    """(random seed key, rows) for each part of a month; one part keeps the month's key."""
    parts = max(1, -(-n // PART_ROWS))
    if parts == 1:
        return [([seed, 1, month], n)]
    sizes = [n // parts + (i < n % parts) for i in range(parts)]
    return [([seed, 1, month, i], size) for i, size in enumerate(sizes)]


def _month_part(rng: np.random.Generator, run: Run, month: Month, sels: list[Selector], n: int,
                share: float, offset: int,
                exam_offset: int) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Manifest, exams and truth for `n` shipments of one month (`share` of the month)."""
    cols, df, truth = _arrivals(rng, run, month, n, offset)
    matches = match_all(df, sels)
    chosen = _plan(run, month, sels, matches, cols, df, truth, share)
    method, selector_id = draw_exams(rng, chosen, n)
    extra = {"exam_type": np.array(EXAM_TYPES)[truth.exam_type], "selection_probability": chosen.p}
    exams = _numbered(exam_rows(rng, df, truth.found, method, selector_id, extra,
                                run.world.recording), exam_offset)
    seen = Seen(month, df, cols.importer, truth, method, selector_id,
                {s.id: m for s, m in zip(sels, matches)}, exams)
    run.tally.add(seen, chosen)
    run.dynamics.observe(seen)
    return df, exams, truth.frame(df["shipment_id"]).with_columns(selection_probability=chosen.p)


def _arrivals(rng: np.random.Generator, run: Run, month: Month, n: int,
              offset: int) -> tuple[Columns, pl.DataFrame, Truth]:
    """The month part's manifest (after the world's and the state's injections) and its truth."""
    cols = draw_columns(rng, run.parties, n)
    for inject in run.world.injections:
        inject(rng, cols, month)
    run.dynamics.inject(rng, cols, month)
    df = to_frame(rng, cols, run.parties, month.first, offset)
    causes = run.world.causes
    p, label = violation_probability(df, month.index, month.months,
                                     np.isin(cols.importer, run.parties.repeat),
                                     np.isin(cols.importer, run.parties.trusted), causes)
    return cols, df, draw_truth(rng, df, cols.mode, p, label, causes.patterns, run.world.truth,
                                run.planter)


def _plan(run: Run, month: Month, sels: list[Selector], matches: list[np.ndarray], cols: Columns,
          df: pl.DataFrame, truth: Truth, share: float) -> Plan:
    """Every selector's probability for the part; capacity is the month's, times its share."""
    arrival = df["arrival_date"].to_numpy()
    arrivals = Arrivals(cols.port, df["arrival_date"].dt.day().to_numpy().astype(np.int64) - 1,
                        truth.suspicion.astype(np.float64), _risky(df),
                        run.capacity[month.index] * share)
    flagged = [(s, live(s, m, arrival)) for s, m in zip(sels, matches) if s.selects]
    return plan(arrivals, list(PORT_CODES), flagged, run.world.selection)


def _numbered(exams: pl.DataFrame, exam_offset: int) -> pl.DataFrame:
    """Exams in date order with ids that continue from the previous part's."""
    return exams.sort("exam_date", "shipment_id").with_columns(exam_id=pl.format(
        "EX{}", (pl.int_range(1, len(exams) + 1) + exam_offset).cast(pl.String)
        .str.zfill(10))).select("exam_id", pl.exclude("exam_id"))


def _risky(df: pl.DataFrame) -> np.ndarray:
    """Goods an officer's eye goes to on a walk-through (bags, watches, shoes, jewellery, eyewear,
    cosmetics, medicines), outside cargo."""
    risky: np.ndarray = df.select(
        pl.col("hts_code").str.starts_with(OBSERVED_HTS[0]).alias("r")
        .or_(*[pl.col("hts_code").str.starts_with(h) for h in OBSERVED_HTS[1:]])
        & (pl.col("mode") != "cargo")).to_series().to_numpy()
    return risky


def write_lists(folder: Path, parties: Parties) -> dict[str, frozenset[str]]:
    """Lists officers keep; only ~70% of the repeat violators are known and listed."""
    known = np.union1d(parties.repeat[: int(len(parties.repeat) * 0.7)], [EXAMPLE_REPEAT_VIOLATOR])
    lists = {
        "repeat_violators": [f"IMP{i:07d}" for i in np.sort(known)],
        "trusted_importers": [f"IMP{i:07d}" for i in parties.trusted],
    }
    folder.mkdir(parents=True, exist_ok=True)
    for name, values in lists.items():
        write_lines(folder / f"{name}.txt", values)
    return {name: frozenset(normalise(v) for v in values) for name, values in lists.items()}
