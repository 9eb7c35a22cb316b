"""Warn where a rule names a value its field never holds in the data: `mode: expres` or
`country_of_origin: [CHN, VN]` type-check, yet match nothing, and the officer sees only zeros.
Pure: the vocabulary (each categorical field's values) comes from data/values.py."""
from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence

from targeting.errors import Problem
from targeting.rules.model import Leaf, Rule, leaves
from targeting.text import normalise

# Operators whose values are whole field values (a typo in them silently matches nothing, or,
# for ne / not_in, everything).
EXACT_OPERATORS = ("eq", "ne", "in", "not_in")
SHOWN_VALUES = 8


def value_problems(rule: Rule, vocabulary: Mapping[str, Sequence[str]]) -> list[Problem]:
    """An `unknown-value` warning for each value of an exact comparison that never occurs in
    its field, with a did-you-mean from the field's actual values (compared as rules compare
    text: case and surrounding spaces ignored)."""
    found = []
    for leaf in leaves(rule.where):
        values = vocabulary.get(leaf.field)
        if leaf.op not in EXACT_OPERATORS or values is None:
            continue
        folded = {normalise(v): v for v in values}
        wanted = leaf.value if isinstance(leaf.value, tuple) else (leaf.value,)
        for value in wanted:
            if isinstance(value, str) and normalise(value) not in folded:
                found.append(Problem("unknown-value", _message(leaf, value, folded), leaf.loc,
                                     "warning"))
    return found


def _message(leaf: Leaf, value: str, folded: dict[str, str]) -> str:
    close = difflib.get_close_matches(normalise(value), list(folded), n=1, cutoff=0.6)
    head = f"'{value}' never occurs in {leaf.field}"
    if close:
        return f"{head}; did you mean '{folded[close[0]]}'?"
    shown = ", ".join(list(folded.values())[:SHOWN_VALUES])
    more = f", ... ({len(folded):,} values)" if len(folded) > SHOWN_VALUES else ""
    return f"{head}; its values are {shown}{more}. Check the spelling, or `targeting data check`"
