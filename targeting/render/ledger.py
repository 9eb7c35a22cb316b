"""The audit ledger as a terminal table."""
from __future__ import annotations

from typing import Any

from rich.table import Table

from targeting.decide import ledger
from targeting.render.escape import one_line, terminal


def ledger_table(entries: list[ledger.Entry]) -> Table:
    """seq and time never wrap; the user-text columns fold rather than vanish when narrow."""
    table = Table(box=None, pad_edge=False, header_style="bold")
    for header in ("seq", "at"):
        table.add_column(header, no_wrap=True)
    for header in ("actor", "action", "subject", "details"):
        table.add_column(header, overflow="fold")
    for e in entries:
        # User text: no control characters (escape sequences), "[...]" shown, not read as markup.
        table.add_row(str(e.seq), terminal(e.at), *(terminal(one_line(v)) for v in (
            e.actor, e.action, e.subject, summary(e.details))))
    return table


def summary(details: dict[str, Any], width: int = 60) -> str:
    """`key=value` pairs on one line, cut to `width` characters."""
    text = ", ".join(f"{key}={value}" for key, value in sorted(details.items()))
    return text if len(text) <= width else text[: width - 1] + "…"
