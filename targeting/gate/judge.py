"""The gate's checks on each added, changed and removed rule (see docs/gate.md)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from targeting.backtest.window import Window
from targeting.decide import ledger
from targeting.decide.policy import Policy, effectiveness_threshold, load_policy
from targeting.decide.promotion import LEDGER_NAME
from targeting.errors import Problem
from targeting.gate.context import GateContext, _errors, _rel
from targeting.gate.result import METRICS, Check, GateResult, RuleChange
from targeting.rules.model import Rule


def judge(gate: GateContext, window: Window) -> GateResult:
    changes = gate.changes
    touched_now = gate.now.by_id(list(changes.added + changes.modified))
    before = gate.before.by_id()
    checks = _validation_checks(gate)
    valid_now = {i: r for i, r in touched_now.items() if _valid(gate.now_problems, _path(gate, r))}
    valid_before = {i: r for i, r in before.items() if i in touched_now
                    and _valid(gate.before_problems, _path(gate, r, base=True))}
    after_rows = gate.metrics(list(valid_now.values()), window) if valid_now else {}
    before_rows = gate.metrics(list(valid_before.values()), window) if valid_before else {}
    entries, ledger_check = _ledger(gate)
    rows = [*after_rows.values(), *before_rows.values()]
    baseline = next((r["baseline_hit_rate"] for r in rows if r), None)
    policy = load_policy(gate.project.config.promotion, str(gate.project.config.path))
    result = GateResult(changes.base_ref, changes.base, window, baseline, False)
    for rule_id, rule in sorted(touched_now.items()):
        old = before.get(rule_id) or _same_path_before(gate, rule)
        change = RuleChange(rule_id, rule.kind, "changed" if old else "added", _path(gate, rule),
                            before_rows.get(rule_id), after_rows.get(rule_id))
        result.changes.append(change)
        if rule_id in valid_now:
            checks += _metric_checks(gate, rule, change, policy, baseline)
        checks += _promotion_checks(gate, rule, old, entries)
        checks += _retirement_checks(gate, rule, old, entries)
    unparsed = set(gate.now.rel.values()) - set(gate.now.rules)
    for rule_id, old in sorted(before.items()):
        if _path(gate, old, base=True) in unparsed:
            continue  # the file is still there but does not parse: its validate check fails
        if rule_id not in touched_now and rule_id not in gate.now.by_id():
            result.changes.append(RuleChange(rule_id, old.kind, "removed", _path(gate, old, True)))
            checks += _retirement_checks(gate, None, old, entries)
    result.checks = checks + [ledger_check]
    return result


def _path(gate: GateContext, rule: Rule, base: bool = False) -> str:
    side = gate.before if base else gate.now
    return next(p for p, r in side.rules.items() if r is rule)


def _valid(problems: dict[str, list[Problem]], path: str) -> bool:
    return not _errors(problems.get(path, []))


def _same_path_before(gate: GateContext, rule: Rule) -> Rule | None:
    """The base version of the same file when the branch changed the file's id."""
    return gate.before.rules.get(_path(gate, rule))


def _line(rule: Rule) -> int | None:
    loc = getattr(rule.where, "loc", None) or rule.loc
    return loc.line if loc else None


# ------------------------------------------------------------------------------- validation

def _validation_checks(gate: GateContext) -> list[Check]:
    """Errors anywhere fail; warnings count only in files the branch added or changed."""
    touched = set(gate.changes.added + gate.changes.modified)
    ids = {**{path: rule.id for path, rule in gate.before.rules.items()},
           **{path: rule.id for path, rule in gate.now.rules.items()}}
    checks = []
    for path, problems in sorted(gate.now_problems.items()):
        shown = [p for p in problems if p.severity == "error" or path in touched]
        name = ids.get(path, path)
        for p in shown:
            checks.append(Check(name, "validate", "fail" if p.severity == "error" else "warn",
                                f"{p.severity}[{p.code}]: {p.message}", path,
                                p.location.line if p.location else None))
        if path in touched and not shown:
            checks.append(Check(name, "validate", "pass", "valid", path, 1))
    return checks


# ------------------------------------------------------------------------------- metrics

def _metric_checks(gate: GateContext, rule: Rule, change: RuleChange, policy: Policy,
                   baseline: float | None) -> list[Check]:
    path, line, after, before = change.path, _line(rule), change.after, change.before
    assert after is not None, "metric checks need the branch's metrics"
    checks: list[Check] = []
    # A change that leaves what the UDR matches untouched (a title, a rationale) is not blamed for
    # a floor the base version already missed: that is a warning, for retirement review.
    same = before is not None and {k: before[k] for k in METRICS} == {k: after[k] for k in METRICS}
    miss = "warn" if same else "fail"
    note = " (unchanged by this branch; already so on the base)" if same else ""
    if rule.kind == "udr" and rule.is_active:
        threshold = effectiveness_threshold(policy, baseline)
        low = after["hit_rate_low"]
        ok = low is not None and low >= threshold
        checks.append(Check(rule.id, "effectiveness", "pass" if ok else miss,
                            f"hit-rate lower bound {_pct(low)} {'≥' if ok else '<'} floor "
                            f"{_pct(threshold)} (max of min_hit_rate and lift_factor × baseline)"
                            + ("" if ok else note), path, line))
        flags = after["flags_per_day"] or 0.0
        ok = flags <= policy.max_flags_per_day
        checks.append(Check(rule.id, "workload", "pass" if ok else miss,
                            f"{flags:.1f} flags/day {'≤' if ok else '>'} max_flags_per_day "
                            f"{policy.max_flags_per_day:g}" + ("" if ok else note), path, line))
    if before is not None and rule.is_active:
        checks.append(_regression(gate, rule, before, after, path, line))
    return checks


