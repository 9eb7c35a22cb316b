"""Golden files: each tests/fixtures/compile/<case>.yaml compiles to <case>.sql and <case>.params.json.

Set UPDATE_GOLDEN=1 to rewrite the expected files after an intended change, then review the diff.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from targeting.compile.check import check_rules
from targeting.compile.sql import compile_sql

FOLDER = Path(__file__).parent / "fixtures" / "compile"
CATALOGUE = {
    "country_of_origin": "text", "country_of_export": "text", "port_code": "text", "mode": "text",
    "description": "text", "hts_code": "text", "importer_id": "text", "shipper_id": "text",
    "declared_value": "number", "weight_kg": "number", "arrival_date": "date",
    "referred": "bool", "flagged": "bool",
}
LISTS = {"trusted_importers": frozenset({"imp1"}), "repeat_violators": frozenset({"shp9"})}
CASES = sorted(p.stem for p in FOLDER.glob("*.yaml"))


def compiled(case: str) -> tuple[str, list]:
    rules, problems = check_rules([FOLDER / f"{case}.yaml"], CATALOGUE, LISTS)
    assert not [str(p) for p in problems if p.severity == "error"]
    return compile_sql(rules[0].where, CATALOGUE)


def test_there_are_enough_cases():
    assert len(CASES) >= 10


@pytest.mark.parametrize("case", CASES)
def test_golden_sql(case: str):
    sql, params = compiled(case)
    params_json = json.loads(json.dumps(params, default=str))  # dates as ISO text
    sql_file, params_file = FOLDER / f"{case}.sql", FOLDER / f"{case}.params.json"
    if os.environ.get("UPDATE_GOLDEN"):
        sql_file.write_text(sql + "\n", encoding="utf-8")
        params_file.write_text(json.dumps(params_json, indent=1, ensure_ascii=False) + "\n",
                               encoding="utf-8")
    assert sql == sql_file.read_text(encoding="utf-8").rstrip("\n")
    assert params_json == json.loads(params_file.read_text(encoding="utf-8"))
