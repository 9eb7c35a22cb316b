"""The bundled rule sets load, and every example in them matches (or not) as it says."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from targeting.compile.polars_expr import compile_polars
from targeting.rules.loader import load_rules

ROOT = Path(__file__).resolve().parents[1]
BUNDLES = {"us": [ROOT / "rules", ROOT / "queries"], "kcs": [ROOT / "fixtures/kcs/queries"]}
LISTS = {"repeat_violators": frozenset({"imp0000999"}),
         "trusted_importers": frozenset({"imp0000001"})}


@pytest.mark.parametrize("bundle", sorted(BUNDLES))
def test_examples_match_as_written(bundle):
    rules = load_rules(BUNDLES[bundle])
    assert rules
    for rule in rules:
        kinds = {ex.should_match for ex in rule.examples}
        assert kinds == {True, False}, f"{rule.id} needs match and no_match examples"
        for ex in rule.examples:
            got = pl.DataFrame([dict(ex.values)]).select(compile_polars(rule.where, LISTS)).item()
            assert got == ex.should_match, f"{rule.id}: {dict(ex.values)}"


def test_bundled_rules_fit_the_default_history():
    rules = load_rules(BUNDLES["us"])
    udrs = [r for r in rules if r.kind == "udr"]
    queries = [r for r in rules if r.kind == "query"]
    assert 8 <= len(udrs) <= 12 and all(r.port is None for r in udrs)
    assert 20 <= len(queries) <= 30 and len({r.port for r in queries}) >= 6
    assert all(r.created and r.created < dt.date(2026, 9, 30) for r in rules)
