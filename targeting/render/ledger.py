"""The audit ledger as a terminal table."""
from __future__ import annotations

from typing import Any

from rich.table import Table

from targeting.decide import ledger
from targeting.render.escape import terminal


def ledger_table(entries: list[ledger.Entry]) -> Table:
    """seq and time never wrap; the user-text columns fold rather than vanish when narrow."""
    table = Table(box=None, pad_edge=False, header_style="bold")
    for header in ("seq", "at"):
        table.add_column(header, no_wrap=True)
    for header in ("actor", "action", "subject", "details"):
        table.add_column(header, overflow="fold")
    for e in entries:
        # user text: rich would read "[...]" as markup, and a terminal obeys escape codes.
        table.add_row(str(e.seq), terminal(e.at), *map(terminal, (e.actor, e.action, e.subject,
                                                                  summary(e.details))))
    return table


def summary(details: dict[str, Any], width: int = 60) -> str:
    """`key=value` pairs on one line, cut to `width` characters."""
    text = ", ".join(f"{key}={value}" for key, value in sorted(details.items()))
    return text if len(text) <= width else text[: width - 1] + "…"
