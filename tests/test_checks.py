"""Input checks (exact messages for each kind of bad input) and the data profile."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from targeting.cli import main
from targeting.data.checks import check
from targeting.data.config import load_config
from targeting.data.open import open_dataset
from targeting.errors import DataError

ROOT = Path(__file__).parent.parent
CONTRACT = Path(__file__).parent / "data" / "contract"
GOOD_MANIFEST = "shipment_id,arrival_date,port_code\nS1,2024-01-02,JFK\nS2,2024-01-03,LAX\n"
GOOD_EXAMS = "shipment_id,result\nS1,discrepant\n"
CONFIG = "data: {manifest: manifest.csv, exams: exams.csv}\n"


def problems(folder: Path, manifest: str = GOOD_MANIFEST, exams: str = GOOD_EXAMS,
             config: str = CONFIG) -> list[str]:
    """Write a project into `folder` (the working directory) and return its problems as text."""
    (folder / "manifest.csv").write_text(manifest)
    (folder / "exams.csv").write_text(exams)
    (folder / "targeting.yaml").write_text(config)
    return [str(p) for p in check(load_config(folder / "targeting.yaml")).problems]


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # messages name files relative to the working directory


def test_clean_data_has_no_problems(tmp_path: Path) -> None:
    assert problems(tmp_path) == []


def test_missing_required_columns(tmp_path: Path) -> None:
    assert problems(tmp_path, manifest="Shipment,port_code\nS1,JFK\n",
                    exams="shipment_id,outcome\nS1,x\n",
                    config=CONFIG[:-2] + ", columns: {manifest: {Shipment: shipment_id}}}\n") == [
        "manifest.csv: error[missing-column]: required column 'arrival_date' is missing; the "
        "columns are: Shipment, port_code. Add it, or map a source column to it under "
        "data.columns.manifest in targeting.yaml.",
        "exams.csv: error[missing-column]: required column 'result' is missing; the columns are: "
        "shipment_id, outcome. Add it, or map a source column to it under data.columns.exams in "
        "targeting.yaml.",
    ]


def test_unparseable_dates_and_empty_required_values(tmp_path: Path) -> None:
    manifest = ("shipment_id,arrival_date,port_code\nS1,2024-13-01,JFK\nS2,yesterday,\n"
                "S3,,LAX\nS4,2024-13-01,LAX\n")
    exams = "shipment_id,result,exam_date\nS1,discrepant,01/02/2024\n"
    assert problems(tmp_path, manifest, exams) == [
        "manifest.csv: error[empty-value]: column 'arrival_date': 1 row is empty. Every row needs "
        "a value here.",
        "manifest.csv: error[empty-value]: column 'port_code': 1 row is empty. Every row needs a "
        "value here.",
        "manifest.csv: error[bad-date]: column 'arrival_date': 3 rows are not dates, e.g. "
        "'2024-13-01', 'yesterday'. Write dates as YYYY-MM-DD.",
        "exams.csv: error[bad-date]: column 'exam_date': 1 row is not a date, e.g. '01/02/2024'. "
        "Write dates as YYYY-MM-DD.",
    ]


def test_wrong_types_and_negative_amounts(tmp_path: Path) -> None:
    manifest = ("shipment_id,arrival_date,port_code,quantity,declared_value,weight_kg\n"
                "S1,2024-01-01,P,ten,-5,nan\nS2,2024-01-01,P,1,$3,-0.5\nS3,2024-01-01,P,a,b,c\n"
                "S4,2024-01-01,P,d,e,f\nS5,2024-01-01,P,g,h,i\nS6,2024-01-01,P,h,i,j\n")
    exams = "shipment_id,result,msrp,domestic_value,referred_to_ice\nS1,discrepant,-1,0,perhaps\n"
    assert problems(tmp_path, manifest, exams) == [
        "manifest.csv: error[bad-number]: column 'quantity': 5 rows are not numbers, e.g. 'ten', "
        "'a', 'd', 'g', 'h'. Use plain numbers such as 1234.5 (no thousands separators, units or "
        "currency signs).",
        "manifest.csv: error[bad-number]: column 'declared_value': 5 rows are not numbers, e.g. "
        "'$3', 'b', 'e', 'h', 'i'. Use plain numbers such as 1234.5 (no thousands separators, "
        "units or currency signs).",
        "manifest.csv: error[bad-number]: column 'weight_kg': 5 rows are not numbers, e.g. 'nan', "
        "'c', 'f', 'i', 'j'. Use plain numbers such as 1234.5 (no thousands separators, units or "
        "currency signs).",
        "manifest.csv: error[negative-value]: column 'declared_value': 1 row is negative, e.g. "
        "'-5'. Amounts must be zero or more; correct the sign in the source.",
        "manifest.csv: error[negative-value]: column 'weight_kg': 1 row is negative, e.g. '-0.5'. "
        "Amounts must be zero or more; correct the sign in the source.",
        "exams.csv: error[bad-bool]: column 'referred_to_ice': 1 row is not true/false, e.g. "
        "'perhaps'. Use true or false.",
        "exams.csv: error[negative-value]: column 'msrp': 1 row is negative, e.g. '-1'. Amounts "
        "must be zero or more; correct the sign in the source.",
    ]


def test_duplicates_and_unknown_shipments(tmp_path: Path) -> None:
    manifest = GOOD_MANIFEST + "S2,2024-01-04,LAX\nS1,2024-01-05,JFK\n"
    exams = "exam_id,shipment_id,result\nE1,S1,discrepant\nE1,S9,no_discrepancy\nE3,S8,discrepant\n"
    assert problems(tmp_path, manifest, exams) == [
        "manifest.csv: error[duplicate-shipment-id]: column 'shipment_id': 4 rows have a value "
        "that appears more than once, e.g. 'S1', 'S2'. Each shipment must appear once; remove or "
        "merge the duplicates.",
        "exams.csv: error[duplicate-exam-id]: column 'exam_id': 2 rows have a value that appears "
        "more than once, e.g. 'E1'. Each exam must appear once; remove or merge the duplicates.",
        "exams.csv: error[unknown-shipment]: column 'shipment_id': 2 exams refer to shipments not "
        "in the manifest, e.g. 'S9', 'S8'. Add those shipments to the manifest, or remove the "
        "exams; they are never dropped silently.",
    ]


def test_values_outside_vocabularies_after_value_mapping(tmp_path: Path) -> None:
    exams = ("shipment_id,Outcome,disposition,selection_method\nS1,Y,seizure,udr\n"
             "S2,maybe,seized,hunch\n")
    config = ("data: {manifest: manifest.csv, exams: exams.csv, "
              "columns: {exams: {Outcome: result}}, "
              "values: {result: {Y: discrepant, N: no_discrepancy}}}\n")
    assert problems(tmp_path, exams=exams, config=config) == [
        "exams.csv: error[bad-value]: column 'result' (source 'Outcome'): 1 row has a value "
        "outside the vocabulary, e.g. 'maybe'. Allowed: discrepant, no_discrepancy. Map source "
        "values under data.values.result in targeting.yaml.",
        "exams.csv: error[bad-value]: column 'disposition': 1 row has a value outside the "
        "vocabulary, e.g. 'seized'. Allowed: seizure, voluntary_abandonment, refused_entry, "
        "penalty, other. Map source values under data.values.disposition in targeting.yaml.",
        "exams.csv: error[bad-value]: column 'selection_method': 1 row has a value outside the "
        "vocabulary, e.g. 'hunch'. Allowed: udr, query, observation, random, tip, other. Map "
        "source values under data.values.selection_method in targeting.yaml.",
    ]


def test_labelled_mode_checks_the_label_column(tmp_path: Path) -> None:
    config = "data: {manifest: manifest.csv, labelled: {column: fraud, discrepant: [1]}}\n"
    assert problems(tmp_path, config=config) == [
        "manifest.csv: error[missing-column]: label column 'fraud' is missing; the columns are: "
        "shipment_id, arrival_date, port_code. Add it, or map a source column to it under "
        "data.columns.manifest in targeting.yaml.",
    ]
    manifest = "shipment_id,arrival_date,port_code,fraud\nS1,2024-01-01,P,1\nS2,2024-01-01,P,\n"
    assert problems(tmp_path, manifest=manifest, config=config) == [
        "manifest.csv: error[empty-value]: column 'fraud': 1 row is empty. Every row needs a "
        "value here.",
    ]


def test_problems_name_the_file_of_a_glob(tmp_path: Path) -> None:
    (tmp_path / "parts").mkdir()
    (tmp_path / "parts" / "a.csv").write_text(GOOD_MANIFEST)
    (tmp_path / "parts" / "b.csv").write_text("shipment_id,arrival_date,port_code\nS3,soon,P\n")
    config = "data: {manifest: 'parts/*.csv', exams: exams.csv}\n"
    assert problems(tmp_path, config=config) == [
        "parts/b.csv: error[bad-date]: column 'arrival_date': 1 row is not a date, e.g. 'soon'. "
        "Write dates as YYYY-MM-DD.",
    ]


def test_open_dataset_refuses_bad_data_with_every_message(tmp_path: Path) -> None:
    problems(tmp_path, exams="shipment_id,result\nS1,maybe\nS7,discrepant\n")
    with pytest.raises(DataError) as info:
        open_dataset(load_config(tmp_path / "targeting.yaml"))
    assert info.value.exit_code == 2
    assert [p.code for p in info.value.problems] == ["bad-value", "unknown-shipment"]
    assert str(info.value) == "\n".join(str(p) for p in info.value.problems)


def test_selection_probability_must_lie_in_zero_one(tmp_path: Path) -> None:
    """Catches a check that lets a zero (no positivity: IPW divides by it), a negative or an
    above-one propensity through, or one that rejects the empty (not logged) values."""
    exams = ("shipment_id,result,selection_probability\nS1,discrepant,0\nS1,discrepant,1\n"
             "S2,no_discrepancy,1.5\nS2,discrepant,\nS1,discrepant,0.02\nS2,discrepant,-0.1\n")
    assert problems(tmp_path, exams=exams) == [
        "exams.csv: error[bad-probability]: column 'selection_probability': 3 rows are not a "
        "probability in (0, 1], e.g. '0', '1.5', '-0.1'. A logged selection probability is above 0 "
        "(every shipment could have been examined) and at most 1; leave it empty where it was "
        "not logged.",
    ]


def test_referrals_are_typed_and_not_dated_before_the_exam(tmp_path: Path) -> None:
    """Catches a contract that does not type the referral columns, or lets a referral dated
    before its exam through (same-day referrals are fine)."""
    exams = ("shipment_id,result,exam_date,referred_to_ice,referral_date,referral_accepted,"
             "referral_outcome\n"
             "S1,discrepant,2024-01-05,true,2024-01-05,true,investigation_opened\n"
             "S1,discrepant,2024-01-05,true,2024-01-04,maybe,declined\n"
             "S2,discrepant,2024-01-06,true,soon,false,declined\n"
             "S2,no_discrepancy,2024-01-06,false,,,\n")
    assert problems(tmp_path, exams=exams) == [
        "exams.csv: error[bad-date]: column 'referral_date': 1 row is not a date, e.g. 'soon'. "
        "Write dates as YYYY-MM-DD.",
        "exams.csv: error[bad-bool]: column 'referral_accepted': 1 row is not true/false, e.g. "
        "'maybe'. Use true or false.",
        "exams.csv: error[date-order]: column 'referral_date': 1 row has a referral_date before "
        "the exam_date, e.g. '2024-01-04'. It cannot come first; correct the dates in the source.",
    ]


def test_a_discrepant_exam_may_have_no_disposition(tmp_path: Path) -> None:
    """Ports that record no disposition leave it empty on discrepant exams: not an error.
    Catches a check that demands a disposition wherever the result is discrepant."""
    exams = "shipment_id,result,disposition\nS1,discrepant,\nS2,discrepant,seizure\n"
    assert problems(tmp_path, exams=exams) == []


def test_profile_of_the_hand_made_project() -> None:
    report = check(load_config(CONTRACT / "targeting.yaml"))
    assert report.ok
    profile = report.profile
    assert profile is not None
    # 6 shipments; exams on S1 (x2), S3, S5; discrepant exams on S1 and S5
    assert {k: profile[k] for k in ("rows", "date_min", "date_max", "ports", "modes", "exams",
                                    "examined_shipments", "discrepant_shipments")} == {
        "rows": 6, "date_min": "2024-01-02", "date_max": "2024-02-15",
        "ports": {"JFK": 3, "LAX": 2, "ORD": 1}, "modes": {"air": 3, "sea": 2, "mail": 1},
        "exams": 4, "examined_shipments": 3, "discrepant_shipments": 2,
    }
    assert profile["exam_rate"] == 3 / 6
    assert profile["discrepancy_rate"] == 2 / 3
    assert {k: v for k, v in profile["null_share"].items() if v} == {
        "tax_type": 1 / 6, "declared_value": 1 / 6, "description": 1 / 6}
    assert profile["exam_null_share"] == {
        "exam_id": 0.0, "shipment_id": 0.0, "exam_date": 0.0, "result": 0.0,
        "disposition": 0.5, "selection_method": 0.0, "msrp": 0.5, "selector_id": 1.0,
        "domestic_value": 1.0, "referred_to_ice": 1.0,
        # optional contract columns the source lacks are added empty
        "selection_probability": 1.0, "referral_date": 1.0, "referral_accepted": 1.0,
        "referral_outcome": 1.0}


def test_cli_data_check_on_kcs() -> None:
    config = str(ROOT / "fixtures" / "kcs" / "targeting.yaml")
    result = CliRunner().invoke(main, ["data", "check", "--config", config])
    assert result.exit_code == 0, result.output
    assert "54,000" in result.output and "21.58% (11,653 of 54,000" in result.output
    assert max(len(line) for line in result.output.splitlines()) <= 80
    result = CliRunner().invoke(main, ["data", "check", "--config", config, "--format", "json"])
    assert result.exit_code == 0
    profile = json.loads(result.output)["profile"]
    counts = (profile["rows"], profile["discrepant_shipments"], len(profile["ports"]))
    assert counts == (54000, 11653, 43)
    assert (profile["date_min"], profile["date_max"]) == ("2020-01-01", "2021-06-30")


def test_cli_data_check_bad_data_exits_2_with_messages_on_stderr(tmp_path: Path) -> None:
    problems(tmp_path, exams="shipment_id,result\nS1,maybe\n")
    result = CliRunner().invoke(main, ["data", "check"])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "exams.csv: error[bad-value]: column 'result': 1 row has a value outside the vocabulary, "
        "e.g. 'maybe'. Allowed: discrepant, no_discrepancy. Map source values under "
        "data.values.result in targeting.yaml.",
        "error: 1 data problem(s); see docs/data-contract.md.",
    ]
    assert result.stdout == ""


def test_cli_config_error_exits_2(tmp_path: Path) -> None:
    (tmp_path / "targeting.yaml").write_text("data: {manifest: m.csv, exams: e.csv}\ngates: {}\n")
    result = CliRunner().invoke(main, ["data", "check"])
    assert result.exit_code == 2
    assert result.stderr == ("error: targeting.yaml: top level: unknown key 'gates'; allowed: "
                             "data, lists, rules, queries, priorities, promotion, gate, ledger, "
                             "limits, engine, spark (did you mean 'gate'?)\n")


def test_blank_text_in_a_parquet_required_column_is_empty(tmp_path: Path) -> None:
    import duckdb

    duckdb.execute("COPY (SELECT * FROM (VALUES ('S1', DATE '2024-01-01', 'P'), "
                   "('  ', DATE '2024-01-02', 'P')) t(shipment_id, arrival_date, port_code)) "
                   f"TO '{tmp_path / 'm.parquet'}' (FORMAT parquet)")
    config = "data: {manifest: m.parquet, exams: exams.csv}\n"
    assert problems(tmp_path, config=config) == [
        "m.parquet: error[empty-value]: column 'shipment_id': 1 row is empty. Every row needs a "
        "value here.",
    ]
