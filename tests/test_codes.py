"""Every problem code the source can report has an explanation (`targeting explain CODE`)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from targeting.cli import main
from targeting.codes import CODES

SOURCE = Path(__file__).parent.parent / "targeting"
CORPUS = Path(__file__).parent / "broken_rules"
_CODE = r"\"([a-z0-9]+(?:-[a-z0-9]+)*)\""
# The ways the source names a code: the first argument of a Problem, DataProblem, LimitProblem
# or the loader's self.error; the code returned beside a message (reading.py) or passed to an
# InvalidValue or a data check, or before the message of a check; a warning's text; and the
# codes built from a name.
PATTERNS = [
    re.compile(r"(?:Problem|self\.error)\(\s*" + _CODE),
    re.compile(r"InvalidValue\([^;]*?,\s*" + _CODE + r"\)", re.S),
    re.compile(r"\.\"\s*,\s*" + _CODE + r"\)"),
    re.compile(r"\[\],\s*" + _CODE),
    re.compile(r"\[list\(allowed\)\],\s*" + _CODE),
    re.compile(r"(?:warning|error)\[([a-z0-9-]+)\]"),
]
# The data checks pass a code and then its message to a helper.
CODE_THEN_MESSAGE = re.compile(r"\"([a-z0-9]+(?:-[a-z0-9]+)+)\",\s*(?:f\"|\"|lambda )")
CHECK_MODULES = ("data/checks.py", "data/plausible.py")
BUILT = {"bad-kind", "bad-status", "duplicate-shipment-id", "duplicate-exam-id"}


def reported_codes() -> set[str]:
    found = set(BUILT)
    for path in SOURCE.rglob("*.py"):
        if path.name == "codes.py":
            continue
        text = path.read_text(encoding="utf-8")
        for pattern in PATTERNS:
            found |= set(pattern.findall(text))
        if path.as_posix().endswith(CHECK_MODULES):
            found |= set(CODE_THEN_MESSAGE.findall(text))
        for table in re.findall(r"TYPE_CODES = \{([^}]*)\}", text):  # a SQL type to its code
            found |= set(re.findall(r":\s*" + _CODE, table))
    for expected in CORPUS.glob("*.expected"):
        found |= set(re.findall(r"(?:error|warning)\[([a-z0-9-]+)\]", expected.read_text()))
    return found


def test_every_code_the_source_reports_is_explained():
    found = reported_codes()
    assert {"unknown-value", "yaml-indent", "example-failed", "bad-probability", "ragged-row",
            "window-clipped", "early-arrival"} <= found  # the scan sees every kind of code
    assert sorted(found - set(CODES)) == []


def test_every_explained_code_is_reported_somewhere():
    assert sorted(set(CODES) - reported_codes()) == []


@pytest.mark.parametrize("code", sorted(CODES))
def test_explain_prints_meaning_and_fix(code):
    result = CliRunner().invoke(main, ["explain", code])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith(f"{code} (") and CODES[code].meaning in result.output
    assert f"How to fix it: {CODES[code].fix}" in result.output


def test_explain_takes_the_code_as_printed_and_suggests_on_a_typo():
    result = CliRunner().invoke(main, ["explain", "warning[unknown-value]"])
    assert result.exit_code == 0 and result.output.startswith("unknown-value (rule values)")
    result = CliRunner().invoke(main, ["explain", "unknown-valeu"])
    assert result.exit_code == 2
    assert "no problem code 'unknown-valeu' (did you mean 'unknown-value'?)" in result.output
    listing = CliRunner().invoke(main, ["explain"])
    assert listing.exit_code == 0 and len(listing.output.splitlines()) == len(CODES)
