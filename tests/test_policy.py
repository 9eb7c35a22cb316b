"""The promotion policy on tests/data/policy: settings, each criterion's value and threshold
worked out by hand, retirement reasons, and the candidates JSON and dossier.

The data (12 shipments, 2025-01-10 .. 2025-04-20): Q-1 targets "bag" at port 1111 and was
written 2025-01-31, so b1 (a hit before that) is not evidence; its national projection also
hits b5 (2222) and b6 (3333). U-1 targets every "toy"; U-2 the toys at 1111 only.
Every exam logs selection_probability 1, so each estimate is the observed rate with its Wilson
interval (Hajek weights all 1, no sampling variance beyond the count) and the numbers below
are worked out from counts. Effectiveness is a one-sided score test against the bar, with the
review's two queries controlled by Benjamini-Hochberg at `fdr` 0.10.
"""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from targeting.backtest.run import project_window
from targeting.backtest.stats import score_p_value, wilson
from targeting.cli import main
from targeting.decide.policy import DEFAULTS, decide, load_policy
from targeting.decide.retirement import judge_udrs, retirements
from targeting.errors import ConfigError
from targeting.project import open_project

DATA = Path(__file__).parent / "data" / "policy"
# Loose enough for Q-1 to pass every criterion (each threshold is at or below its value).
LENIENT = {"min_examined": 3, "min_discrepant": 2, "min_hit_rate": 0.1, "lift_factor": 0.0,
           "min_ports": 3, "min_months": 2, "recent_months": 2, "min_unique": 2,
           "max_flags_per_day": 1, "retire_factor": 1.0}


def low(discrepant: int, examined: int) -> float:
    return wilson(discrepant, examined)[0]


@pytest.fixture(scope="module")
def project():
    return open_project(DATA / "targeting.yaml")


def verdicts(project, **settings):
    policy = load_policy(settings)
    return {v.rule.id: v for v in decide(project, project_window(project), policy)}


def criteria(verdict) -> dict:
    return {c.name: c for c in verdict.criteria}


# ------------------------------------------------------------------------------- settings

def test_unknown_setting_names_the_file_and_suggests_the_right_one():
    with pytest.raises(ConfigError) as err:
        load_policy({"min_examind": 10}, "proj/targeting.yaml")
    text = str(err.value)
    assert "proj/targeting.yaml" in text and "promotion.min_examind" in text
    assert "did you mean 'min_examined'" in text


@pytest.mark.parametrize("key, value, expected", [
    ("prospective", "yes", "true or false"),
    ("prospective", 1, "true or false"),
    ("min_examined", "30", "non-negative number"),
    ("min_examined", True, "non-negative number"),
    ("min_examined", 2.5, "whole number"),
    ("lift_factor", -1, "non-negative number"),
    ("max_overlap", None, "non-negative number"),
])
def test_bad_setting_types_are_config_errors(key, value, expected):
    with pytest.raises(ConfigError) as err:
        load_policy({key: value})
    assert f"promotion.{key}" in str(err.value) and expected in str(err.value)
    assert err.value.exit_code == 2


def test_defaults_fill_missing_settings_and_the_hash_covers_them():
    policy = load_policy({"min_examined": 40, "lift_factor": 3})
    assert policy.min_examined == 40 and policy.lift_factor == 3.0
    assert isinstance(policy.lift_factor, float) and isinstance(policy.min_examined, int)
    assert {k: v for k, v in policy.values.items() if k not in ("min_examined", "lift_factor")} == \
        {k: v for k, v in DEFAULTS.items() if k not in ("min_examined", "lift_factor")}
    assert load_policy(None).hash == load_policy(dict(DEFAULTS)).hash
    assert policy.hash != load_policy(None).hash
    assert load_policy({"min_months": 3.0}).hash == load_policy(None).hash  # 3.0 is the whole number 3


