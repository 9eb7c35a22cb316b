"""`snooped`: a query built from hindsight. Two thirds into the history an officer lists the
importers of every exam found discrepant so far, writes a query on that list and backdates its
`created` date to the start. Backtested from that date it re-finds the very exams it was built
from; forward it is only as good as the population."""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from targeting.errors import ConfigError
from targeting.files import write_atomic
from targeting.generate.facts import rate
from targeting.generate.history import month_starts
from targeting.generate.manifest import Month, inject_network, inject_pens
from targeting.generate.patterns import PATTERNS, Causes
from targeting.generate.rulefiles import RuleSpec, query
from targeting.generate.scenarios.common import (
    brake_pads_udr,
    handbags_query,
    hk_watches_udr,
    network_query,
    reels_query,
    sunglasses_query,
)
from targeting.generate.world import Dynamics, Scenario, Seen, World
from targeting.generate.writer import write_lines
from targeting.rules.model import Rule
from targeting.text import normalise

HINDSIGHT = "Q-4701-0299"
LIST = "prior_discrepancies"
OUTSIDER = "IMP9999999"   # an importer no history draws: the rule's no_match example


def cutoff_month(months: int) -> int:
    """The month (0-based) in which the officer builds the list: two thirds into the history."""
    return max(1, (2 * months) // 3)


def hindsight_query(start: dt.date, member: str) -> RuleSpec:
    """The snooped query, dated to the start of the history; `member` is a listed importer."""
    return query(HINDSIGHT, "4701", start, "Importers with earlier discrepancies",
                 "Importers who have had discrepant exams before are worth a second look.",
                 {"importer_id": {"in_list": LIST}}, {"importer_id": member},
                 {"importer_id": OUTSIDER}, owner="cbpo-4701-299")


def _hindsight_spec(spec: RuleSpec) -> RuleSpec:
    """Queries here name no port_code (the list is national), so drop the port the helper adds."""
    where = {k: v for k, v in spec.where.items() if k != "port_code"}
    return RuleSpec(spec.id, spec.kind, spec.title, spec.owner, spec.created, spec.rationale,
                    where, tuple({k: v for k, v in r.items() if k != "port_code"}
                                 for r in spec.match),
                    tuple({k: v for k, v in r.items() if k != "port_code"} for r in spec.no_match),
                    port=spec.port)


def rules(start: dt.date, months: int) -> list[RuleSpec]:
    """Two UDRs, four ordinary queries and the hindsight query (its example member is fixed
    when the list exists, at the end of the history)."""
    days = dt.timedelta(days=1)
    return [brake_pads_udr("UDR-0201", start - 500 * days),
            hk_watches_udr("UDR-0202", start - 300 * days),
            handbags_query("Q-4701-0211", "4701", start + 30 * days),
            network_query("Q-5206-0212", "5206", start + 20 * days),
            reels_query("Q-3901-0213", "3901", start + 14 * days),
            sunglasses_query("Q-4601-0214", "4601", start + 60 * days),
            _hindsight_spec(hindsight_query(start, OUTSIDER))]


class Hindsight(Dynamics):
    """Collects the importers of discrepant exams until the cutoff; the query selects after it."""

    def __init__(self, start: dt.date, months: int):
        self.start = start
        self.cutoff = month_starts(start, months)[min(cutoff_month(months), months - 1)]
        self.importers: set[str] = set()

    def observe(self, seen: Seen) -> None:
        if seen.month.first >= self.cutoff:
            return
        found = seen.exams.filter(pl.col("result") == "discrepant").select("shipment_id")
        ids = found.join(seen.manifest.select("shipment_id", "importer_id"), on="shipment_id")
        self.importers |= set(ids["importer_id"].to_list())

    def lists(self, month: Month) -> Mapping[str, frozenset[str]]:
        known = self.importers if month.first >= self.cutoff else set()
        return {LIST: frozenset(normalise(i) for i in known)}

    def schedule(self, rule: Rule, month: Month) -> tuple[dt.date | None, bool] | None:
        if rule.id != HINDSIGHT:
            return None
        return self.cutoff, month.first >= self.cutoff

    def finish(self, out: Path) -> None:
        if not self.importers:
            raise ConfigError("no exam was discrepant before the snooped query's cutoff; "
                              "generate more shipments")
        members = sorted(self.importers)
        write_lines(out / "lists" / f"{LIST}.txt", members)
        spec = _hindsight_spec(hindsight_query(self.start, members[0]))
        write_atomic(out / "queries" / spec.filename, spec.to_yaml())

    def revise(self, out: Path, summary: dict[str, Any]) -> None:
        """The month-by-month tally could not match the list before it existed: recount."""
        counts = self._counts(out)
        for row in summary["rules"]:
            if row["id"] == HINDSIGHT:
                row.update(matches=counts["all"]["matches"], precision=counts["all"]["precision"],
                           matches_since_created=counts["all"]["matches"],
                           precision_since_created=counts["all"]["precision"],
                           examined_since_created=counts["all"]["examined"],
                           discrepant_since_created=counts["all"]["discrepant"],
                           observed_hit_rate=counts["all"]["observed_hit_rate"], monthly=[])
                population = summary["population"]["rate"]
                row["ratio_since_created"] = (round(row["precision"] / population, 4)
                                              if population and row["precision"] else None)

    def facts(self, out: Path, summary: Mapping[str, Any]) -> dict[str, Any]:
        counts = self._counts(out)
        population = summary["population"]["rate"]
        forward = counts["forward"]["precision"] or 0.0
        return {
            "hindsight_query": HINDSIGHT,
            "claimed_created": self.start.isoformat(),
            "list_built": self.cutoff.isoformat(),
            "listed_importers": len(self.importers),
            "forward_precision": forward,
            "forward_x_population": round(forward / population, 4) if population else None,
            "population_rate": population,
            "windows": [{"window": name, **values} for name, values in counts.items()],
        }

    def _counts(self, out: Path) -> dict[str, dict[str, Any]]:
        """Matches, true precision and exams of the hindsight query: over the whole (backdated)
        history, before the list was built (the exams it was built from) and after it."""
        listed = pl.Series(sorted(self.importers), dtype=pl.String)
        matches = (pl.scan_parquet(out / "manifest.parquet")
                   .filter(pl.col("importer_id").is_in(listed.implode()))
                   .select("shipment_id", "arrival_date")
                   .join(pl.scan_parquet(out / "truth.parquet").select("shipment_id",
                                                                       "would_be_found"),
                         on="shipment_id").collect())
        exams = (pl.scan_parquet(out / "exams.parquet")
                 .filter(pl.col("shipment_id").is_in(matches["shipment_id"].implode()))
                 .group_by("shipment_id").agg((pl.col("result") == "discrepant").any().alias("d"))
                 .collect())
        joined = matches.join(exams, on="shipment_id", how="left")
        cut = np.datetime64(self.cutoff)
        arrival = joined["arrival_date"].to_numpy()
        return {name: _window(joined.filter(pl.Series(mask)))
                for name, mask in (("all", np.ones(len(joined), dtype=bool)),
                                   ("before_list", arrival < cut), ("forward", arrival >= cut))}


def _window(frame: pl.DataFrame) -> dict[str, Any]:
    examined = int(frame["d"].is_not_null().sum())
    discrepant = int(frame["d"].fill_null(False).sum())
    found = int(frame["would_be_found"].sum())
    return {"matches": len(frame), "precision": rate(found, len(frame)), "examined": examined,
            "discrepant": discrepant, "observed_hit_rate": rate(discrepant, examined)}


STORY = f"""\
The bundled world's patterns without repeat violators (no importer violates more often than
another of its kind), with two UDRs and four ordinary queries. {HINDSIGHT} is the snooped one:
two thirds into the history an officer at JFK listed the importer of every exam found
discrepant so far (`lists/{LIST}.txt`), wrote a query on the list and dated it to the first
day of the history. It selects exams only from the day the list was built, but a backtest from
its claimed created date counts the discrepant exams the list was made from, so it looks
excellent; its true forward precision is close to the population rate."""

SCENARIO = Scenario(
    name="snooped",
    summary="a hindsight importer-list query, backdated to the start of the history",
    story=STORY,
    world=World(causes=Causes(PATTERNS, repeat_boost=0.0),
                injections=(inject_network, inject_pens)),
    rules=rules,
    dynamics=Hindsight,
)
