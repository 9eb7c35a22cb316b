"""The gate's outputs: terminal text, a pull-request comment, JUnit XML, GitHub annotations, JSON."""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

from targeting.gate.result import Check, GateResult, RuleChange
from targeting.render import escape

ROWS = (("targeted", "targeted"), ("flags/day", "flags_per_day"),
        ("estimated precision (95% CI)", "est_hit_rate"), ("observed hit rate (95% CI)", "hit_rate"),
        ("estimated lift", "est_lift"), ("unique discrepant", "unique_discrepant"))


def verdict(result: GateResult) -> str:
    fails, warns = len(result.failures), len(result.warnings)
    counts = f"{fails} failure{'s' * (fails != 1)}, {warns} warning{'s' * (warns != 1)}"
    extra = " (warnings fail: --fail-on-warnings)" if result.fail_on_warnings and warns else ""
    return f"{'PASS' if result.passed else 'FAIL'}: {counts}{extra}"


def _value(row: dict[str, Any] | None, key: str) -> str:
    if row is None:
        return "—"
    if key in ("hit_rate", "est_hit_rate"):
        if row.get(key) is None:
            return "n/a"
        return f"{row[key]:.2%} [{row[key + '_low']:.2%}, {row[key + '_high']:.2%}]"
    value = row.get(key)
    if value is None:
        return "n/a"
    if key in ("flags_per_day", "lift", "est_lift"):
        return f"{value:.2f}"
    return f"{value:,}"


def _header(result: GateResult) -> str:
    window = f"{result.window.since} to {result.window.until}" if result.window else "n/a"
    base = f"{result.base_ref} ({result.base[:10]})"
    baseline = f"{result.baseline_hit_rate:.2%}" if result.baseline_hit_rate is not None else "n/a"
    return f"base {base}; window {window}; population rate (estimate) {baseline}"


def text(result: GateResult) -> str:
    lines = [f"targeting gate: {escape.one_line(_header(result))}"]
    if not result.changes:
        lines.append("no rule or query files added, changed or removed")
    for change in result.changes:
        lines.append(f"\n{escape.one_line(change.id)} ({change.kind}, {change.change}) "
                     f"{escape.one_line(change.path)}")
        if change.after or change.before:
            for label, key in ROWS:
                lines.append(f"  {label:<20} {_value(change.before, key):>28}  →  "
                             f"{_value(change.after, key)}")
        for check in _checks_of(result, change.id):
            lines.append(f"  {_mark(check)} {check.name}: {escape.one_line(check.message)}")
    others = [c for c in result.checks if c.rule not in {ch.id for ch in result.changes}
              and c.outcome != "pass"]
    if others:
        lines.append("")
        lines += [f"{_mark(c)} {escape.one_line(c.rule)} {c.name}: {escape.one_line(c.message)} "
                  f"({escape.one_line(c.path)}:{c.line or 1})" for c in others]
    lines.append(f"\n{verdict(result)}  (cache: {result.cache_hits} hits, "
                 f"{result.cache_misses} misses)")
    return "\n".join(lines)


def _checks_of(result: GateResult, rule_id: str) -> list[Check]:
    return [c for c in result.checks if c.rule == rule_id]


def _mark(check: Check) -> str:
    return {"pass": "ok  ", "fail": "FAIL", "warn": "warn"}[check.outcome]


def markdown(result: GateResult) -> str:
    lines = ["## targeting gate", "", f"_{escape.markdown(_header(result))}_", ""]
    if not result.changes:
        lines += ["No rule or query files added, changed or removed.", ""]
    for change in result.changes:
        lines += _markdown_change(result, change)
    others = [c for c in result.checks if c.rule not in {ch.id for ch in result.changes}
              and c.outcome != "pass"]
    if others:
        lines += ["### Other findings", ""]
        lines += [f"- {_icon(c)} {escape.markdown_code(f'{c.path}:{c.line or 1}')} "
                  f"{escape.markdown(c.name)}: {escape.markdown(c.message)}" for c in others]
        lines.append("")
    lines.append(f"**{'✅' if result.passed else '❌'} {verdict(result)}**")
    return "\n".join(lines) + "\n"


def _markdown_change(result: GateResult, change: RuleChange) -> list[str]:
    lines = [f"### {escape.markdown_code(change.id)} ({change.kind}, {change.change})", "",
             escape.markdown_code(change.path), ""]
    if change.after or change.before:
        lines += ["| metric | before | after |", "|---|---:|---:|"]
        lines += [f"| {label} | {_value(change.before, key)} | {_value(change.after, key)} |"
                  for label, key in ROWS]
        lines.append("")
    lines += [f"- {_icon(c)} {escape.markdown(c.name)}: {escape.markdown(c.message)}"
              for c in _checks_of(result, change.id)]
    return lines + [""]


def _icon(check: Check) -> str:
    return {"pass": "✅", "fail": "❌", "warn": "⚠️"}[check.outcome]




def junit(result: GateResult) -> str:
    """One <testcase> per rule and check; failures (and warnings, when they fail) as <failure>."""
    suite = ET.Element("testsuite", name="targeting gate", tests=str(len(result.checks)))
    failing = 0
    for check in result.checks:
        case = ET.SubElement(suite, "testcase", classname=escape.xml(check.rule),
                             name=escape.xml(check.name), file=escape.xml(check.path or ""),
                             line=str(check.line or 1))
        fails = check.outcome == "fail" or (check.outcome == "warn" and result.fail_on_warnings)
        message = escape.xml(check.message)
        if fails:
            failing += 1
            ET.SubElement(case, "failure", message=message,
                          type="warning" if check.outcome == "warn" else "error").text = message
        else:
            ET.SubElement(case, "system-out").text = f"{check.outcome}: {message}"
    suite.set("failures", str(failing))
    suite.set("errors", "0")
    root = ET.Element("testsuites", name="targeting gate")
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def github(result: GateResult) -> str:
    """Workflow commands GitHub Actions turns into annotations on the pull request's files."""
    lines = []
    for check in result.checks:
        if check.outcome == "pass":
            continue
        level = "error" if check.outcome == "fail" else "warning"
        props = [f"file={escape.github_property(check.path)}"] if check.path else []
        props += [f"line={check.line or 1}",
                  f"title={escape.github_property(f'gate {check.name}: {check.rule}')}"]
        lines.append(f"::{level} {','.join(props)}::{escape.github(check.message)}")
    lines.append(f"::notice title=targeting gate::{escape.github(verdict(result))}")
    return "\n".join(lines)




def as_json(result: GateResult) -> str:
    doc: dict[str, Any] = {
        "passed": result.passed, "verdict": verdict(result), "base_ref": result.base_ref,
        "base": result.base, "window": result.window.as_dict() if result.window else None,
        "baseline_hit_rate": result.baseline_hit_rate, "fail_on_warnings": result.fail_on_warnings,
        "changes": [vars(c) for c in result.changes],
        "checks": [vars(c) for c in result.checks],
        "cache": {"hits": result.cache_hits, "misses": result.cache_misses},
    }
    return json.dumps(doc, indent=2, default=str) + "\n"