def test_bad_promotion_section_in_config_exits_2(tmp_path):
    config = tmp_path / "targeting.yaml"
    config.write_text((DATA / "targeting.yaml").read_text()
                      .replace("manifest.csv", str(DATA / "manifest.csv"))
                      .replace("exams.csv", str(DATA / "exams.csv")).replace("[rules]", f"[{DATA / 'rules'}]")
                      .replace("[queries]", f"[{DATA / 'queries'}]") + "  min_hitrate: 0.1\n")
    result = CliRunner().invoke(main, ["candidates", "--config", str(config)])
    assert result.exit_code == 2, result.output
    assert "min_hitrate" in result.output and "min_hit_rate" in result.output


# ------------------------------------------------------------------------------ criteria

def test_criteria_values_and_thresholds_by_hand_default_policy(project):
    v = verdicts(project)["Q-1"]
    c = criteria(v)
    # Evidence from 2025-02-01: b2 (discrepant), b3 (not), b4 (discrepant) examined; b7 not.
    assert v.evidence_window.since == dt.date(2025, 2, 1) and v.evidence_window.days == 79
    assert c["evidence"].value == {"examined": 3, "discrepant": 2}
    assert c["evidence"].threshold == {"examined": 30, "discrepant": 10} and not c["evidence"].passed
    # Baseline from 2025-02-01: 9 shipments examined, 5 discrepant. The bar 2 x 5/9 is above
    # 100%, so no rate can be shown above it: p = 1.
    assert c["effectiveness"].value == 1.0
    assert c["effectiveness"].threshold == pytest.approx(2.0 * 5 / 9) and not c["effectiveness"].passed
    assert v.metrics["q_value"] == 1.0
    # Outside 1111 the national projection has b5 and b6 examined: 2 exams, below the floor of
    # 30, so it cannot transfer and would run at its port.
    assert v.transfer.value is None and not v.transfer.passed and v.scope == "port"
    assert "insufficient evidence elsewhere" in v.transfer.note
    # recent_months 6 covers the whole window, but the recent period never starts before the
    # evidence does (2025-02-01): b1 is left out, so 3 examined, 2 discrepant; baseline 5/9.
    # The recent bar 2 x 5/9 is above 100%, so 2 of 3 is shown below it (p = 0).
    assert c["persistence"].value == {"months_with_hits": 2, "recent_hit_rate": pytest.approx(2 / 3),
                                      "recent_p_below": 0.0}
    assert c["persistence"].threshold == {"months_with_hits": 3,
                                          "recent_hit_rate": pytest.approx(2.0 * 5 / 9),
                                          "recent_p_below": 0.05}
    assert not c["persistence"].passed
    assert c["novelty"].value == {"unique_discrepant": 2, "max_overlap_jaccard": 0.0}
    assert not c["novelty"].passed
    # Workload at its port (it does not transfer): b2, b3, b4, b7 over the 79 days of evidence.
    assert c["workload"].value == pytest.approx(4 / 79) and c["workload"].passed
    assert c["examples"].value == {"match": 1, "no_match": 1} and c["examples"].passed
    assert not v.promote and {x.name for x in v.failing} == {"evidence", "effectiveness", "persistence",
                                                              "novelty"}


def test_lenient_policy_promotes_q1_and_each_threshold_follows_its_setting(project):
    v = verdicts(project, **LENIENT)["Q-1"]
    c = criteria(v)
    assert all(x.passed for x in v.criteria), [x.as_dict() for x in v.failing]
    assert v.promote and v.outcome() == "promote as a port UDR"
    assert v.outcome(national=True) == "not yet, insufficient evidence elsewhere"
    # Bar 0.1: Q-1 has 2 of 3, Q-2 0 of 1 (o5); q-values by Benjamini-Hochberg over the two.
    p1, p2 = score_p_value(2 / 3, 3, 0.1, below=False), score_p_value(0.0, 1, 0.1, below=False)
    assert c["effectiveness"].threshold == pytest.approx(0.1)
    assert c["effectiveness"].value == pytest.approx(p1)
    assert v.metrics["q_value"] == pytest.approx(min(2 * p1, p2))
    # Expected false promotions: m = 2 reviewed times the largest p-value that passed.
    assert v.metrics["expected_false_promotions"] == pytest.approx(2 * p1)
    # recent_months 2: 2025-02-21 .. 2025-04-20; Q-1 has b4 examined (discrepant), b7 not.
    assert c["persistence"].value["recent_hit_rate"] == 1.0
    assert c["persistence"].value["recent_p_below"] == pytest.approx(
        score_p_value(1.0, 1, 0.1, below=True))
    assert c["workload"].threshold == 1.0


