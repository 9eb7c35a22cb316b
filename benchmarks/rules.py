"""Build N realistic rules from the bundled ones, deterministically, for scale benchmarks.

Each generated rule copies a bundled rule (cycling through them, so the query/UDR mix stays
that of the bundled set) and varies its values with a seeded generator: another port that
sees the rule's mode, other countries, tariff prefixes of another product category, scaled
value thresholds, and one to three extra terms in `contains_any` lists. Values are drawn from
the fixture generator's vocabularies (targeting.generate.catalogue), so they occur in
generated histories. Generated rules carry no `tests:` block: a match/no_match pair made by
hand could be wrong, so they are validated for structure and types only.

Usage: python benchmarks/rules.py COUNT OUT_DIR [--seed N]
"""
from __future__ import annotations

import argparse
import os
import random
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from targeting.decide.promotion import plain, to_yaml
from targeting.generate.catalogue import CATEGORIES, COUNTRIES, MODES, PORTS
from targeting.rules.loader import load_rules
from targeting.rules.model import All, AnyOf, Leaf, Node, Not, Rule, leaves

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = (ROOT / "rules", ROOT / "queries")
SEED = 20241001
PREFIX = {"query": "BQ", "udr": "BU"}
COUNTRY_CODES = tuple(COUNTRIES)


def bundled_rules(paths: Sequence[Path] = BUNDLED) -> list[Rule]:
    """The bundled rules and queries, sorted by id so the cycle order never depends on the disk."""
    return sorted(load_rules(list(paths)), key=lambda r: r.id)


def build_rules(count: int, seed: int = SEED,
                templates: Sequence[Rule] | None = None) -> list[dict]:
    """`count` rule documents (YAML-ready dicts); the same arguments give the same documents."""
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    templates = list(templates) if templates is not None else bundled_rules()
    rng = random.Random(seed)
    return [_variant(templates[i % len(templates)], i + 1, rng) for i in range(count)]


def write_rules(docs: Sequence[dict], out: Path) -> dict[str, Path]:
    """Write documents under out/rules (UDRs) and out/queries (queries); return both folders."""
    folders = {"udr": out / "rules", "query": out / "queries"}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    for doc in docs:
        _write_atomic(folders[doc["kind"]] / f"{doc['id'].lower()}.yaml",
                      yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
    return folders


def _write_atomic(path: Path, text: str) -> None:
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(temp, path)


# --- one variant ---------------------------------------------------------------------------


def _variant(template: Rule, number: int, rng: random.Random) -> dict:
    mode = _mode(template.where)
    category = rng.choice(CATEGORIES)
    port = rng.choice([code for code, (_, weights) in PORTS.items()
                       if mode is None or weights[MODES.index(mode)] > 0])
    where = _vary(template.where, _Choices(rng, port, category))
    doc: dict[str, Any] = {
        "id": f"{PREFIX[template.kind]}-{number:05d}",
        "kind": template.kind,
        "title": f"{template.title} (variant {number})",
        "owner": template.owner or "benchmark",
    }
    if template.kind == "query":
        doc["port"] = port
    doc.update(status="active", created=template.created, priorities=list(template.priorities),
               rationale=f"Benchmark variant of {template.id}.", where=plain(to_yaml(where)))
    return {k: v for k, v in doc.items() if v is not None}


def _mode(node: Node) -> str | None:
    """The single mode a rule requires, if it names one with `mode: eq`."""
    found = [leaf.value for leaf in leaves(node) if leaf.field == "mode" and leaf.op == "eq"]
    return found[0] if len(found) == 1 and found[0] in MODES else None


class _Choices:
    """The values one variant uses, drawn once so every leaf of a rule agrees."""

    def __init__(self, rng: random.Random, port: str, category) -> None:
        self.rng, self.port, self.category = rng, port, category
        self.scale = rng.choice((0.5, 0.75, 1.0, 1.5, 2.0, 3.0))
        self.extra_count = rng.randint(1, 3)

    def extra_terms(self, present: tuple) -> tuple[str, ...]:
        """One to three of the category's brand and noun words the list does not hold yet."""
        fresh = [t for t in _terms(self.category) if t not in set(present)]
        return tuple(self.rng.sample(fresh, k=min(self.extra_count, len(fresh))))

    def countries(self, n: int) -> list[str]:
        return self.rng.sample(COUNTRY_CODES, k=n)

    def hts(self, width: int, n: int) -> list[str]:
        codes = sorted({code[:width] for code in self.category.hts})
        return self.rng.sample(codes, k=min(n, len(codes)))


def _terms(category) -> list[str]:
    return sorted({w.lower() for w in (*category.brands, *category.nouns)})


def _vary(node: Node, c: _Choices) -> Node:
    match node:
        case All(children):
            return All(tuple(_vary(ch, c) for ch in children))
        case AnyOf(children):
            return AnyOf(tuple(_vary(ch, c) for ch in children))
        case Not(child):
            return Not(_vary(child, c))
        case Leaf():
            return _vary_leaf(node, c)
    raise TypeError(f"not a predicate node: {node!r}")


def _vary_leaf(leaf: Leaf, c: _Choices) -> Leaf:
    name, op, value = leaf.field, leaf.op, leaf.value
    if name == "port_code" and op == "eq":
        value = c.port
    elif name.startswith("country_of_") and op == "eq":
        value = c.countries(1)[0]
    elif name.startswith("country_of_") and op in ("in", "not_in"):
        value = tuple(c.countries(len(value)))
    elif name == "hts_code" and op in ("startswith", "eq"):
        value = c.hts(len(str(value)), 1)[0]
    elif name == "hts_code" and op == "startswith_any":
        value = tuple(c.hts(len(str(value[0])), len(value)))
    elif name == "declared_value" and op in ("lt", "le", "gt", "ge"):
        value = round(float(value) * c.scale)
    elif name == "description" and op == "contains_any":
        value = (*value, *c.extra_terms(value))
    return Leaf(name, op, value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", type=int)
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()
    folders = write_rules(build_rules(args.count, args.seed), args.out)
    print(f"wrote {args.count} rules under {', '.join(str(f) for f in folders.values())}")


if __name__ == "__main__":
    main()
