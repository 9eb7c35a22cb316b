"""The officer's and the scoreboard's screens on tests/data/policy (see test_policy.py for the
hand-worked numbers): `test --format json` is an evaluate row plus the verdict in words (a
query) or the retirement status (a UDR, agreeing with `candidates`), overlap named both ways,
the verdict line in words, and the 80-column scoreboard."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from targeting.backtest.registry import SCOREBOARD_COLUMNS
from targeting.cli import main

DATA = Path(__file__).parent / "data" / "policy"
# test_policy.py's lenient policy: loose enough for Q-1 to pass, and for estimates to be shown.
LENIENT = {"min_examined": 3, "min_discrepant": 2, "min_hit_rate": 0.1, "lift_factor": 0.0,
           "min_ports": 3, "min_months": 2, "recent_months": 2, "min_unique": 2,
           "max_flags_per_day": 1, "retire_factor": 1.0}


@pytest.fixture(scope="module")
def config(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("screens") / "targeting.yaml"
    path.write_text(f"data:\n  manifest: {DATA / 'manifest.csv'}\n  exams: {DATA / 'exams.csv'}\n"
                    f"rules: [{DATA / 'rules'}]\nqueries: [{DATA / 'queries'}]\npromotion:\n"
                    + "".join(f"  {k}: {v}\n" for k, v in LENIENT.items()), encoding="utf-8")
    return path


def run(config: Path, *args: str, width: int = 80) -> str:
    result = CliRunner().invoke(main, [*args, "--config", str(config)], env={"COLUMNS": str(width)})
    assert result.exit_code == 0, result.output
    return result.stdout


def test_test_json_is_an_evaluate_row_plus_the_verdict_in_words(config):
    doc = json.loads(run(config, "test", "Q-2", "--format", "json"))
    board = {r["id"]: r for r in json.loads(run(config, "evaluate", "--format", "json"))["rules"]}
    assert list(doc)[:len(SCOREBOARD_COLUMNS)] == SCOREBOARD_COLUMNS
    assert {k: doc[k] for k in SCOREBOARD_COLUMNS} == {k: board["Q-2"][k] for k in SCOREBOARD_COLUMNS}
    verdict = doc["verdict"]
    assert verdict["promote"] is False
    assert verdict["summary"] == ("not yet: fails 5 of 6 criteria (evidence, effectiveness, "
                                  "persistence, novelty, examples)")
    evidence = verdict["explanation"][0]
    assert evidence == {
        "name": "evidence", "passed": False,
        "sentence": "Evidence: examined 1 of the 3 shipments needed and found 0 of the 2 "
                    "discrepant needed.",
        "change": "2 more examined shipments; and 2 more discrepant finds (none found yet, so no "
                  "rate to project from)"}
    assert [e["name"] for e in verdict["explanation"]] == [
        *(c["name"] for c in verdict["criteria"]), "transfer"]


def test_test_of_a_udr_gives_its_retirement_as_candidates_does(config):
    doc = json.loads(run(config, "test", "U-2", "--format", "json"))
    review = json.loads(run(config, "candidates", "--format", "json"))
    proposed = {r["id"]: r["reasons"] for r in review["retire"]}
    assert doc["verdict"] == {"id": "U-2", "retire": True, "reasons": proposed["U-2"]}
    assert doc["overlaps"] == [{"udr": "U-1", "shared": 2, "jaccard": 0.5, "share_of_rule": 1.0,
                                "share_of_udr": 0.5}]
    text = run(config, "test", "U-2", width=200)
    # Jaccard and containment both, and the containment is the figure candidates gives.
    assert ("overlap with active UDRs: U-1: Jaccard 50.0% (2 shared shipments); it matches 100.0% "
            "of this rule's targets, this rule 50.0% of its.") in text
    assert "superseded: U-1 also matches 100% of its targeted shipments" in text
    assert "retirement: PROPOSED — superseded" in text
    assert "retirement: the policy does not propose to retire this UDR" in run(
        config, "test", "U-1", width=200)


def test_verdict_line_is_words_not_python_objects(config):
    text = run(config, "test", "Q-2", width=200)
    assert "verdict: not yet: fails 5 of 6 criteria" in text
    assert "  ✗ Transfer: outside its port its national projection has an effective sample of 0 " \
           "examined shipments, below the evidence floor of 3" in text
    assert "    to run nationally: about 3 more examined shipments outside its port" in text
    assert "{" not in text and "None" not in text
    # counts of one are singular; no discrepant row, so the sample does not say "discrepant first"
    assert "(0.0 per day, 1 port, 0 months with hits)" in text
    assert "Matched shipments (none discrepant; examined first, most recent first)" in text


def test_scoreboard_at_80_columns_keeps_the_estimate_and_says_what_is_hidden(config):
    text = run(config, "evaluate")
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80
    header = next(line for line in lines if line.startswith("id "))
    assert header.split() == ["id", "targeted", "exam'd", "estimate", "[95%", "CI]", "est.", "lift",
                              "shrunk"]
    assert "Q-1         5       4  75.0% [30.1–95.4%]" in text
    assert ("11 more columns at a wider terminal: kind, observed, method, port, discrepant, "
            "own, lift_at_ports, flags, ports, unique, overlap; choose with --columns, or all of "
            "them with --format json or csv.") in " ".join(text.split())


def test_columns_choose_the_scoreboard(config):
    text = run(config, "evaluate", "--columns", "id,observed,estimate")
    assert next(line for line in text.splitlines() if line.startswith("id ")).split() == [
        "id", "observed", "estimate", "[95%", "CI]"]
    result = CliRunner().invoke(main, ["evaluate", "--columns", "id,estimat", "--config", str(config)])
    assert result.exit_code == 2 and "'estimat' is not a column (did you mean 'estimate'?)" in result.output


def test_selection_picks_rules_by_kind_port_and_tag(config):
    board = json.loads(run(config, "evaluate", "--kind", "udr", "--format", "json"))["rules"]
    assert sorted(r["id"] for r in board) == ["U-1", "U-2"]
    board = json.loads(run(config, "evaluate", "--port", "2222", "--format", "json"))["rules"]
    assert [r["id"] for r in board] == ["Q-2"]
    review = json.loads(run(config, "candidates", "--port", "1111", "--format", "json"))
    assert [c["id"] for c in review["candidates"]] == ["Q-1"]
    assert [r["id"] for r in review["retire"]] == []  # U-2 is national: no port 1111