@pytest.mark.parametrize("setting, value, names", [
    ("min_examined", 4, ["evidence"]), ("min_discrepant", 3, ["evidence"]),
    # Bar 0.21: Q-1's p = 0.026, q = 0.052 still passes, and the recent 1 of 1 is not shown
    # below it. At 0.7 the bar is above the estimate and the recent months (still 1 of 1) do not
    # show it below: only effectiveness fails. min_ports belongs to transfer (the scope).
    ("min_hit_rate", 0.21, []), ("min_hit_rate", 0.7, ["effectiveness"]), ("min_ports", 4, []),
    ("min_months", 3, ["persistence"]), ("min_unique", 3, ["novelty"]),
    ("max_overlap", 0.0, []),  # overlap 0 ≤ 0 still passes
    ("max_flags_per_day", 0.05, ["workload"]),  # 4 flags in 79 days at its port
])
def test_one_setting_past_the_value_fails_exactly_that_criterion(project, setting, value, names):
    v = verdicts(project, **{**LENIENT, setting: value})["Q-1"]
    assert [x.name for x in v.failing] == names
    assert v.promote == (not names)


def test_lift_factor_uses_the_evidence_baseline(project):
    # 0.4 x 5/9 = 0.222: p = 0.032, q = 2p = 0.064 ≤ 0.10 passes; 0.6 x 5/9 = 0.333: p = 0.110 fails.
    c = criteria(verdicts(project, **{**LENIENT, "lift_factor": 0.4})["Q-1"])["effectiveness"]
    assert c.passed and c.value == pytest.approx(score_p_value(2 / 3, 3, 0.4 * 5 / 9, below=False))
    assert c.value == pytest.approx(0.032, abs=5e-4)
    c = criteria(verdicts(project, **{**LENIENT, "lift_factor": 0.6})["Q-1"])["effectiveness"]
    assert not c.passed and c.threshold == pytest.approx(0.6 * 5 / 9)
    assert c.value == pytest.approx(0.110, abs=5e-4)


def test_not_prospective_counts_the_whole_window(project):
    v = verdicts(project, **{**LENIENT, "prospective": False})["Q-1"]
    c = criteria(v)
    assert v.evidence_window.since == dt.date(2025, 1, 10)
    assert c["evidence"].value == {"examined": 4, "discrepant": 3}
    assert c["effectiveness"].value == pytest.approx(score_p_value(3 / 4, 4, 0.1, below=False))
    assert c["workload"].value == pytest.approx(5 / 101)  # b1 b2 b3 b4 b7 at its port


def test_examples_need_a_no_match_and_verdicts_are_strongest_first(project):
    found = decide(project, project_window(project), load_policy(LENIENT))
    assert [v.rule.id for v in found] == ["Q-1", "Q-2"]
    q2 = criteria(found[1])
    assert q2["examples"].value == {"match": 1, "no_match": 0} and not q2["examples"].passed