def _regression(gate: GateContext, rule: Rule, before: dict[str, Any], after: dict[str, Any],
                path: str, line: int | None) -> Check:
    """Changed UDR: a significant hit-rate drop or workload growth fails; for a query it warns."""
    s, reasons = gate.settings, []
    old_low, new_low, new_high = before["hit_rate_low"], after["hit_rate_low"], after["hit_rate_high"]
    if old_low is not None and new_high is not None and new_high < old_low:
        reasons.append(f"hit-rate interval fell wholly below the old one "
                       f"({_ci(after)} vs {_ci(before)})")
    elif old_low is not None and (new_low or 0.0) < old_low - s.max_lower_bound_drop - 1e-12:
        reasons.append(f"hit-rate lower bound fell by {_pp(old_low - (new_low or 0.0))} "
                       f"({_pct(old_low)} → {_pct(new_low)}; tolerance {_pp(s.max_lower_bound_drop)})")
    old_flags, new_flags = before["flags_per_day"] or 0.0, after["flags_per_day"] or 0.0
    grew = new_flags > old_flags * (1 + s.max_workload_growth) + 1e-12
    if rule.kind == "udr" and grew:
        growth = f"+{new_flags / old_flags - 1:.0%}" if old_flags else "from none"
        reasons.append(f"workload grew {growth} ({old_flags:.1f} → {new_flags:.1f} flags/day; "
                       f"tolerance +{s.max_workload_growth:.0%})")
    if not reasons:
        return Check(rule.id, "regression", "pass", f"no significant change: hit rate {_ci(before)} "
                     f"→ {_ci(after)}, {old_flags:.1f} → {new_flags:.1f} flags/day", path, line)
    outcome = "fail" if rule.kind == "udr" and rule.is_active else "warn"
    return Check(rule.id, "regression", outcome, "; ".join(reasons), path, line)


# ------------------------------------------------------------------------------- ledger

def _ledger(gate: GateContext) -> tuple[list[ledger.Entry], Check]:
    path = gate.project.config.root / LEDGER_NAME
    shown = _ledger_rel(gate)
    result = ledger.verify(path)
    if not result.ok:
        return _safe_read(path), Check("ledger", "verify", "fail",
                                       f"`targeting ledger verify` fails: {result.problem}", shown, 1)
    return ledger.read(path), Check("ledger", "verify", "pass",
                                    f"chain intact ({result.entries} entries)", shown, None)


def _ledger_rel(gate: GateContext) -> str:
    return _rel(gate.project.config.root / LEDGER_NAME, gate.changes.top)


def _safe_read(path: Path) -> list[ledger.Entry]:
    try:
        return ledger.read(path)
    except ledger.LedgerError:
        return []


def _promotion_checks(gate: GateContext, rule: Rule, old: Rule | None,
                      entries: list[ledger.Entry]) -> list[Check]:
    """A UDR that was a query, or claims `promoted_from`, needs its `targeting promote` record."""
    if rule.kind != "udr":
        return []
    source = rule.meta.get("promoted_from") or (old.id if old is not None and old.kind == "query"
                                                else None)
    path, line = _path(gate, rule), (rule.loc.line if rule.loc else 1)
    if old is not None and old.kind == "udr":
        return []
    if source is None:
        return [Check(rule.id, "promotion", "warn", "new UDR written by hand: it has no "
                      "promoted_from and no ledger record; UDRs normally come from "
                      "`targeting promote`", path, line)]
    found = [e for e in entries if e.action == "promote"
             and (e.details.get("udr") == rule.id or e.subject == source)]
    if found:
        return [Check(rule.id, "promotion", "pass", f"promoted from {source} (ledger entry "
                      f"{found[-1].seq})", path, line)]
    turned = "turns from query into udr" if old is not None else f"claims promoted_from {source}"
    return [Check(rule.id, "promotion", "fail", f"{turned} but the ledger has no promotion of "
                  f"{source}; promote with `targeting promote {source}` instead of editing "
                  f"the file", path, line)]


def _retirement_checks(gate: GateContext, rule: Rule | None, old: Rule | None,
                       entries: list[ledger.Entry]) -> list[Check]:
    """An active UDR that is removed or no longer active needs a `retire` ledger record."""
    if old is None or old.kind != "udr" or not old.is_active:
        return []
    if rule is not None and rule.kind == "udr" and rule.is_active:
        return []
    if rule is None:
        path, line, what = _path(gate, old, base=True), 1, "removed"
    else:
        path, line, what = _path(gate, rule), _status_line(rule), f"set to status {rule.status}"
    found = [e for e in entries if e.action == "retire" and e.subject == old.id]
    if found:
        return [Check(old.id, "retirement", "pass", f"{what}; retired in the ledger (entry "
                      f"{found[-1].seq})", path, line)]
    return [Check(old.id, "retirement", "fail", f"active UDR {what} without a retirement record "
                  f"in the ledger; retire it with `targeting retire {old.id} --reason ...`",
                  path, line)]


def _status_line(rule: Rule) -> int:
    try:
        with open(rule.path, encoding="utf-8") as handle:
            for number, text in enumerate(handle, start=1):
                if text.startswith("status:"):
                    return number
    except OSError:
        pass
    return rule.loc.line if rule.loc else 1


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2%}"


def _pp(value: float) -> str:
    return f"{value * 100:.2f} pp"


def _ci(row: dict[str, Any]) -> str:
    return f"{_pct(row['hit_rate'])} [{_pct(row['hit_rate_low'])}, {_pct(row['hit_rate_high'])}]"
