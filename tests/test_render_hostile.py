"""The same hostile strings pushed through every output: terminal, Markdown, HTML, JUnit XML,
GitHub annotations and JSON. Text a user wrote (titles, owners, reasons, ports, descriptions,
modes, priority and field names) must never change the shape of what is rendered: no escape
sequence reaches a terminal, no rich markup is obeyed, no Markdown heading or table row is
forged, no HTML tag is written, and the XML parses.
"""
from __future__ import annotations

import json
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from xml.sax.saxutils import escape as xml_escape
from xml.sax.saxutils import quoteattr

import pytest
from click.testing import CliRunner
from gate_project import git, make_project
from rich.text import Text

from targeting.cli import main
from targeting.render import escape

POLICY = Path(__file__).parent / "data" / "policy"
HOSTILE = [
    "[/bold]",
    "[link=https://evil.example]click[/link]",
    "\x1b[31mred\x1b[0m \x1b[2J",
    "\x1b]8;;https://evil.example\x07link\x1b]8;;\x07",
    "<script>alert(1)</script>",
    "line one\n# Fake heading\n| a | b |",
    "nul\x00 bell\x07 vt\x0b ff\x0c cr\r del\x7f c1\x9b",
    "\u202egnp.exe \u2066x\u2069 \u2028",
    ":warning: :smile:",
    "%0A::error::forged,file=x:y",
    "`tick` ``two``",
    "**bold** _it_ <b>b</b> &amp; \\",
]
TITLE = " ".join(HOSTILE)
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


# --- each helper on each string --------------------------------------------------------------

@pytest.mark.parametrize("text", HOSTILE)
def test_terminal_shows_the_text_and_obeys_none_of_it(text):
    shown = escape.terminal(text)
    assert not CONTROL.search(shown.replace("\n", "").replace("\t", ""))
    # as renderers use it: inside markup (a trailing backslash is doubled so it cannot escape
    # the tag after it)
    assert Text.from_markup(f"[bold]{shown}[/bold]", emoji=False).plain == escape.plain(text)


@pytest.mark.parametrize("text", HOSTILE)
def test_one_line_and_plain(text):
    assert not re.search(r"[\r\n\t]", escape.one_line(text))
    assert not CONTROL.search(escape.plain(text).replace("\n", "").replace("\t", ""))


@pytest.mark.parametrize("text", HOSTILE)
def test_markdown_is_one_inert_line(text):
    shown = escape.markdown(text)
    assert "\n" not in shown and "\r" not in shown and "<" not in shown
    assert not re.search(r"(?<!\\)[|#`*_\[\]]", shown)
    code = escape.markdown_code(text)
    fence = re.match(r"`+", code).group(0)
    assert "\n" not in code and code.endswith(fence) and fence not in code[len(fence):-len(fence)]


@pytest.mark.parametrize("text", HOSTILE)
def test_html_xml_and_github(text):
    assert not re.search(r"[<>\"]", escape.html_text(text))
    cleaned = escape.xml(text)
    ET.fromstring(f"<a b={quoteattr(cleaned)}>{xml_escape(cleaned)}</a>")
    assert not re.search(r"[\r\n]", escape.github(text))
    assert not re.search(r"[\r\n:,]", escape.github_property(text))


# --- every output of the commands ------------------------------------------------------------

def _yaml_text(text: str) -> str:
    return json.dumps(text)  # JSON's escaped ASCII string is a YAML double-quoted scalar


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """The policy project with hostile titles, owner, rationale, port, priorities and data."""
    root = tmp_path_factory.mktemp("hostile") / "project"
    shutil.copytree(POLICY, root)
    priorities = [HOSTILE[0], HOSTILE[4], "plain"]
    lenient = {"min_examined": 3, "min_discrepant": 2, "min_hit_rate": 0.1, "lift_factor": 0.0,
               "min_ports": 3, "min_months": 2, "recent_months": 2, "min_unique": 2,
               "max_flags_per_day": 1}  # tests/test_policy.py's LENIENT: Q-1 is promotable
    config = root / "targeting.yaml"
    config.write_text(f"priorities: {json.dumps(priorities)}\n" + config.read_text()
                      + "".join(f"  {k}: {v}\n" for k, v in lenient.items()))
    query = root / "queries" / "q-1.yaml"
    query.write_text(query.read_text().replace("title: Bags at 1111", f"title: {_yaml_text(TITLE)}\n"
                     f"owner: {_yaml_text(HOSTILE[1])}\nrationale: {_yaml_text(HOSTILE[5])}\n"
                     f"priorities: {json.dumps(priorities[:2])}"))
    for name in ("u-1.yaml", "u-2.yaml"):
        udr = root / "rules" / name
        udr.write_text(re.sub(r"title: .*", lambda _: f"title: {_yaml_text(TITLE)}", udr.read_text()))
    manifest = root / "manifest.csv"
    hostile_value = '"' + ("BAG " + TITLE).replace('"', '""').replace("\x00", "") + '"'
    manifest.write_text(manifest.read_text().replace(",BAG", "," + hostile_value)
                        .replace(",express,", ',"express\x1b[31m[/bold]",', 1))
    return root


def _run(project: Path, *args: str, columns: int = 80) -> str:
    result = CliRunner().invoke(main, [*args, "--config", str(project / "targeting.yaml")],
                                env={"COLUMNS": str(columns)})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code == 0, result.output
    return result.output


