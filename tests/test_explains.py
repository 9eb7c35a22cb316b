"""Every screen explains itself: values checked against the data, criteria in words with their
units and what would change them, and counts written in good English."""
from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from targeting.backtest.stats import wilson
from targeting.cli import main
from targeting.data.values import MAX_LENGTH, vocabulary
from targeting.decide.explain import exams_for_lower_bound, more_exams_for_discrepant
from targeting.decide.policy import Criterion
from targeting.errors import Location
from targeting.render.criteria import explain
from targeting.rules.model import AnyOf, Leaf, Rule
from targeting.rules.values import value_problems

ROOT = Path(__file__).parent.parent
VOCABULARY = {"mode": ["express", "mail", "cargo"], "country_of_origin": ["CN", "HK", "VN"]}


def rule(where) -> Rule:
    return Rule(id="Q-1", kind="query", title="t", where=where, path="q.yaml", port="4701")


# ------------------------------------------------------------------------ values in the data

def test_a_value_that_never_occurs_is_a_warning_with_a_did_you_mean():
    at = Location("q.yaml", 6, 3)
    where = AnyOf((Leaf("mode", "eq", "expres", at), Leaf("country_of_origin", "in", ("CHN", "VN"), at),
                   Leaf("mode", "eq", " MAIL ", at), Leaf("description", "eq", "bag", at)))
    problems = value_problems(rule(where), VOCABULARY)
    assert [str(p) for p in problems] == [
        "q.yaml:6:3: warning[unknown-value]: 'expres' never occurs in mode; did you mean 'express'?",
        "q.yaml:6:3: warning[unknown-value]: 'CHN' never occurs in country_of_origin; did you mean "
        "'CN'?"]  # ' MAIL ' folds to mail, as rules compare text; description has no vocabulary


def test_a_value_with_no_close_match_lists_the_fields_values():
    problems = value_problems(rule(Leaf("mode", "ne", "pipeline")), VOCABULARY)
    assert [p.message for p in problems] == [
        "'pipeline' never occurs in mode; its values are express, mail, cargo. Check the spelling, or "
        "`targeting data check`"]


def test_vocabulary_keeps_short_categorical_text_only():
    con = duckdb.connect()
    con.execute("CREATE TABLE manifest AS SELECT * FROM (VALUES ('express', 'A' || repeat('x', ?), 1),"
                " ('mail', 'B', 2), ('express', NULL, 3)) t(mode, description, n)", [MAX_LENGTH])
    found = vocabulary(con, {"mode": "text", "description": "text", "n": "number"})
    assert found == {"mode": ["express", "mail"]}  # most frequent first; long text left out


def test_validate_warns_of_values_the_bundled_data_never_holds(tmp_path):
    query = tmp_path / "q.yaml"
    query.write_text("id: Q-4701-0099\nkind: query\ntitle: typo\nport: '4701'\nwhere:\n"
                     "  mode: expres\n  country_of_origin: [CHN, VN]\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["validate", "--config", str(ROOT / "targeting.yaml"),
                                       str(query)])
    assert result.exit_code == 0, result.output  # warnings do not fail validate
    lines = [line.split(": ", 1)[1] for line in result.stdout.splitlines()]
    assert lines == ["warning[unknown-value]: 'expres' never occurs in mode; did you mean 'express'?",
                     "warning[unknown-value]: 'CHN' never occurs in country_of_origin; did you "
                     "mean 'CN'?"]


def test_data_check_lists_every_field_with_type_distinct_values_and_top_values():
    result = CliRunner().invoke(main, ["data", "check", "--config", str(ROOT / "targeting.yaml"),
                                       "--format", "json"])
    assert result.exit_code == 0, result.output
    fields = {f["field"]: f for f in json.loads(result.stdout)["profile"]["fields"]}
    assert fields["mode"]["type"] == "text" and fields["mode"]["distinct"] == 3
    assert [v for v, _ in fields["mode"]["top"]] == ["express", "mail", "cargo"]
    assert fields["declared_value"]["type"] == "number" and fields["declared_value"]["top"] == []
    low, high = fields["declared_value"]["range"]
    assert 0 < low < high
    text = CliRunner().invoke(main, ["data", "check", "--config", str(ROOT / "targeting.yaml")])
    assert "Fields (what rules can test)" in text.stdout and "express (" in text.stdout


# ------------------------------------------------------------------------ criteria in words

def test_evidence_says_how_many_more_exams_at_the_current_rate():
    c = Criterion("evidence", False, {"examined": 3, "discrepant": 0},
                  {"examined": 30, "discrepant": 10})
    e = explain(c, {"est_hit_rate": None, "est_method": "observed"})
    assert e.sentence == ("Evidence: examined 3 of the 30 shipments needed and found 0 of the 10 "
                          "discrepant needed.")
    assert e.change == ("27 more examined shipments; and 10 more discrepant finds (none found yet, "
                        "so no rate to project from)")
    e = explain(Criterion("evidence", False, {"examined": 40.0, "discrepant": 4.0},
                          {"examined": 30, "discrepant": 10}), {"est_hit_rate": 0.1})
    assert e.change == ("about 60 more examined shipments at its estimated rate of 10.0% to find "
                        "6 more discrepant")


