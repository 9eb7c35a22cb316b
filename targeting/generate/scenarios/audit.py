"""`audit`: the regime OIG-22-52 describes. UDR alerts are rarely worked, so UDRs account for
about 1% of seizures; officers' queries, walk-throughs and tips find the rest; and most ports
record no abandonment or refused entry, only seizures."""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from targeting.generate.exams import PORT_PRACTICE, Recording
from targeting.generate.manifest import inject_network, inject_pens
from targeting.generate.patterns import PATTERNS, Causes, emerge_month
from targeting.generate.rulefiles import RuleSpec
from targeting.generate.scenarios.common import (
    brake_pads_udr,
    cargo_toys_query,
    gifts_udr,
    handbags_query,
    hk_watches_udr,
    mail_sneakers_query,
    mail_sneakers_udr,
    network_query,
    pens_query,
    reels_query,
    repeat_list_udr,
    sunglasses_query,
    watches_query,
)
from targeting.generate.selection import Selection
from targeting.generate.world import Dynamics, Scenario, World

# Only JFK and Miami record abandonment; the other practice ports leave it unrecorded.
RECORDING_PORTS = frozenset({"4701", "5206"})
UNRECORDED = frozenset(PORT_PRACTICE) - RECORDING_PORTS
SELECTION = Selection(
    capacity=0.06,
    # UDR alerts are rarely worked: a few exams a month per rule, nationally.
    budget={"udr": (0.000025, 0.02), "query": (0.0012, 0.8)},
    tip_base=6.0e-5,
    observation_rate=0.008,
    observation_slope=1.0,
)


def rules(start: dt.date, months: int) -> list[RuleSpec]:
    """Five national UDRs on known risks, and officers' queries at nine ports."""
    days = dt.timedelta(days=1)
    month = dt.timedelta(days=31)
    return [
        repeat_list_udr("UDR-0401", start - 700 * days),
        brake_pads_udr("UDR-0402", start - 500 * days),
        hk_watches_udr("UDR-0403", start - 400 * days),
        mail_sneakers_udr("UDR-0404", start - 900 * days),
        gifts_udr("UDR-0405", start - 300 * days),
        handbags_query("Q-4701-0411", "4701", start + 20 * days),
        watches_query("Q-2720-0412", "2720", start + 40 * days),
        pens_query("Q-2006-0413", "2006", start + emerge_month(months) * month + 10 * days),
        network_query("Q-5206-0414", "5206", start + 25 * days),
        reels_query("Q-3901-0415", "3901", start + 10 * days),
        handbags_query("Q-4196-0416", "4196", start + 35 * days),
        watches_query("Q-3901-0417", "3901", start + 50 * days),
        mail_sneakers_query("Q-2801-0418", "2801", start + 60 * days),
        pens_query("Q-4196-0419", "4196", start + (emerge_month(months) + 1) * month),
        mail_sneakers_query("Q-5206-0420", "5206", start + 45 * days),
        watches_query("Q-4701-0421", "4701", start + 70 * days),
        sunglasses_query("Q-4601-0422", "4601", start + 30 * days),
        cargo_toys_query("Q-2709-0423", "2709", start + 15 * days),
        reels_query("Q-2801-0424", "2801", start + 90 * days),
        mail_sneakers_query("Q-4701-0425", "4701", start + 5 * days),
        mail_sneakers_query("Q-3901-0426", "3901", start + 12 * days),
        mail_sneakers_query("Q-2720-0427", "2720", start + 8 * days),
        watches_query("Q-2801-0428", "2801", start + 16 * days),
    ]


class Audit(Dynamics):
    """Nothing changes over time; the facts are the shares the audit reported."""

    def facts(self, out: Path, summary: Mapping[str, Any]) -> dict[str, Any]:
        udr = summary["selection"]["udr"]
        recorded = sorted(p for p, d in summary["dispositions"].items()
                          if {"voluntary_abandonment", "refused_entry"} & set(d))
        return {
            "udr_share_of_seizures": udr["share_of_finds"],
            "udr_expected_share_of_seizures": udr["expected_share_of_finds"],
            "seizures": summary["finds"]["total"],
            "seizures_by_selector": {m: c["share_of_finds"]
                                     for m, c in summary["selection"].items()},
            "ports_with_seizures": len(summary["dispositions"]),
            "ports_recording_abandonment_or_refusal": recorded,
            "ports_leaving_alternatives_unrecorded": sorted(UNRECORDED),
        }


STORY = """\
The bundled world's patterns, with the audit's regime of selection. Five national UDRs exist
(repeat violators, brake pads, Hong Kong watches, mail sneakers, vague gifts) but their alerts
are rarely worked: each gets a few exams a month nationally. Officers' queries at many ports,
physical observation and tips do the finding, so UDRs account for about 1% of seizures (0.8-1%
in FY2018-2020). Outcomes other than seizure go unrecorded at most ports: of the seven ports
that let importers abandon goods or refuse entry, only JFK (4701) and Miami (5206) record it."""

SCENARIO = Scenario(
    name="audit",
    summary="UDRs make about 1% of seizures; most ports record no abandonment or refusal",
    story=STORY,
    world=World(causes=Causes(PATTERNS), injections=(inject_network, inject_pens),
                selection=SELECTION,
                recording=Recording(unrecorded_alternatives=UNRECORDED)),
    rules=rules,
    dynamics=lambda start, months: Audit(),
)