def _inert_terminal(out: str) -> None:
    assert not CONTROL.search(out.replace("\n", "").replace("\t", "")), repr(out[:2000])


TERMINAL = [("test", "Q-1"), ("candidates",), ("evaluate",), ("coverage",), ("data", "check")]


@pytest.mark.parametrize("args", TERMINAL, ids=" ".join)
def test_terminal_outputs(project, args):
    out = _run(project, *args)
    _inert_terminal(out)
    if args[0] in ("test", "coverage"):
        assert "[/bold]" in out  # shown as written, not read as markup


def test_the_officer_screen_shows_the_title_and_the_hostile_data(project):
    out = _run(project, "test", "Q-1", columns=1000)
    assert "[link=https://evil.example]click[/link]" in out and "<script>" in out
    assert "\u26a0" not in out and "\U0001f604" not in out  # :warning: and :smile: are no emoji


def _markdown_is_inert(text: str) -> None:
    assert "<script>" not in text and "<b>" not in text
    assert not any(line.startswith("# Fake") for line in text.splitlines())
    _inert_terminal(text)
    block: list[int] = []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            block.append(len(re.findall(r"(?<!\\)\|", line)))
        elif block:
            assert len(set(block)) == 1, f"a table row has another number of cells: {block}"
            block = []


@pytest.mark.parametrize("args", [("candidates", "--format", "markdown"),
                                  ("evaluate", "--format", "markdown"),
                                  ("coverage", "--format", "markdown")], ids=lambda a: a[0])
def test_markdown_outputs(project, args):
    out = _run(project, *args)
    _markdown_is_inert(out)


def test_the_dossier_has_the_hostile_title_escaped(project):
    out = _run(project, "candidates", "--format", "markdown")
    assert "## Q\\-1:" in out or "## Q-1:" in out
    assert "&lt;script&gt;" in out


def test_html_dossier(project):
    out = _run(project, "candidates", "--format", "html")
    assert "<script>" not in out and "&lt;script&gt;" in out
    _inert_terminal(out)


def test_json_outputs_keep_the_text_as_data(project):
    doc = json.loads(_run(project, "test", "Q-1", "--format", "json"))
    assert doc["title"] == TITLE
    json.loads(_run(project, "candidates", "--format", "json"))


def test_validate_text_and_github_annotations(project, tmp_path):
    udr = project / "rules" / "u-1.yaml"
    saved = udr.read_text()
    udr.write_text(saved.replace("created:", f"port: {_yaml_text(HOSTILE[9] + HOSTILE[5])}\ncreated:"))
    try:
        text = _run(project, "validate")
        _inert_terminal(text)
        assert all(line.startswith(("rules/", str(project))) or "::" not in line
                   for line in text.splitlines())
        github = _run(project, "validate", "--format", "github")
        assert github.strip() and all(line.startswith("::warning ") for line in github.splitlines())
    finally:
        udr.write_text(saved)


def test_ledger_table_after_a_hostile_retirement(tmp_path, project):
    """The writing commands refuse control characters in names and reasons (docs/ledger.md), so
    markup goes through `retire` and escape sequences are appended as an editor could write
    them; `ledger show` renders both inert."""
    from targeting.decide import ledger

    root = tmp_path / "copy"
    shutil.copytree(project, root)
    result = CliRunner().invoke(main, ["retire", "U-2", "--reviewer", HOSTILE[0] + HOSTILE[1],
                                       "--reason", HOSTILE[4],
                                       "--config", str(root / "targeting.yaml")])
    assert result.exit_code == 0, result.output
    ledger.append(root / "ledger.jsonl", actor=HOSTILE[2] + HOSTILE[3], action="note",
                  subject=HOSTILE[6], details={"reason": HOSTILE[5]})
    out = _run(root, "ledger", "show")
    _inert_terminal(out)
    assert "[/bold]" in out


# --- the gate: JUnit XML, GitHub annotations and the pull-request comment ---------------------

@pytest.fixture(scope="module")
def gate_repo(tmp_path_factory) -> Path:
    return make_project(tmp_path_factory.mktemp("gate") / "repo")


def test_gate_outputs_with_a_control_character_in_a_field_name(gate_repo, tmp_path, monkeypatch):
    root = tmp_path / "repo"
    shutil.copytree(gate_repo, root, symlinks=True)
    monkeypatch.chdir(root)
    udr = root / "rules" / "udr-0002.yaml"
    udr.write_text(udr.read_text().replace("title: Lamps from CN", f"title: {_yaml_text(TITLE)}")
                   .replace("    - country_of_origin: CN\n",
                            f"    - {_yaml_text('country' + chr(1) + HOSTILE[4] + HOSTILE[5])}: CN\n"))
    git(root, "add", ".")
    md, junit = root / "out" / "comment.md", root / "out" / "junit.xml"
    result = CliRunner().invoke(main, ["gate", "--config", str(root / "targeting.yaml"),
                                       "--markdown", str(md), "--junit", str(junit),
                                       "--format", "github"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code == 1, result.output
    assert all(line.startswith("::") for line in result.stdout.splitlines() if line.strip())
    suite = ET.parse(junit).getroot()  # parses: no character XML forbids
    assert suite.find("testsuite") is not None
    _markdown_is_inert(md.read_text(encoding="utf-8"))