def test_retirement_reasons(project):
    window = project_window(project)
    # With the default floor of 30 effective exams neither UDR can be judged for decay (U-1 has
    # 4 exams, U-2 2); U-1 matches all of U-2's targets (o1, o4), so U-2 is superseded.
    judged = {j.rule.id: j for j in judge_udrs(project, window, load_policy({"retire_factor": 1.0}))}
    assert judged["U-1"].outcome == "insufficient evidence" and judged["U-2"].outcome == "retire"
    assert [r.split(":")[0] for r in judged["U-2"].reasons] == ["superseded"]
    assert [r.rule.id for r in retirements(project, window, load_policy({}))] == ["U-2"]
    # Floor 2, factor 1, recent_months 2: the window (101 days) is shorter than 4 months, so decay
    # is judged over the last 2 months (2025-02-21 ..), population 4/6. U-1 has 1 of 2 (o3, o4);
    # U-2 has 1 exam, below the floor: it cannot be judged, but it is superseded.
    settings = {"min_examined": 2, "recent_months": 2, "retire_factor": 1.0}
    judged = {j.rule.id: j for j in judge_udrs(project, window, load_policy(settings))}
    p1 = score_p_value(1 / 2, 2, 4 / 6, below=True)
    assert judged["U-1"].metrics["decay_p_value"] == pytest.approx(p1)
    assert judged["U-1"].metrics["decay_q_value"] == pytest.approx(p1)  # the only one tested
    assert judged["U-1"].metrics["decay_period"] == "the last 2 months"
    assert judged["U-1"].outcome == "keep" and judged["U-2"].metrics["decay_p_value"] is None
    assert [r.split(":")[0] for r in judged["U-2"].reasons] == ["superseded"]
    # Factor 2 puts the limit above 100%: any rate is below it, and U-1 decays.
    found = {r.rule.id: r.reasons for r in retirements(project, window, load_policy(
        {**settings, "retire_factor": 2.0}))}
    assert {k: [r.split(":")[0] for r in v] for k, v in found.items()} == {
        "U-1": ["decayed"], "U-2": ["superseded"]}


# ------------------------------------------------------------------------ review outputs

@pytest.fixture
def lenient_config(tmp_path) -> Path:
    config = tmp_path / "targeting.yaml"
    settings = "".join(f"  {k}: {v}\n" for k, v in LENIENT.items())
    config.write_text(f"data:\n  manifest: {DATA / 'manifest.csv'}\n  exams: {DATA / 'exams.csv'}\n"
                      f"rules: [{DATA / 'rules'}]\nqueries: [{DATA / 'queries'}]\n"
                      f"promotion:\n{settings}", encoding="utf-8")
    return config


