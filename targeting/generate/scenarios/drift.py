"""`drift`: a ring of importers moves after enforcement. It ships branded sneakers from China by
mail until a national UDR has seized its shipments for several months, then switches to express
through the FedEx and UPS hubs with plain descriptions. The UDR that worked decays."""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from targeting.generate.facts import rate
from targeting.generate.manifest import CATEGORY_INDEX, Columns, Month, country, port
from targeting.generate.patterns import NATIONAL, Causes, Pattern
from targeting.generate.rulefiles import RuleSpec, query
from targeting.generate.scenarios.common import (
    brake_pads_udr,
    handbags_query,
    hk_watches_udr,
    mail_sneakers_udr,
    reels_query,
)
from targeting.generate.world import Dynamics, Scenario, Seen, World

RING = tuple(range(9_000_001, 9_000_013))      # importer numbers: IMP9000001 ... IMP9000012
RING_IDS = tuple(f"IMP{n:07d}" for n in RING)
RING_SHARE = 0.006      # of all shipments
RING_P = 0.45
DRIFTING_UDR = "UDR-0301"
PATIENCE = 6            # months with a seizure by the UDR before the ring moves


@dataclass(frozen=True)
class Route:
    """How the ring ships: mode, ports, tariff code and the words on the manifest."""

    name: str
    mode: int               # index into MODES
    ports: tuple[str, ...]
    hts: str
    words: tuple[str, ...]


ROUTES = (
    Route("mail, branded", 1, ("4701", "2720", "3901"), "6404110000",
          ("NIKE SNEAKERS", "AIR JORDAN SHOES", "YEEZY SNEAKERS", "NIKE RUNNING SHOE")),
    Route("express hubs, plain", 0, ("2006", "4196"), "6404110000",
          ("SPORT SHOES", "RUNNING SHOE", "CANVAS SHOES", "SHOES")),
)


def _ring_pattern() -> Pattern:
    return Pattern("sneaker_ring", "drifting",
                   "Twelve importers shipping counterfeit sneakers; they change route after "
                   "months of seizures", lambda: pl.col("importer_id").is_in(list(RING_IDS)),
                   lambda m, n: RING_P)


def rules(start: dt.date, months: int) -> list[RuleSpec]:
    """The UDR the ring defeats, two other UDRs and three queries."""
    days = dt.timedelta(days=1)
    hubs = query("Q-2006-0312", "2006", start + (months * 20) * days, "Plain shoes from China by "
                 "express", "Unbranded shoes from China at declared values under $60.",
                 {"mode": "express", "country_of_origin": "CN", "hts_code": {"startswith": "640"},
                  "declared_value": {"lt": 60}},
                 {"mode": "express", "country_of_origin": "CN", "hts_code": "6404110000",
                  "declared_value": 20},
                 {"mode": "express", "country_of_origin": "VN", "hts_code": "6404110000",
                  "declared_value": 20})
    return [mail_sneakers_udr(DRIFTING_UDR, start - 365 * days),
            brake_pads_udr("UDR-0302", start - 500 * days),
            hk_watches_udr("UDR-0303", start - 200 * days),
            handbags_query("Q-4701-0311", "4701", start + 21 * days), hubs,
            reels_query("Q-3901-0313", "3901", start + 14 * days)]


class Drift(Dynamics):
    """The ring's route, and the months in which the UDR seized its shipments."""

    def __init__(self, start: dt.date, months: int):
        self.route = 0
        self.enforced: set[int] = set()
        self.moves: list[dict[str, Any]] = []
        self.month = -1

    def inject(self, rng: np.random.Generator, cols: Columns, month: Month) -> None:
        self._advance(month)
        route = ROUTES[self.route]
        rows = np.flatnonzero(rng.random(len(cols)) < RING_SHARE)
        cols.mode[rows] = route.mode
        ports = np.array([port(p) for p in route.ports])
        cols.port[rows] = ports[rng.integers(0, len(ports), len(rows))]
        cols.origin[rows] = cols.export[rows] = country("CN")
        cols.cat[rows] = CATEGORY_INDEX["footwear"]
        cols.hts[rows] = route.hts
        cols.desc[rows] = np.array(route.words)[rng.integers(0, len(route.words), len(rows))]
        cols.importer[rows] = np.array(RING)[rng.integers(0, len(RING), len(rows))]

    def _advance(self, month: Month) -> None:
        """At a month's start: after PATIENCE months of seizures on one route, the ring moves."""
        if month.index == self.month:
            return
        self.month = month.index
        if self.route + 1 < len(ROUTES) and len(self.enforced) >= PATIENCE:
            self.moves.append({"month": month.first.isoformat()[:7], "from": ROUTES[self.route].name,
                               "to": ROUTES[self.route + 1].name,
                               "after_months_of_seizures": len(self.enforced)})
            self.route += 1
            self.enforced = set()

    def observe(self, seen: Seen) -> None:
        ring = np.isin(seen.importer, RING)
        if (ring & (seen.selector_id == DRIFTING_UDR) & seen.truth.found).any():
            self.enforced.add(seen.month.index)

    def facts(self, out: Path, summary: Mapping[str, Any]) -> dict[str, Any]:
        udr = next(r for r in summary["rules"] if r["id"] == DRIFTING_UDR)
        moved = self.moves[0]["month"] if self.moves else None
        before = [m for m in udr["monthly"] if moved is None or m["month"] < moved]
        after = [m for m in udr["monthly"] if moved is not None and m["month"] >= moved]
        return {
            "decaying_udr": DRIFTING_UDR,
            "ring_importers": f"{RING_IDS[0]} to {RING_IDS[-1]}",
            "moves": self.moves or "none (the UDR did not seize the ring's shipments long enough)",
            "precision_before_move": _precision(before),
            "precision_after_move": _precision(after),
            "matches_before_move": sum(m["matches"] for m in before),
            "matches_after_move": sum(m["matches"] for m in after),
        }


def _precision(months: list[Mapping[str, Any]]) -> float | None:
    return rate(sum(m["would_be_found"] for m in months), sum(m["matches"] for m in months))


STORY = f"""\
The three strong national patterns of the bundled world (express handbags, HK watches, brake
pads) and a ring of twelve importers ({RING_IDS[0]} to {RING_IDS[-1]}, {RING_SHARE:.1%} of all
shipments, each violating with probability {RING_P}). The ring first ships branded sneakers
from China by mail through JFK, LAX and Chicago, which {DRIFTING_UDR} (branded sneakers from
China by mail) targets. Once the UDR has seized ring shipments in {PATIENCE} different months,
the ring moves to express through Memphis and Louisville with plain descriptions ("SPORT
SHOES"): {DRIFTING_UDR} stops matching it and its precision falls to that of ordinary sneaker
mail. A Memphis query written later (Q-2006-0312) happens to cover the new route."""

SCENARIO = Scenario(
    name="drift",
    summary="violators change route after enforcement; the UDR that caught them decays",
    story=STORY,
    world=World(causes=Causes((*NATIONAL, _ring_pattern()))),
    rules=rules,
    dynamics=Drift,
)
