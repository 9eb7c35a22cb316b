"""Every problem code the tool reports (`error[code]`, `warning[code]`), with what it means and
how to fix it: what `targeting explain CODE` prints, and the SARIF rules' descriptions.

tests/test_codes.py finds every code the source can report and fails on one missing here.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Code:
    """One code: where it comes from, what it means, and how to fix it."""

    area: str  # rule file, rule values, examples, data, run
    meaning: str
    fix: str


def _c(area: str, meaning: str, fix: str) -> Code:
    return Code(area, meaning, fix)


R, V, E, D = "rule file", "rule values", "examples", "data"
CODES: dict[str, Code] = {
    # --- reading a rule file
    "unreadable": _c(R + " or data", "The file cannot be opened or read.",
                     "Check that it exists and that you may read it."),
    "file-too-large": _c(R, "The rule file is larger than limits.max_file_bytes.",
                         "Move long value lists to a list file under lists/ and use in_list or "
                         "contains_list."),
    "not-utf8": _c(R, "The file is not UTF-8 text.", "Save it as UTF-8 in your editor."),
    "yaml-syntax": _c(R, "The file is not valid YAML: a key without ':', a quote or bracket left "
                         "open, or two documents in one file.",
                      "Go to the line named and correct it; quote values that contain ': '."),
    "yaml-indent": _c(R, "A line is indented so that it lines up with nothing above it (or more "
                         "than the key above it), so YAML cannot tell where it belongs.",
                      "Indent every key of a mapping by exactly the same number of spaces, and "
                      "list items ('- ') under their key."),
    "yaml-tab": _c(R, "A tab character is used for indentation.",
                   "YAML indents with spaces only; replace the tab with spaces."),
    "bad-yaml-value": _c(R, "A value YAML cannot build: an impossible date such as 2024-02-30, or "
                            "a !!tag that rule files do not allow.",
                         "Write a real date as YYYY-MM-DD, or quote the value if it is text."),
    "merge-key": _c(R, "A YAML merge key (<<) is used.", "Write the keys out in full."),
    "too-deep": _c(R, "The YAML nests deeper than limits.max_depth.",
                   "Flatten the conditions: combine siblings under one all: or any:."),
    "too-many-nodes": _c(R, "The YAML expands to more values than limits allow (often an alias "
                            "used many times).", "Write the file without aliases (&name, *name)."),
    "recursive-alias": _c(R, "An alias refers to itself.", "Remove the alias (*name)."),
    "empty-file": _c(R, "The file is empty.", "A rule needs at least id, kind, title and where."),
    "expected-mapping": _c(R, "A part of the rule that must be key: value pairs is not.",
                           "Write it as a mapping (key: value on separate lines)."),
    "expected-list": _c(R, "A part of the rule that must be a list is not.",
                        "Write it as a list, such as [a, b] or lines starting with '- '."),
    "bad-key": _c(R, "A key is not text (a number, a list).", "Use a text key."),
    "duplicate-key": _c(R, "The same key appears twice in one mapping.", "Keep one of them."),
    "unknown-key": _c(R, "A key that rule files do not have (often a typo).",
                      "Use one of the keys named in the message; see docs/rules.md."),
    "missing-key": _c(R, "A required key (id, kind, title, where) is missing.",
                      "Add it at the top level."),
    "bad-id": _c(R, "The id is not capitals, digits and single dashes.",
                 "Use an id such as Q-4701-0012 or UDR-0007."),
    "bad-kind": _c(R, "kind is neither query nor udr.", "Write kind: query or kind: udr."),
    "bad-status": _c(R, "status is not draft, active, promoted or retired.",
                     "Use one of those statuses."),
    "bad-date": _c(R + " or data", "A value is not a date.", "Write dates as YYYY-MM-DD."),
    "bad-value": _c(R + " or data", "A value of the wrong kind: text where a number is needed, "
                                    "true/false read from an unquoted NO or yes, or (in data) a "
                                    "value outside the allowed vocabulary.",
                    "Give a value of the field's type; quote text such as 'NO'."),
    "duplicate-id": _c(R, "Two rule files declare the same id.", "Give each rule its own id."),
    "empty-predicate": _c(R, "A condition or combinator is empty.",
                          "Give at least one condition (field: value)."),
    "unknown-operator": _c(R, "An operator that does not exist (often a typo).",
                           "Use one of eq, ne, in, not_in, lt, le, gt, ge, between, contains, "
                           "contains_any, contains_all, startswith, startswith_any, endswith, "
                           "matches, is_null, in_list, contains_list, startswith_list."),
    "bad-operand": _c(R, "An operator's value has the wrong shape (between needs [low, high]).",
                      "Give the value the operator expects; see docs/rules.md."),
    "too-many-values": _c(R, "An inline list is longer than limits allow.",
                          "Put the values in a list file under lists/ and use in_list."),
    "too-many-conditions": _c(R, "where has more conditions than limits allow.",
                              "Split the rule, or use a list file for long value lists."),
    "unknown-priority": _c(R, "A priority not in targeting.yaml's priorities.",
                           "Use a configured priority, or add it to targeting.yaml."),
    "udr-with-port": _c(R, "A UDR names a port, but UDRs are national.",
                        "Remove port, or make the rule kind: query."),
    "query-without-port": _c(R, "A query has no port.", "Add port: <port code>."),
    "promotion": _c(R, "The UDR that promote would write does not validate.",
                    "Fix the query it is promoted from, then promote again."),
    # --- values against the data's fields
    "unknown-field": _c(V, "A field the data does not have (often a typo).",
                        "Use a field that `targeting data check` lists."),
    "operator-type": _c(V, "An operator that does not apply to the field's type (lt on text).",
                        "Use an operator for that type; the message lists them."),
    "unknown-list": _c(V, "A list operator names a list file that does not exist.",
                       "Add lists/<name>.txt or use a listed name."),
    "bad-regex": _c(V, "A pattern that does not compile, or compiles differently in DuckDB and "
                       "Polars.", "Simplify the pattern; see the regex section of docs/rules.md."),
    "never-matches": _c(V, "The conditions contradict each other: the rule can match nothing.",
                        "Correct the contradiction the message names."),
    "always-matches": _c(V, "The conditions match every shipment.", "Narrow the rule."),
    "unknown-value": _c(V, "A value the field never holds in the data (mode: expres), so the "
                           "condition matches nothing (or, for ne / not_in, everything).",
                        "Use a value the data has: the message suggests the closest, and "
                        "`targeting data check` lists each field's values."),
    "outcome-field": _c(V, "The rule tests the outcome label itself (labelled data).",
                        "Use fields known before the exam."),
    # --- examples
    "example-failed": _c(E, "An example in tests: does not give the answer it should; the message "
                            "names the conditions that decided it.",
                         "Correct the rule or the example."),
    "example-field": _c(E, "An example uses a field the data does not have.",
                        "Use the data's field names."),
    "example-value": _c(E, "An example's value has the wrong type for its field.",
                        "Give a value of the field's type."),
    # --- data files
    "empty-table": _c(D, "A data file has no rows.", "Point data.manifest / data.exams at the "
                                                     "right files."),
    "missing-column": _c(D, "A column the data contract requires is missing.",
                         "Add it, or map your column to it under data.columns."),
    "empty-value": _c(D, "A required column has empty values.", "Fill them in at the source."),
    "bad-number": _c(D, "Values that are not numbers in a number column.",
                     "Use plain numbers such as 1234.5."),
    "bad-bool": _c(D, "Values that are not true/false.", "Use true or false."),
    "bad-probability": _c(D, "A selection probability outside (0, 1].",
                          "Log the probability the shipment had of being examined."),
    "negative-value": _c(D, "A negative amount (value, weight, quantity).", "Correct the source."),
    "date-order": _c(D, "A date earlier than the date it must follow (a referral before its exam).",
                     "Correct the dates."),
    "duplicate-shipment-id": _c(D, "The same shipment_id on several manifest rows.",
                                "Keep one row per shipment."),
    "duplicate-exam-id": _c(D, "The same exam_id on several exam rows.", "Keep one row per exam."),
    "unknown-shipment": _c(D, "Exams of shipments the manifest does not have.",
                           "Export the manifest and exams for the same period."),
    "early-arrival": _c(D, "Arrival dates before data.earliest.",
                        "Correct them, or set data.checks.earliest."),
    "future-arrival": _c(D, "Arrival dates after the data was extracted.",
                         "Correct them, or set data.extracted."),
    "ragged-row": _c(D, "A CSV row with more or fewer fields than the header.",
                     "Quote values that contain the delimiter."),
    "encoding": _c(D, "A CSV file that is not UTF-8.",
                   "Save it as UTF-8, or give its encoding (encoding: latin-1)."),
    "line-too-long": _c(D, "A CSV row longer than the most one row may have (usually an open "
                           "quote).", "Check the quotes on that line."),
    "unterminated-quote": _c(D, "A CSV quote that is never closed.",
                             "Close it, or double a quote inside a value (\"\")."),
    # --- running
    "window-clipped": _c("run", "The window asked for reaches beyond the data; it was clipped.",
                         "Choose dates within the data, or ignore the warning."),
}


def explain(code: str) -> Code | None:
    """The explanation of a code, or None."""
    return CODES.get(code)
