"""The data layer: mapping, snake_case, typing, labelled mode, sources, lists, fingerprint."""
from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest

from targeting.data.config import load_config
from targeting.data.open import open_dataset
from targeting.data.sources import snake_case
from targeting.errors import ConfigError

CONTRACT = Path(__file__).parent / "data" / "contract"


def project(folder: Path, yaml_text: str, files: dict[str, str] | None = None) -> Path:
    """Write targeting.yaml and the given files (relative name -> text) into `folder`."""
    for name, text in (files or {}).items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    config = folder / "targeting.yaml"
    config.write_text(yaml_text, encoding="utf-8")
    return config


def columns(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
    return {r[0]: r[1] for r in con.execute(f'DESCRIBE "{table}"').fetchall()}


@pytest.fixture(scope="module")
def dataset():
    ds = open_dataset(load_config(CONTRACT / "targeting.yaml"))
    yield ds
    ds.close()


def test_manifest_is_mapped_snake_cased_and_typed(dataset) -> None:
    assert columns(dataset.con, "manifest") == {
        "shipment_id": "VARCHAR", "arrival_date": "DATE", "port_code": "VARCHAR",
        "mode": "VARCHAR", "hts_code": "VARCHAR", "tax_type": "VARCHAR",
        "quantity": "DOUBLE", "declared_value": "DOUBLE", "weight_kg": "DOUBLE",
        "description": "VARCHAR",
    }
    row = dataset.con.execute(
        "SELECT shipment_id, arrival_date, hts_code, quantity, declared_value FROM manifest "
        "WHERE shipment_id = 'S1'").fetchone()
    assert row == ("S1", dt.date(2024, 1, 2), "0101210000", 10.0, 100.5)


def test_catalogue_follows_the_typed_columns(dataset) -> None:
    assert dataset.catalogue == {
        "shipment_id": "text", "arrival_date": "date", "port_code": "text", "mode": "text",
        "hts_code": "text", "tax_type": "text", "quantity": "number", "declared_value": "number",
        "weight_kg": "number", "description": "text",
    }


def test_exams_have_every_contract_column_and_mapped_results(dataset) -> None:
    assert columns(dataset.con, "exams") == {
        "exam_id": "VARCHAR", "shipment_id": "VARCHAR", "exam_date": "DATE", "result": "VARCHAR",
        "disposition": "VARCHAR", "selection_method": "VARCHAR", "msrp": "DOUBLE",
        "selector_id": "VARCHAR", "domestic_value": "DOUBLE", "referred_to_ice": "BOOLEAN",
        "selection_probability": "DOUBLE", "referral_date": "DATE", "referral_accepted": "BOOLEAN",
        "referral_outcome": "VARCHAR",
    }
    rows = dataset.con.execute(
        "SELECT exam_id, result, msrp, selector_id FROM exams ORDER BY 1").fetchall()
    assert rows == [("E1", "discrepant", 500.0, None), ("E2", "no_discrepancy", None, None),
                    ("E3", "no_discrepancy", None, None), ("E4", "discrepant", 120.0, None)]


def test_lists_are_normalised_and_in_target_lists(dataset) -> None:
    assert dataset.lists == {"brands": frozenset({"gucci", "louis vuitton"}),
                             "ports": frozenset({"jfk", "lax"})}
    rows = dataset.con.execute("SELECT * FROM target_lists ORDER BY ALL").fetchall()
    assert rows == [("brands", "gucci"), ("brands", "louis vuitton"), ("ports", "jfk"),
                    ("ports", "lax")]


def test_manifest_frame_is_polars_with_types(dataset) -> None:
    frame = dataset.manifest_frame()
    assert frame.shape == (6, 10)
    assert frame.schema["arrival_date"] == pl.Date
    assert frame.schema["quantity"] == pl.Float64
    assert frame["hts_code"].to_list()[0] == "0101210000"


def test_fingerprint_is_stable_and_tracks_files_and_config(tmp_path: Path) -> None:
    shutil.copytree(CONTRACT, tmp_path / "p")
    path = tmp_path / "p" / "targeting.yaml"
    first = open_dataset(load_config(path)).fingerprint
    assert open_dataset(load_config(path)).fingerprint == first
    with (tmp_path / "p" / "exams.csv").open("a") as handle:
        handle.write("E5,S6,2024-02-16,0,,random,\n")
    second = open_dataset(load_config(path)).fingerprint
    assert second != first
    path.write_text(path.read_text() + "gate: {max_workload_growth: 1}\n")  # not the data section: same data
    assert open_dataset(load_config(path)).fingerprint == second
    (tmp_path / "p" / "lists" / "extra.txt").write_text("x\n")
    assert open_dataset(load_config(path)).fingerprint != second


@pytest.mark.parametrize(("name", "expected"), [
    ("Tax Type", "tax_type"), ("HS6 Code", "hs6_code"), ("Declaration ID", "declaration_id"),
    ("camelCase", "camel_case"), ("HTSCode", "hts_code"), ("2nd value", "col_2nd_value"),
    ("  Net Mass (kg) ", "net_mass_kg"), ("already_snake", "already_snake"), ("%", "column"),
])
def test_snake_case(name: str, expected: str) -> None:
    assert snake_case(name) == expected


MANIFEST = "id,arrival_date,port_code,Code,Rate,Flag,Day\n" \
           "a,2024-01-01,1,007,8.0,true,2024-03-01\nb,2024-01-02,2,12,0,false,2024-03-02\n"


def test_csv_extra_columns_get_inferred_types_but_codes_stay_text(tmp_path: Path) -> None:
    path = project(tmp_path, "data: {manifest: m.csv, labelled: {column: flag, discrepant: [true]},"
                             " columns: {manifest: {id: shipment_id}}}\n", {"m.csv": MANIFEST})
    ds = open_dataset(load_config(path))
    assert columns(ds.con, "manifest") == {
        "shipment_id": "VARCHAR", "arrival_date": "DATE", "port_code": "VARCHAR",
        "code": "VARCHAR", "rate": "DOUBLE", "flag": "BOOLEAN", "day": "DATE"}
    assert ds.con.execute("SELECT shipment_id, result FROM exams ORDER BY 1").fetchall() == [
        ("a", "discrepant"), ("b", "no_discrepancy")]


def test_labelled_mode_synthesises_one_exam_per_row(tmp_path: Path) -> None:
    duckdb.execute(
        "COPY (SELECT * FROM (VALUES ('x1', DATE '2024-05-01', 40, 1), ('x2', DATE '2024-05-02', "
        "40, 0), ('x3', DATE '2024-05-03', 10, 2)) t(\"Declaration ID\", \"Date\", \"Office ID\", "
        f"\"Fraud\")) TO '{tmp_path / 'd.parquet'}' (FORMAT parquet)")
    path = project(tmp_path, """
data:
  manifest: d.parquet
  columns: {manifest: {"Declaration ID": shipment_id, Date: arrival_date, "Office ID": port_code}}
  labelled: {column: fraud, discrepant: [1, 2]}
""")
    ds = open_dataset(load_config(path))
    assert ds.catalogue["port_code"] == "text"
    assert ds.con.execute("SELECT DISTINCT port_code FROM manifest ORDER BY 1").fetchall() == [
        ("10",), ("40",)]
    assert ds.con.execute(
        "SELECT exam_id, shipment_id, exam_date, result, selection_method FROM exams ORDER BY 1"
    ).fetchall() == [
        ("x1", "x1", dt.date(2024, 5, 1), "discrepant", None),
        ("x2", "x2", dt.date(2024, 5, 2), "no_discrepancy", None),
        ("x3", "x3", dt.date(2024, 5, 3), "discrepant", None),
    ]


def test_glob_reads_every_matching_file(tmp_path: Path) -> None:
    head = "shipment_id,arrival_date,port_code\n"
    path = project(tmp_path, "data: {manifest: 'parts/m_*.csv', exams: e.csv}\n",
                   {"parts/m_1.csv": head + "a,2024-01-01,P\n",
                    "parts/m_2.csv": head + "b,2024-02-01,P\n",
                    "e.csv": "shipment_id,result\nb,discrepant\n"})
    ds = open_dataset(load_config(path))
    ids = ds.con.execute("SELECT shipment_id FROM manifest ORDER BY 1").fetchall()
    assert ids == [("a",), ("b",)]
    assert [p.name for p in ds.files] == ["m_1.csv", "m_2.csv", "e.csv"]


def test_duckdb_database_tables(tmp_path: Path) -> None:
    db = duckdb.connect(str(tmp_path / "h.duckdb"))
    db.execute("CREATE TABLE ships AS SELECT 'a' AS id, DATE '2024-01-01' AS arrival_date, "
               "7 AS port_code, 3 AS quantity")
    db.execute("CREATE TABLE findings AS SELECT 'a' AS id, 'Y' AS outcome")
    db.close()
    path = project(tmp_path, """
data:
  database: h.duckdb
  manifest: {table: ships}
  exams: {table: findings}
  columns: {manifest: {id: shipment_id}, exams: {id: shipment_id, outcome: result}}
  values: {result: {Y: discrepant, N: no_discrepancy}}
""")
    ds = open_dataset(load_config(path))
    assert ds.con.execute("SELECT shipment_id, port_code, quantity FROM manifest").fetchall() == [
        ("a", "7", 3.0)]
    exams = ds.con.execute("SELECT shipment_id, result FROM exams").fetchall()
    assert exams == [("a", "discrepant")]


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """tmp_path as the working directory, so messages name files relative to it."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_missing_database_table_lists_the_tables(here: Path) -> None:
    duckdb.connect("h.duckdb").execute("CREATE TABLE ships AS SELECT 1 AS x").close()
    project(here, "data: {database: h.duckdb, manifest: {table: ship}, "
                  "exams: {table: ships}}\n")
    with pytest.raises(ConfigError) as info:
        open_dataset(load_config(Path("targeting.yaml")))
    assert str(info.value) == ("targeting.yaml: data.manifest.table: no table 'ship' in h.duckdb; "
                               "it has: ships.")


def test_mapping_a_missing_source_column_suggests_one(here: Path) -> None:
    project(here, "data: {manifest: m.csv, exams: m.csv, "
                  "columns: {manifest: {Dat: arrival_date}}}\n",
            {"m.csv": "shipment_id,Date,port_code,result\n"})
    with pytest.raises(ConfigError) as info:
        open_dataset(load_config(Path("targeting.yaml")))
    assert str(info.value) == (
        "targeting.yaml: data.columns.manifest: source column 'Dat' is not in m.csv; its columns "
        "are: shipment_id, Date, port_code, result (did you mean 'Date'?)")


def test_two_columns_becoming_one_name_is_an_error(here: Path) -> None:
    project(here, "data: {manifest: m.csv, exams: m.csv}\n",
            {"m.csv": "Shipment ID,shipment_id,arrival_date,port_code,result\n"})
    with pytest.raises(ConfigError) as info:
        open_dataset(load_config(Path("targeting.yaml")))
    assert str(info.value) == (
        "targeting.yaml: data.columns.manifest: source columns 'Shipment ID' and 'shipment_id' in "
        "m.csv both become 'shipment_id'. Map one of them to another name.")


def test_no_matching_files(here: Path) -> None:
    project(here, "data: {manifest: 'x/*.parquet', exams: e.csv}\n")
    with pytest.raises(ConfigError) as info:
        open_dataset(load_config(Path("targeting.yaml")))
    assert str(info.value) == ("targeting.yaml: data.manifest: no files match x/*.parquet. "
                               "Check the path (relative to the config file).")


def test_value_mapping_for_an_unknown_column_is_an_error(here: Path) -> None:
    project(here, "data: {manifest: m.csv, exams: e.csv, values: {reslt: {Y: discrepant}}}\n",
            {"m.csv": "shipment_id,arrival_date,port_code\n", "e.csv": "shipment_id,result\n"})
    with pytest.raises(ConfigError) as info:
        open_dataset(load_config(Path("targeting.yaml")))
    assert str(info.value) == ("targeting.yaml: data.values: no table has a column 'reslt' "
                               "(names after column mapping) (did you mean 'result'?)")
