"""Each tests/broken_rules/<name>.yaml reports exactly the problems in <name>.expected.

Set UPDATE_GOLDEN=1 to rewrite the .expected files after an intended change; review the diff.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from targeting.compile.check import check_rules

FOLDER = Path(__file__).parent / "broken_rules"
CATALOGUE = {
    "country_of_origin": "text", "mode": "text", "description": "text", "hts_code": "text",
    "importer_id": "text", "declared_value": "number", "weight_kg": "number",
    "arrival_date": "date", "referred": "bool",
}
LISTS = {"trusted_importers": frozenset({"imp1"})}
PRIORITIES = ("repeat_violators", "automotive_parts", "hong_kong_transshipment")
CASES = sorted(p.stem for p in FOLDER.glob("*.yaml"))


def test_the_corpus_is_big_enough():
    assert len(CASES) >= 25


@pytest.mark.parametrize("name", CASES)
def test_broken_rule_message(name: str, monkeypatch):
    monkeypatch.chdir(FOLDER)  # paths in messages are relative to the working folder
    _, problems = check_rules([Path(f"{name}.yaml")], CATALOGUE, LISTS, PRIORITIES)
    got = "".join(f"{p}\n" for p in problems)
    expected = FOLDER / f"{name}.expected"
    if os.environ.get("UPDATE_GOLDEN"):
        expected.write_text(got, encoding="utf-8")
    assert got, "a broken rule must report at least one problem"
    assert got == expected.read_text(encoding="utf-8")
