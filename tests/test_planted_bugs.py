"""Tests for bugs that nothing caught before issue 16: each says which planted bug it catches.

(`between` bounds and per-operator case folding, by hand in both backends, are in
test_operators.py; a three-value `between` is in the broken-rule corpus.)
"""
from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from targeting.compile import examples
from targeting.compile.check import check_rules
from targeting.compile.polars_expr import compile_polars
from targeting.data.catalogue import field_catalogue
from targeting.data.config import load_config
from targeting.data.open import open_dataset

BROKEN = Path(__file__).parent / "broken_rules"


def test_between_with_three_values_is_refused(monkeypatch):
    """Catches: a loader that accepts `between: [20, 800, 5000]` and silently drops 5000."""
    monkeypatch.chdir(BROKEN)
    _, problems = check_rules([Path("between_three_values.yaml")], {"declared_value": "number"}, {})
    assert [str(p) for p in problems] == [
        "between_three_values.yaml:6:29: error[bad-operand]: 'declared_value' between: expects "
        "two values [low, high], such as [20, 800]"]


@pytest.mark.parametrize("use_store", [False, True])
def test_a_double_column_mapped_to_text_keeps_its_digits(tmp_path, use_store):
    """Catches: a cast of DOUBLE codes to text that rounds (8471.5 -> "8471"), or that keeps the
    float's ".0" (4701.0 -> "4701.0", which no rule on "4701" would match)."""
    pl.DataFrame({
        "Declaration": ["d1", "d2", "d3"],
        "Date": ["2024-01-02", "2024-01-03", "2024-01-04"],
        "Office": [4701.0, 8471.5, 40.0],
        "Tariff": [8471.5, 4701.0, 0.25],
        "Outcome": ["discrepant", "no_discrepancy", "discrepant"],
    }).with_columns(pl.col("Date").str.to_date()).write_parquet(tmp_path / "m.parquet")
    (tmp_path / "targeting.yaml").write_text(
        "data:\n  manifest: m.parquet\n  columns: {manifest: {Declaration: shipment_id, "
        "Date: arrival_date, Office: port_code, Tariff: hts_code}}\n"
        "  labelled: {column: outcome, discrepant: [discrepant]}\n", encoding="utf-8")
    config = load_config(tmp_path / "targeting.yaml")
    assert field_catalogue(config)["port_code"] == "text"
    dataset = open_dataset(config, use_store=use_store)
    try:
        rows = dataset.con.execute(
            "SELECT port_code, hts_code FROM manifest ORDER BY shipment_id").fetchall()
    finally:
        dataset.close()
    assert rows == [("4701", "8471.5"), ("8471.5", "4701"), ("40", "0.25")]


RULE = """\
id: Q-1
kind: query
title: t
port: "1111"
where:
  description: {contains: bag}
tests:
  match: [{description: handbag}]
  no_match: [{description: shoe}]
"""


def test_a_backend_disagreement_is_reported_as_one(tmp_path, monkeypatch):
    """Catches: an example runner that checks one backend only, or that reports a disagreement
    as an ordinary failing example (a compiler bug would then look like a wrong rule)."""
    (tmp_path / "q.yaml").write_text(RULE, encoding="utf-8")
    monkeypatch.chdir(tmp_path)

    def inverted(node, lists=None, catalogue=None):  # a Polars compiler with a planted bug
        return ~compile_polars(node, lists, catalogue)

    monkeypatch.setattr(examples, "compile_polars", inverted)
    _, problems = check_rules([Path("q.yaml")], {"description": "text"}, {})
    assert [str(p) for p in problems] == [
        "q.yaml:8:11: error[example-failed]: the example at line 8 should match; DuckDB matches "
        "it but Polars does not match it (a backend disagreement: please report it)",
        "q.yaml:9:14: error[example-failed]: the example at line 9 should not match; DuckDB does "
        "not match it but Polars matches it (a backend disagreement: please report it)",
    ]
