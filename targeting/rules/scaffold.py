"""A new rule file to start from (`targeting new query|udr`): every key filled in with a
placeholder that says what goes there, a small `where`, and one example of each kind, so the
file validates as written and `targeting test` runs on it at once."""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable

QUERY = """\
# A new query: edit each line, then `targeting validate {file}` and `targeting test {id}`.
# The rule language: docs/rules.md. Every condition under where: must hold.
id: {id}
kind: query
title: What this query looks for, in a few words
owner: {owner}
port: "{port}"
status: draft          # make it active when it is ready to be measured
created: {today}
priorities: []         # tags from targeting.yaml's priorities, such as [repeat_violators]
rationale: Why you wrote it - what you saw, and where.
where:
  port_code: "{port}"
  mode: express
  description: {{contains_any: [handbag, purse]}}
tests:
  match:               # shipments it must find
    - {{port_code: "{port}", mode: express, description: LADIES HANDBAG}}
  no_match:            # and shipments it must not
    - {{port_code: "{port}", mode: mail, description: LADIES HANDBAG}}
"""

UDR = """\
# A new UDR (national: no port): edit each line, then `targeting validate {file}`.
# UDRs are usually promoted from a query (`targeting promote`); the gate warns about one written
# by hand. The rule language: docs/rules.md. Every condition under where: must hold.
id: {id}
kind: udr
title: What this rule targets, in a few words
owner: {owner}
status: draft          # make it active once reviewed
created: {today}
priorities: []         # tags from targeting.yaml's priorities
rationale: The known risk it targets, and the evidence for it.
where:
  mode: express
  country_of_origin: [CN, HK]
  description: {{contains_any: [handbag, purse]}}
tests:
  match:               # shipments it must find
    - {{mode: express, country_of_origin: CN, description: LADIES HANDBAG}}
  no_match:            # and shipments it must not
    - {{mode: express, country_of_origin: DE, description: LADIES HANDBAG}}
"""


def scaffold(kind: str, rule_id: str, owner: str, port: str | None, file: str,
             today: dt.date) -> str:
    """The text of a new rule file of `kind` (query or udr)."""
    template = QUERY if kind == "query" else UDR
    return template.format(id=rule_id, owner=owner, port=port or "", file=file,
                           today=today.isoformat())


def next_id(kind: str, port: str | None, used: Iterable[str]) -> str:
    """The next free id: Q-<port>-NNNN for a query, UDR-NNNN for a UDR."""
    if kind == "query":
        pattern = re.compile(rf"^Q-{re.escape(port or '')}-(\d+)$")
        numbers = [int(m.group(1)) for u in used if (m := pattern.match(u))]
        return f"Q-{port}-{max(numbers, default=0) + 1:04d}"
    numbers = [int(m.group(1)) for u in used if (m := re.match(r"^UDR-(\d+)$", u))]
    return f"UDR-{max(numbers, default=0) + 1:04d}"