def test_counts_of_one_are_singular():
    transfer = explain(Criterion("transfer", False, {"away_hit_rate_low": 0.05, "ports_with_hits": 1},
                                 {"away_hit_rate_low": 0.1, "ports_with_hits": 3}), {})
    assert transfer.sentence == ("Transfer: outside its port its national projection's estimated "
                                 "precision is at least 5.00% (95% lower bound) against the bar "
                                 "10.00%, with violations found at 1 port (3 needed): it would run "
                                 "as a UDR at its port.")
    assert transfer.change == ("a lower bound outside its port of at least 10.00%; and discrepant "
                               "finds at 2 more ports")
    thin = explain(Criterion("transfer", False, None, 0.1), {"away_examined": 29.0, "min_examined": 30})
    assert thin.change == "about 1 more examined shipment outside its port that it matches"
    persistence = explain(Criterion("persistence", False,
                                    {"months_with_hits": 1, "recent_hit_rate": 0.05,
                                     "recent_p_below": 0.4},
                                    {"months_with_hits": 2, "recent_hit_rate": 0.04,
                                     "recent_p_below": 0.05}),
                          {"recent_months": 1})
    assert persistence.sentence == ("Persistence: violations found in 1 month (2 months with hits "
                                    "needed); over the last 1 month its estimated precision is "
                                    "5.0%, which does not show it below the bar of 4.00% "
                                    "(one-sided p = 0.4, below 0.05 fails).")
    assert persistence.change == "hits in 1 more month"


def test_workload_and_effectiveness_carry_units():
    workload = explain(Criterion("workload", False, 231.14, 150.0), {"workload_scope": "national"})
    assert workload.sentence == ("Workload: its national projection would flag 231.1 shipments a "
                                 "day; at most 150 a day allowed.")
    assert workload.change == "narrowing it to flag 81.1 fewer shipments a day"
    at_port = explain(Criterion("workload", True, 2.0, 150.0), {"workload_scope": "port"})
    assert at_port.sentence.startswith("Workload: at its port it would flag 2.0 shipments a day")
    context = {"est_hit_rate": 0.3, "est_hit_rate_low": 0.1084, "est_hit_rate_high": 0.52,
               "est_examined": 40, "baseline_hit_rate": 0.1205, "lift_factor": 2.0,
               "min_hit_rate": 0.02, "q_value": 0.1312, "fdr": 0.1}
    effectiveness = explain(Criterion("effectiveness", False, 0.0431, 0.2409), context)
    assert effectiveness.sentence == (
        "Effectiveness: estimated precision 30.0% [95% CI 10.84%–52.00%] against a bar of 24.09% "
        "(2.0× the population's rate of 12.05%, and at least 2.0%); one-sided p = 0.0431, "
        "q = 0.131 after Benjamini-Hochberg over the review, against a false discovery rate of 10%.")
    more = exams_for_lower_bound(0.3, 40, 0.2409)
    assert effectiveness.change == (f"more examined shipments at its estimated rate of 30.0%: about "
                                    f"{more - 40:,} more would lift the 95% lower bound to the bar "
                                    "(one-sided p 0.025), which passes in most reviews")
    # Judged alone (`targeting test`), the note says whether the review could change it.
    alone = explain(Criterion("effectiveness", False, 0.0431, 0.2409,
                              "estimated precision above the bar 24.09%: p = 0.0431; its q-value "
                              "depends on the other 22 queries: `targeting candidates` decides"),
                    {**context, "q_value": None})
    assert alone.sentence.endswith("one-sided p = 0.0431; its q-value depends on the other 22 "
                                   "queries: `targeting candidates` decides.")


def test_a_criterion_this_version_does_not_know_reads_as_a_sentence():
    e = explain(Criterion("fdr_q_value", False, {"q_value": 0.0712}, {"q_value": 0.05}), {})
    assert e.sentence == "Fdr q value: q value 0.0712, against q value 0.05."
    assert e.change == "fdr q value reaching q value 0.05"
    noted = explain(Criterion("national_transfer", True, 2, 3, note="holds at 2 other ports"), {})
    assert (noted.sentence, noted.change) == ("National transfer: holds at 2 other ports.", None)


def test_how_much_more_evidence_by_hand():
    assert more_exams_for_discrepant(0.1, 2, 10) == 80
    assert more_exams_for_discrepant(0.25, 10, 10) == 0
    assert more_exams_for_discrepant(0.0, 0, 10) is None
    n = exams_for_lower_bound(0.3, 10, 0.2)
    assert wilson(round(0.3 * n), n)[0] >= 0.2 > wilson(round(0.3 * (n - 1)), n - 1)[0]
    assert exams_for_lower_bound(0.2, 10, 0.2) is None  # at the bar: no number of exams will do
    assert exams_for_lower_bound(0.2001, 10, 0.2) is None  # beyond any realistic count


@pytest.mark.parametrize("count, word", [(1, "1 port"), (2, "2 ports"), (0, "0 ports")])
def test_plural(count, word):
    from targeting.units import plural

    assert plural(count, "port") == word
