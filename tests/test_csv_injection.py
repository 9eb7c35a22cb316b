"""CSV output is safe to open in a spreadsheet: text that would run as a formula is written as
text (render/csvfile.py); JSON keeps the value as it is."""
from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import polars as pl
from click.testing import CliRunner

from targeting.cli import main
from targeting.render.csvfile import spreadsheet_safe

TINY = Path(__file__).parent / "data" / "tiny"


def test_text_that_starts_a_formula_gets_an_apostrophe():
    frame = pl.DataFrame({"text": ["=1+1", "+cmd", "-x", "@SUM(A1)", "\tx", "\rx", "a=b", "", None],
                          "number": [-1, 2, 3, 4, 5, 6, 7, 8, 9]})
    safe = spreadsheet_safe(frame)
    assert safe["text"].to_list() == ["'=1+1", "'+cmd", "'-x", "'@SUM(A1)", "'\tx", "'\rx", "a=b",
                                      "", None]
    assert safe["number"].to_list() == frame["number"].to_list()


def project(tmp_path: Path) -> Path:
    root = tmp_path / "tiny"
    shutil.copytree(TINY, root, ignore=shutil.ignore_patterns(".targeting-cache"))
    exams = root / "exams.csv"  # the selectors the exams name
    text = exams.read_text()
    exams.write_text(text.replace(",U-1,", ",=HYPERLINK(1),").replace(",Q-1,", ",=HYPERLINK(1),"))
    manifest = root / "manifest.csv"
    manifest.write_text(manifest.read_text().replace("CN,HANDBAG,", "CN,=HANDBAG(),", 1))
    return root


def run(root: Path, *args: str) -> str:
    result = CliRunner().invoke(main, [*args, "--config", str(root / "targeting.yaml")])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_evaluate_csv_writes_a_formula_from_the_data_as_text(tmp_path):
    root = project(tmp_path)
    rows = {r["id"]: r for r in csv.DictReader(io.StringIO(run(root, "evaluate", "--format", "csv")))}
    assert rows["U-1"]["top_selector_id"] == "'=HYPERLINK(1)"
    document = json.loads(run(root, "evaluate", "--format", "json"))
    assert {r["id"]: r["top_selector_id"] for r in document["rules"]}["U-1"] == "=HYPERLINK(1)"


def test_an_exported_description_is_text_in_csv_and_unchanged_in_parquet(tmp_path):
    root = project(tmp_path)
    run(root, "test", "U-1", "--export", str(tmp_path / "m.csv"))
    run(root, "test", "U-1", "--export", str(tmp_path / "m.parquet"))
    with open(tmp_path / "m.csv", newline="") as handle:
        described = {r["shipment_id"]: r["description"] for r in csv.DictReader(handle)}
    assert described["s1"] == "'=HANDBAG()"
    parquet = pl.read_parquet(tmp_path / "m.parquet")
    assert dict(zip(parquet["shipment_id"], parquet["description"]))["s1"] == "=HANDBAG()"
