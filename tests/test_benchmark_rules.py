"""The scale benchmark's rule builder makes valid, deterministic, varied rules."""
from __future__ import annotations

import importlib.util
from collections import Counter
from pathlib import Path

import polars as pl
import pytest

from targeting.compile.check import validate_rules
from targeting.rules.loader import load_rules
from targeting.rules.model import leaves
from targeting.text import normalise

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "fixtures" / "default"


def _module():
    spec = importlib.util.spec_from_file_location("bench_rules", ROOT / "benchmarks" / "rules.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


rules_mod = _module()


@pytest.fixture(scope="module")
def catalogue() -> dict[str, str]:
    kinds = {pl.String: "text", pl.Date: "date", pl.Boolean: "bool"}
    schema = pl.read_parquet_schema(FIXTURE / "manifest.parquet")
    return {name: kinds.get(dtype, "number") for name, dtype in schema.items()}


@pytest.fixture(scope="module")
def lists() -> dict[str, frozenset[str]]:
    return {p.stem: frozenset(normalise(v) for v in p.read_text().splitlines() if v.strip())
            for p in (FIXTURE / "lists").glob("*.txt")}


def test_same_seed_same_rules_other_seed_other_values():
    assert rules_mod.build_rules(40, seed=7) == rules_mod.build_rules(40, seed=7)
    assert rules_mod.build_rules(40, seed=7) != rules_mod.build_rules(40, seed=8)


def test_written_rules_load_and_validate_against_the_fixture(tmp_path, catalogue, lists):
    templates = rules_mod.bundled_rules()
    docs = rules_mod.build_rules(2 * len(templates) + 4, seed=3)
    folders = rules_mod.write_rules(docs, tmp_path)
    loaded = load_rules(list(folders.values()))
    typed, problems = validate_rules(loaded, catalogue, lists)

    assert [str(p) for p in problems if p.severity == "error"] == []
    assert len(typed) == len(docs) == len({r.id for r in loaded})
    # Cycling through the templates keeps their query/UDR mix.
    expected = Counter(templates[i % len(templates)].kind for i in range(len(docs)))
    assert Counter(r.kind for r in loaded) == expected
    for rule in loaded:
        ports = {leaf.value for leaf in leaves(rule.where) if leaf.field == "port_code"}
        if rule.kind == "query":
            assert ports == {rule.port}, rule.id


def test_values_are_varied_and_text_terms_only_added():
    templates = rules_mod.bundled_rules()
    docs = rules_mod.build_rules(len(templates), seed=11)
    generated = {r.id: r for r in _load(docs)}
    changed = 0
    for i, template in enumerate(templates):
        rule = generated[docs[i]["id"]]
        old, new = leaves(template.where), leaves(rule.where)
        assert [(leaf.field, leaf.op) for leaf in old] == [(leaf.field, leaf.op) for leaf in new]
        changed += old != new
        for a, b in zip(old, new):
            if a.op == "contains_any":
                assert set(a.value) < set(b.value), rule.id
    assert changed > len(templates) // 2


def _load(docs):
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        return load_rules(list(rules_mod.write_rules(docs, Path(tmp)).values()))


def test_count_must_be_positive():
    with pytest.raises(ValueError, match="at least 1"):
        rules_mod.build_rules(0)
