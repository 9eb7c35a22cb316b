"""validate_rules: typing values by the catalogue, warnings, and examples run in both backends."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from targeting.compile.check import check_rules, validate_rules
from targeting.rules.model import All, Example, Leaf, Not, Rule

CATALOGUE = {"port_code": "text", "arrival_date": "date", "declared_value": "number",
             "referred": "bool", "importer_id": "text"}


def rule(where, examples=(), **kw) -> Rule:
    return Rule(id="Q-1", kind="query", title="t", where=where, path="r.yaml", port="4701",
                examples=tuple(examples), **kw)


def test_values_take_the_field_type():
    where = All((Leaf("port_code", "in", (4701, 4702.0)), Leaf("arrival_date", "between",
                 ("2021-01-01", dt.date(2021, 3, 1))), Leaf("port_code", "eq", 4701)))
    typed, problems = validate_rules([rule(where)], CATALOGUE, {})
    assert problems == []
    assert typed[0].where.children == (
        Leaf("port_code", "in", ("4701", "4702")),
        Leaf("arrival_date", "between", (dt.date(2021, 1, 1), dt.date(2021, 3, 1))),
        Leaf("port_code", "eq", "4701"))


def test_rules_with_errors_are_left_out_but_others_kept():
    good, bad = rule(Leaf("port_code", "eq", "1")), rule(Leaf("nope", "eq", "1"))
    typed, problems = validate_rules([good, bad], CATALOGUE, {})
    assert typed == [good] and [p.code for p in problems] == ["unknown-field"]


def test_missing_value_semantics_in_examples():
    # not(in_list) matches a shipment with no importer; the leaf itself does not
    where = Not(Leaf("importer_id", "in_list", "trusted"))
    examples = [Example({}, True), Example({"importer_id": "imp1"}, False),
                Example({"importer_id": "IMP2"}, True)]
    _, problems = validate_rules([rule(where, examples)], CATALOGUE, {"trusted": frozenset({"imp1"})})
    assert problems == []


def test_failing_example_names_its_line():
    from targeting.errors import Location
    examples = [Example({"declared_value": 5}, True, Location("r.yaml", 12, 7))]
    _, problems = validate_rules([rule(Leaf("declared_value", "gt", 10), examples)], CATALOGUE, {})
    assert [str(p) for p in problems] == [
        "r.yaml:12:7: error[example-failed]: the example at line 12 should match but it does "
        "not (in both DuckDB and Polars); it fails on: declared value is more than 10 (false: "
        "the example's declared_value is 5.0)"]


def test_examples_of_many_rules_are_each_judged_against_their_own_rule(monkeypatch):
    """Examples run in batches of rules; every verdict belongs to the example's own rule."""
    import targeting.compile.examples
    from targeting.errors import Location

    def case(i: int, threshold: int, value: int, should: bool) -> Rule:
        ex = Example({"declared_value": value}, should, Location(f"r{i}.yaml", 5, 1))
        return Rule(id=f"Q-{i}", kind="query", title="t", port="4701", path=f"r{i}.yaml",
                    where=Leaf("declared_value", "gt", threshold), examples=(ex,))

    # even rules pass (50 > 10 should match), odd rules fail (50 > 100 should match)
    rules = [case(i, 10 if i % 2 == 0 else 100, 50, True) for i in range(7)]
    for batch in (100, 3, 1):
        monkeypatch.setattr(targeting.compile.examples, "EXAMPLE_BATCH", batch)
        typed, problems = validate_rules(rules, CATALOGUE, {})
        assert [p.location.path for p in problems] == ["r1.yaml", "r3.yaml", "r5.yaml"]
        assert [r.id for r in typed] == ["Q-0", "Q-2", "Q-4", "Q-6"]


def test_examples_can_be_left_unrun_for_reference_rules():
    """`targeting test` compares a rule with the UDRs without running the UDRs' examples."""
    failing = rule(Leaf("declared_value", "gt", 10), [Example({"declared_value": 5}, True)])
    typed, problems = validate_rules([failing], CATALOGUE, {}, run_examples=False)
    assert typed == [failing] and problems == []
    typed, problems = validate_rules([failing], CATALOGUE, {})
    assert typed == [] and [p.code for p in problems] == ["example-failed"]


def test_warnings_for_never_and_always():
    never = All((Leaf("declared_value", "between", (10, 20)), Leaf("declared_value", "gt", 30)))
    always = Leaf("port_code", "contains", "  ")
    _, problems = validate_rules([rule(never), rule(always)], CATALOGUE, {})
    assert [(p.code, p.severity) for p in problems] == [("never-matches", "warning"),
                                                         ("always-matches", "warning")]
    assert "cannot be both gt 30 and between [10, 20]" in problems[0].message


def test_compatible_bounds_do_not_warn():
    where = All((Leaf("declared_value", "ge", 10), Leaf("declared_value", "le", 10),
                 Leaf("declared_value", "eq", 10)))
    assert validate_rules([rule(where)], CATALOGUE, {})[1] == []


def test_metadata_checks():
    udr = Rule(id="U-1", kind="udr", title="t", where=Leaf("port_code", "eq", "1"), path="u.yaml",
               port="4701", priorities=("hong_kong",))
    _, problems = validate_rules([udr], CATALOGUE, {}, priorities=["hong_kong_transshipment"])
    assert [(p.code, p.severity) for p in problems] == [("unknown-priority", "error"),
                                                         ("udr-with-port", "warning")]


def test_check_rules_parses_then_validates(tmp_path: Path):
    (tmp_path / "a.yaml").write_text("id: Q-1\nkind: query\ntitle: t\nport: 1\n"
                                     "where: {declared_value: {gt: '5'}}\n")
    rules, problems = check_rules([tmp_path], CATALOGUE, {})
    assert rules == [] and [p.code for p in problems] == ["bad-value"]
