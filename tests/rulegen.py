"""Seeded random tables and predicate trees for the differential tests."""
from __future__ import annotations

import datetime as dt
import random

import polars as pl

from targeting.compile.sql import MANY
from targeting.rules.model import All, AnyOf, Leaf, Node, Not
from targeting.text import normalise

CATALOGUE = {"t1": "text", "t2": "text", "n1": "number", "n2": "number", "d1": "date",
             "b1": "bool"}
ODD_TEXT = [
    "İstanbul", "ISTANBUL", "istanbul", "ΣΟΦΟΣ", "σοφος", "σοφοσ", "Straße", "STRASSE", "ẞ",
    "e\u0301te", "ÉTÉ", "café", "\u00a0nbsp\u00a0", " emoji 👜 bag ", "100%_off", "100x_off",
    "%", "_", "it's", 'say "hi"', "back\\slash", "a;b", "x -- y", "'; DROP TABLE t; --",
    "  padded\t", "\n", "", "ǅungla", "handbag\n", "a\rb", "a\u2028b", "\U00010d50 garay",
    "\ua7dc", "line\r\n", "Kelvin \u212a", "Ohm \u2126", "LEATHER HANDBAG",
    "ladies handbag", "Handbag Purse", "purse", "WATCH", "watch strap", "CN", "cn ", " HK",
]
# Patterns exercise what the three regex libraries could read differently: `$` before a final
# newline, `.` over \r and \u2028, classes with literal brackets, non-ASCII letters.
PATTERNS = ["^le", "^[Ll][Ee]", "bag$", "a.b", "[0-9]+%", "[σΣς]", "^$", "h[a-z]+g", "β|ß",
            "[Ss]tra(ß|ss)e", "\\\\", "'", "--", "_", "n$", "^.$", "[\\[\\]]", "[^a-z ]",
            "\U00010d50", "(?:hand|hk)"]


def random_table(seed: int, rows: int = 300) -> tuple[pl.DataFrame, dict[str, frozenset[str]]]:
    """A table with many NULLs and awkward text, and lists drawn from its values."""
    rng = random.Random(seed)

    def maybe(value):
        return None if rng.random() < 0.25 else value

    data = {
        "rid": list(range(rows)),
        "t1": [maybe(rng.choice(ODD_TEXT)) for _ in range(rows)],
        "t2": [maybe(rng.choice(ODD_TEXT[-12:])) for _ in range(rows)],
        "n1": [maybe(float(rng.randint(-5, 20))) for _ in range(rows)],
        "n2": [maybe(round(rng.uniform(0, 1000), 2)) for _ in range(rows)],
        "d1": [maybe(dt.date(2021, 1, 1) + dt.timedelta(days=rng.randint(0, 60))) for _ in range(rows)],
        "b1": [maybe(rng.random() < 0.5) for _ in range(rows)],
    }
    schema = {"rid": pl.Int64, "t1": pl.String, "t2": pl.String, "n1": pl.Float64,
              "n2": pl.Float64, "d1": pl.Date, "b1": pl.Boolean}
    lists = {
        "odd": frozenset(normalise(v) for v in rng.sample(ODD_TEXT, 12) if normalise(v)),
        "short": frozenset({"cn", "hk", "purse"}),
    }
    return pl.DataFrame(data, schema=schema), lists


class TreeMaker:
    """Random predicate trees over CATALOGUE whose values come from the table's own values."""

    def __init__(self, seed: int, lists: dict[str, frozenset[str]]):
        self.rng, self.lists = random.Random(seed), lists

    def tree(self, depth: int = 3) -> Node:
        roll = self.rng.random()
        if depth == 0 or roll < 0.45:
            return self.leaf()
        if roll < 0.65:
            return All(tuple(self.tree(depth - 1) for _ in range(self.rng.randint(1, 3))))
        if roll < 0.85:
            return AnyOf(tuple(self.tree(depth - 1) for _ in range(self.rng.randint(1, 3))))
        return Not(self.tree(depth - 1))

    def leaf(self) -> Leaf:
        field = self.rng.choice(list(CATALOGUE))
        kind = CATALOGUE[field]
        op = self.rng.choice(_OPS[kind])
        return Leaf(field, op, self.operand(kind, op))

    def operand(self, kind: str, op: str):
        rng = self.rng
        if op == "is_null":
            return rng.random() < 0.5
        if op in ("in_list", "contains_list", "startswith_list"):
            return rng.choice(sorted(self.lists))
        if op == "matches":
            return rng.choice(PATTERNS)
        if op in ("in", "not_in", "contains_any", "contains_all", "startswith_any"):
            # now and then more values than compile.sql.MANY, which binds them as one list
            count = rng.randint(1, 3) if rng.random() < 0.85 else rng.randint(MANY + 1, MANY + 12)
            return tuple(self.value(kind, op) for _ in range(count))
        if op == "between":
            low, high = sorted([self.value(kind, op), self.value(kind, op)])
            return (low, high) if rng.random() < 0.9 else (high, low)
        return self.value(kind, op)

    def value(self, kind: str, op: str):
        rng = self.rng
        if kind == "number":
            return rng.choice([rng.randint(-5, 20), rng.uniform(-5, 1000), 0, 10.5])
        if kind == "date":
            return dt.date(2021, 1, 1) + dt.timedelta(days=rng.randint(-5, 65))
        if kind == "bool":
            return rng.random() < 0.5
        text = rng.choice(ODD_TEXT)
        if op.startswith(("contains", "startswith", "endswith")) and len(text) > 2:
            start = rng.randint(0, len(text) - 2)
            text = text[start:start + rng.randint(1, 4)]
        return _jitter(rng, text)


def _jitter(rng: random.Random, text: str) -> str:
    """The same text as an author might type it: other case, stray spaces."""
    roll = rng.random()
    if roll < 0.3:
        text = text.upper()
    elif roll < 0.5:
        text = text.lower()
    if rng.random() < 0.2:
        text = f" {text}\t"
    return text


_OPS = {
    "text": ["eq", "ne", "in", "not_in", "contains", "contains_any", "contains_all", "startswith",
             "startswith_any", "endswith", "matches", "is_null", "in_list", "contains_list",
             "startswith_list"],
    "number": ["eq", "ne", "in", "not_in", "lt", "le", "gt", "ge", "between", "is_null"],
    "date": ["eq", "ne", "in", "not_in", "lt", "le", "gt", "ge", "between", "is_null"],
    "bool": ["eq", "ne", "is_null"],
}
