"""How numbers are written for people: percentages, counts, ratios, money. Every renderer and
every sentence the policy or the gate writes uses these, so 12.3% is 12.3% everywhere."""
from __future__ import annotations

import math
from typing import Any

MISSING = "–"


def missing(value: Any) -> bool:
    """None or NaN."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def pct(value: float | None, digits: int = 1) -> str:
    """0.1234 -> '12.3%'; None -> '–'."""
    if value is None or missing(value):
        return MISSING
    return f"{100 * value:.{digits}f}%"


def num(value: float | None, digits: int = 2) -> str:
    """Thousands separators for integers, fixed digits for floats, '–' for missing."""
    if value is None or missing(value):
        return MISSING
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{digits}f}"


def money(value: float | None) -> str:
    """'$1,234' (whole dollars)."""
    return MISSING if missing(value) else f"${value:,.0f}"


def plural(count: int, noun: str, plural_form: str | None = None) -> str:
    """'1 port', '3 ports', '1,234 shipments'."""
    word = noun if count == 1 else (plural_form or noun + "s")
    return f"{count:,} {word}"


def p_value(p: float) -> str:
    """'p = 0.029', or 'p < 0.001' rather than a misleading 'p = 0.000'."""
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"
