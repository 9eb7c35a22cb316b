"""`default`: the bundled world (seven planted patterns and repeat violators) with the
repository's own rules and queries selecting exams, under officer choice and exam capacity."""
from __future__ import annotations

from targeting.generate.exams import Recording
from targeting.generate.manifest import inject_network, inject_pens
from targeting.generate.patterns import PATTERNS, Causes
from targeting.generate.selection import Selection
from targeting.generate.world import Scenario, World

# Ports that record no disposition at all: small seaports and a secondary airport whose
# seizure records are kept elsewhere (the audit found outcomes other than seizure unrecorded).
NO_DISPOSITION = frozenset({"1704", "5301", "3001"})
# The sneaker UDR is old and heavily worked: mail facilities examine most of its hits.
BUDGET_BY_RULE = {"UDR-0002": (0.006, 0.8)}

WORLD = World(
    causes=Causes(PATTERNS),
    injections=(inject_network, inject_pens),
    selection=Selection(capacity=0.06, budget={"udr": (0.0015, 0.5), "query": (0.0009, 0.8)},
                        budget_by_rule=BUDGET_BY_RULE),
    recording=Recording(no_disposition=NO_DISPOSITION),
)

STORY = """\
The world the bundled fixture is drawn from. Seven patterns are planted (three strong national
signals, a one-port shipper network, an officer's personal interest that is only noise, a
pattern that decays and one that emerges mid-history) plus repeat-violator importers. The
repository's own `rules/` and `queries/` (copied into this folder) select the exams, together
with random compliance exams, tips and physical observation. Officers examine the more
suspicious of a rule's matches, and each port can examine only so many shipments a day, so a
rule's own hit rate overstates its true precision and promoted rules displace other exams."""

SCENARIO = Scenario(
    name="default",
    summary="the bundled world: seven planted patterns, the repository's rules and queries",
    story=STORY,
    world=WORLD,
    rules=None,
)
