"""The gate's outputs: terminal text, a pull-request comment, JUnit XML, GitHub annotations, JSON."""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

from targeting.gate.result import Check, GateResult, RuleChange
from targeting.render import escape
from targeting.render.sarif import Finding
from targeting.render.sarif import codequality as codequality_document
from targeting.render.sarif import sarif as sarif_document
from targeting.units import plural

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
        targets = targets_line(change)
        if targets:
            lines.append(f"  {targets}")
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


MARKER = "<!-- targeting-gate -->"  # finds the gate's sticky pull-request comment to update


def markdown(result: GateResult) -> str:
    """The pull-request comment: the verdict and one line per failing rule first, then each
    changed rule's numbers and checks. Starts with a hidden marker, so CI can update one
    sticky comment instead of adding a new one on every push."""
    lines = [MARKER, f"## {'✅' if result.passed else '❌'} targeting gate: {verdict(result)}", ""]
    failing = failing_lines(result)
    if failing:
        lines += [f"- {escape.markdown(line)}" for line in failing] + [""]
    lines += [f"_{escape.markdown(_header(result))}_", ""]
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
    return "\n".join(lines) + "\n"


def failing_lines(result: GateResult) -> list[str]:
    """One line per rule (or ledger, settings) that fails the gate, with each failing check and
    why: 'UDR-0007 fails regression (workload grew ...)'; warnings too when they fail it."""
    fails: dict[str, list[str]] = {}
    for check in result.checks:
        if check.outcome == "fail" or (check.outcome == "warn" and result.fail_on_warnings):
            fails.setdefault(check.rule, []).append(f"{check.name} ({check.message})")
    return [f"{rule} fails {'; '.join(reasons)}" for rule, reasons in fails.items()]


def targets_line(change: RuleChange) -> str | None:
    """'newly targets 1,345 shipments, 12 of them ever examined (3 discrepant); no longer
    targets 0': the evidence there is about what a change adds."""
    if change.targets is None:
        return None
    new, dropped = change.targets["new"], change.targets["dropped"]
    line = (f"newly targets {plural(new['targeted'], 'shipment')}, "
            f"{new['examined']:,} of them ever examined ({new['discrepant']:,} discrepant)")
    if new["targeted"] and not new["examined"]:
        line += ": no evidence about them either way"
    return (f"{line}; no longer targets {plural(dropped['targeted'], 'shipment')} "
            f"({dropped['examined']:,} examined, {dropped['discrepant']:,} discrepant)")


def _markdown_change(result: GateResult, change: RuleChange) -> list[str]:
    lines = [f"### {escape.markdown_code(change.id)} ({change.kind}, {change.change})", "",
             escape.markdown_code(change.path), ""]
    if change.after or change.before:
        lines += ["| metric | before | after |", "|---|---:|---:|"]
        lines += [f"| {label} | {_value(change.before, key)} | {_value(change.after, key)} |"
                  for label, key in ROWS]
        lines.append("")
    targets = targets_line(change)
    if targets:
        lines += [f"It {escape.markdown(targets)}.", ""]
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


def findings(result: GateResult) -> list[Finding]:
    """Each failing or warning check as a finding at its file and line."""
    return [Finding(f"gate/{check.name}", "error" if check.outcome == "fail" else "warning",
                    f"{check.rule}: {check.message}", check.path, check.line)
            for check in result.checks if check.outcome != "pass"]


def sarif(result: GateResult) -> str:
    """`gate --sarif`: SARIF 2.1.0 for code scanning."""
    return sarif_document(findings(result))


def codequality(result: GateResult) -> str:
    """`gate --codequality`: GitLab's Code Quality report."""
    return codequality_document(findings(result))