def test_candidates_json_has_the_documented_shape(lenient_config):
    result = CliRunner().invoke(main, ["candidates", "--config", str(lenient_config), "--format", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert {"policy_hash", "data_fingerprint", "window", "candidates", "retire"} <= set(doc)
    assert doc["policy_hash"] == load_policy(LENIENT).hash and len(doc["policy_hash"]) == 64
    assert doc["data_fingerprint"] == open_project(lenient_config).dataset.fingerprint
    assert doc["window"] == {"since": "2025-01-10", "until": "2025-04-20", "days": 101}
    assert [c["id"] for c in doc["candidates"]] == ["Q-1", "Q-2"]
    assert [c["promote"] for c in doc["candidates"]] == [True, False]
    for candidate in doc["candidates"]:
        assert [c["name"] for c in candidate["criteria"]] == [
            "evidence", "effectiveness", "persistence", "novelty", "workload", "examples"]
        for criterion in candidate["criteria"]:
            assert set(criterion) == {"name", "passed", "value", "threshold"}
            assert isinstance(criterion["passed"], bool)
    first = doc["candidates"][0]
    assert (first["outcome"], first["scope"]) == ("promote as a port UDR", "port")
    assert first["transfer"]["passed"] is False and first["q_value"] <= 0.10
    assert doc["expected_false_promotions"] == pytest.approx(2 * first["p_value"])
    assert doc["retire"] == [{"id": "U-2", "reasons": doc["retire"][0]["reasons"]}]
    assert [r.split(":")[0] for r in doc["retire"][0]["reasons"]] == ["superseded"]
    # U-1 has 2 exams in the last 2 months, below the lenient floor of 3: said, not passed over.
    assert [r["id"] for r in doc["cannot_judge"]] == ["U-1"]


def test_markdown_dossier_explains_every_query_in_table_order(lenient_config, tmp_path):
    out = tmp_path / "dossier.md"
    result = CliRunner().invoke(main, ["candidates", "--config", str(lenient_config), "--format", "markdown",
                                       "--output", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    assert f"- policy hash: `{load_policy(LENIENT).hash}`" in text
    assert "- promotable queries: 1 of 2" in text
    # What to sign comes before the evidence; every query gets a section, in the table's order.
    assert text.index("## To sign") < text.index("## The policy") < text.index("## All active queries")
    assert "- Promote Q-1 \\(Bags at 1111\\) as a UDR at port 1111: meets every criterion" in text
    assert "- Retire U-2 \\(Toys at 1111\\): superseded" in text
    assert "| Q-1 | 1111 | **promote as a port UDR** |" in text
    assert text.index("## Q-1: Bags at 1111") < text.index("## Q-2: Shoes at 2222")
    q1 = text[text.index("## Q-1"):text.index("## Q-2")]
    q2 = text[text.index("## Q-2"):text.index("## UDRs proposed")]
    # Criteria in words with their units and the number needed; no raw dicts or decimals.
    assert ("- ❌ Transfer: outside its port its national projection has an effective sample of 2 "
            "examined shipments, below the evidence floor of 3") in q1
    assert "**To run nationally:** about 1 more examined shipment outside its port" in q1
    assert ("- ✅ Evidence: examined 3 shipments \\(3 needed\\) and found 2 discrepant \\(2 needed\\)"
            in q1)
    assert "q = 0.00107 after Benjamini-Hochberg over the review" in q1
    assert "{" not in q1 + q2 and "0.2077" not in q1
    # A query that is not promoted says what would change the verdict.
    assert "**not yet: fails 5 of 6 criteria" in q2
    assert ("- ❌ Evidence: examined 1 of the 3 shipments needed and found 0 of the 2 discrepant "
            "needed. **To pass:** 2 more examined shipments; and 2 more discrepant finds") in q2
    assert "one-sided p = 0.631, q = 0.631" in q2
    assert "**To pass:** adding a tests.no\\_match example." in q2
    assert "- ✅ Workload: at its port it would flag 0.0 shipments a day" in q2
    assert "**U-2**" in text and "## Sign-off" in text


def test_terminal_table_lists_every_query(lenient_config):
    result = CliRunner().invoke(main, ["candidates", "--config", str(lenient_config)])
    assert result.exit_code == 0, result.output
    assert "Q-1" in result.output and "PROMOTE" in result.output and "Q-2" in result.output
    assert "U-2" in result.output


def test_html_review_is_one_self_contained_page(lenient_config, tmp_path):
    from html.parser import HTMLParser

    out = tmp_path / "review.html"
    result = CliRunner().invoke(main, ["candidates", "--config", str(lenient_config), "--format", "html",
                                       "--output", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")

    class Tags(HTMLParser):
        def __init__(self):
            super().__init__()
            self.tags, self.links = [], []

        def handle_starttag(self, tag, attrs):
            self.tags.append(tag)
            self.links += [v for k, v in attrs if k in ("src", "href")]

    parser = Tags()
    parser.feed(text)
    # nothing to fetch, nothing to run: the only links are to the page's own sections
    assert all(link.startswith("#") for link in parser.links) and "script" not in parser.tags
    assert parser.tags.count("svg") == 2  # the interval chart of every query, Q-1's monthly chart
    assert text.index("To sign") < text.index("The policy") < text.index("All active queries")
    assert "<h2>Q-1: Bags at 1111</h2>" in text and "<h2>Q-2: Shoes at 2222</h2>" in text
    assert "Transfer: outside its port its national projection has an effective sample of 2 " \
           "examined shipments" in text
    assert load_policy(LENIENT).hash[:16] in text and "U-2" in text
