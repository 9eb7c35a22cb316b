"""The gate's checks on each added, changed and removed rule, on the settings, and on the
ledger's new entries (see docs/gate.md)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from targeting.backtest.window import Window, WindowError
from targeting.data.settings import GateSettings
from targeting.decide import ledger, signing, transaction
from targeting.decide.policy import Policy, effectiveness_threshold, load_policy
from targeting.decide.promotion import LEDGER_NAME, evidence_digest
from targeting.errors import Problem
from targeting.gate.context import GateContext, _errors, _rel
from targeting.gate.registration import register_change, registration_checks
from targeting.gate.result import METRICS, Check, GateResult, RuleChange
from targeting.render.escape import one_line
from targeting.rules.model import Rule


@dataclass
class Branch:
    """What the branch does to the record: the ledger entries it adds, and the UDRs it adds
    and retires (by id), against which each entry must be matched."""

    new: list[ledger.Entry]
    checks: list[Check]
    added_udrs: set[str] = field(default_factory=set)
    retired_udrs: dict[str, Rule] = field(default_factory=dict)  # id -> its base version


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
    branch = _branch(gate)
    rows = [*after_rows.values(), *before_rows.values()]
    baseline = next((r["baseline_hit_rate"] for r in rows if r), None)
    policy = load_policy(gate.project.config.promotion, str(gate.project.config.path))
    result = GateResult(changes.base_ref, changes.base, window, baseline, False)
    for rule_id, rule in sorted(touched_now.items()):
        old = before.get(rule_id) or _same_path_before(gate, rule)
        change = RuleChange(rule_id, rule.kind, "changed" if old else "added", _path(gate, rule),
                            before_rows.get(rule_id), after_rows.get(rule_id))
        result.changes.append(change)
        if rule_id in valid_now and rule_id in valid_before:
            change.targets = gate.differences(valid_now[rule_id], valid_before[rule_id], window)
        if rule_id in valid_now:
            checks += _metric_checks(gate, rule, change, policy, baseline)
        checks += _promotion_checks(gate, rule, old, branch)
        checks += _retirement_checks(gate, rule, old, branch, window)
        checks += _reactivation_checks(gate, rule, old)
    unparsed = set(gate.now.rel.values()) - set(gate.now.rules)
    for rule_id, old in sorted(before.items()):
        if _path(gate, old, base=True) in unparsed:
            continue  # the file is still there but does not parse: its validate check fails
        if rule_id not in touched_now and rule_id not in gate.now.by_id():
            result.changes.append(RuleChange(rule_id, old.kind, "removed", _path(gate, old, True)))
            checks += _retirement_checks(gate, None, old, branch, window)
    checks += registration_checks(gate, touched_now, branch.new)
    result.checks = checks + _policy_checks(gate, branch) + branch.checks + _entry_checks(gate, branch)
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
        low = after["est_hit_rate_low"]
        ok = low is not None and low >= threshold
        checks.append(Check(rule.id, "effectiveness", "pass" if ok else miss,
                            f"estimated precision's lower bound {_pct(low)} {'≥' if ok else '<'} "
                            f"floor {_pct(threshold)} (max of min_hit_rate and lift_factor × the "
                            "population's estimated rate)"
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
    reasons = regression_reasons(gate.settings, rule.kind, before, after)
    old_flags, new_flags = before["flags_per_day"] or 0.0, after["flags_per_day"] or 0.0
    if not reasons:
        return Check(rule.id, "regression", "pass", f"no significant change: estimated precision "
                     f"{_ci(before)} → {_ci(after)}, {old_flags:.1f} → {new_flags:.1f} flags/day",
                     path, line)
    outcome = "fail" if rule.kind == "udr" and rule.is_active else "warn"
    return Check(rule.id, "regression", outcome, "; ".join(reasons), path, line)


def regression_reasons(s: GateSettings, kind: str, before: dict[str, Any],
                       after: dict[str, Any]) -> list[str]:
    """Why the new version regresses: its estimated precision's interval fell wholly below the
    old one, its lower bound fell by more than `max_lower_bound_drop` (absolute), or, for a UDR,
    its flags per day grew by more than `max_workload_growth` (relative: 0.25 allows 100 ->
    125)."""
    reasons = []
    old_low = before["est_hit_rate_low"]
    new_low, new_high = after["est_hit_rate_low"], after["est_hit_rate_high"]
    if old_low is not None and new_high is not None and new_high < old_low:
        reasons.append(f"estimated precision's interval fell wholly below the old one "
                       f"({_ci(after)} vs {_ci(before)})")
    elif old_low is not None and (new_low or 0.0) < old_low - s.max_lower_bound_drop - 1e-12:
        reasons.append(f"estimated precision's lower bound fell by {_pp(old_low - (new_low or 0.0))} "
                       f"({_pct(old_low)} → {_pct(new_low)}; tolerance {_pp(s.max_lower_bound_drop)})")
    old_flags, new_flags = before["flags_per_day"] or 0.0, after["flags_per_day"] or 0.0
    grew = new_flags > old_flags * (1 + s.max_workload_growth) + 1e-12
    if kind == "udr" and grew:
        growth = f"+{new_flags / old_flags - 1:.0%}" if old_flags else "from none"
        reasons.append(f"workload grew {growth} ({old_flags:.1f} → {new_flags:.1f} flags/day; "
                       f"tolerance +{s.max_workload_growth:.0%})")
    return reasons


# ------------------------------------------------------------------------------- ledger

def _branch(gate: GateContext) -> Branch:
    """The ledger's checks (no interrupted command, an intact and signed chain, the base's
    lines kept byte for byte) and the entries the branch adds."""
    path, shown = gate.head.root / LEDGER_NAME, _ledger_rel(gate)
    checks = []
    if transaction.pending(gate.head.root):
        checks.append(Check("ledger", "recover", "fail", f"{transaction.INTENT_NAME} records a "
                            f"command that was interrupted; run `targeting ledger recover`",
                            shown, 1))
    data = path.read_bytes() if path.exists() else b""
    verifier = signing.verifier(gate.project.config, allowed_signers=gate.base.allowed_signers)
    result = ledger.verify(path, signatures=verifier if verifier.configured else None)
    signed = " and signed" if verifier.configured else ""
    checks.append(Check("ledger", "verify", "pass", f"chain intact{signed} ({result.entries} "
                        f"entries)", shown, None) if result.ok else
                  Check("ledger", "verify", "fail", f"`targeting ledger verify` fails: "
                        f"{result.problem}", shown, 1))
    prefix = gate.base.ledger
    if not data.startswith(prefix):
        checks.append(Check("ledger", "history", "fail", _rewritten(path, prefix, data), shown, 1))
        return Branch([], checks)
    try:
        new = ledger.parse_bytes(path, data[len(prefix):])
    except ledger.LedgerError:
        new = []  # verify names the bad line
    checks.append(Check("ledger", "history", "pass", f"the base's {_count(prefix)} entries are "
                        f"kept unchanged; {len(new)} new", shown, None))
    branch = Branch(new, checks)
    _changed_udrs(gate, branch)
    return branch


def _rewritten(path: Path, prefix: bytes, data: bytes) -> str:
    """Why the head's ledger does not extend the base's: which line differs or went missing."""
    old, now = prefix.split(b"\n"), data.split(b"\n")
    for number, (a, b) in enumerate(zip(old, now), start=1):
        if a != b:
            if not b and number == len(now):
                break
            return (f"line {number} differs from the base's ledger: entries already merged were "
                    f"edited or removed (the ledger is append-only; restore it from the base "
                    f"branch and append)")
    missing = _count(prefix) - _count(data)
    return (f"the base's ledger has {_count(prefix)} entries and this branch's only "
            f"{_count(data)}: {max(missing, 1)} merged entries were removed from the end")


def _count(data: bytes) -> int:
    return data.count(b"\n")


def _changed_udrs(gate: GateContext, branch: Branch) -> None:
    """The UDRs the branch adds, and the base's active UDRs it retires or removes."""
    touched = set(gate.changes.added + gate.changes.modified)
    base_udrs = {r.id for r in gate.before.rules.values() if r.kind == "udr"}
    base_udrs |= {r.id for p, r in gate.now.rules.items() if p not in touched and r.kind == "udr"}
    now = gate.now.by_id()
    branch.added_udrs = {i for i, r in now.items() if r.kind == "udr" and i not in base_udrs}
    for old in gate.before.rules.values():
        head = now.get(old.id)
        if old.kind == "udr" and old.is_active and (head is None or not head.is_active):
            branch.retired_udrs[old.id] = old


def _ledger_rel(gate: GateContext) -> str:
    return _rel(gate.head.root / LEDGER_NAME, gate.changes.top)


def _entry_checks(gate: GateContext, branch: Branch) -> list[Check]:
    """Every entry the branch adds must stand for a change the branch makes; an entry for
    nothing (a forged retirement of a UDR that stays, a promotion of no new file) fails."""
    shown, checks, used = _ledger_rel(gate), [], set()
    for i, entry in enumerate(branch.new):
        previous = branch.new[i - 1] if i > 0 else None
        following = branch.new[i + 1] if i + 1 < len(branch.new) else None
        change, problem = _entry_change(gate, branch, entry, (previous, following))
        if change is not None and change in used:
            problem = "a second entry for the same change"
        used.add(change)
        if problem:
            checks.append(Check("ledger", "entries", "fail", f"entry {entry.seq} "
                                f"({_describe(entry)}) matches no change in this branch: {problem}",
                                shown, None))
    if not checks and branch.new:
        checks.append(Check("ledger", "entries", "pass", f"{len(branch.new)} new entries, each "
                            f"for a change in this branch", shown, None))
    return checks


def _entry_change(gate: GateContext, branch: Branch, entry: ledger.Entry,
                  neighbours: tuple[ledger.Entry | None, ledger.Entry | None]) -> tuple[Any, str | None]:
    """(the change the entry records, the reason it matches none); `neighbours` are the new
    entries just before and after it (an override and the action it allows go together)."""
    details, (previous, following) = entry.details, neighbours
    if details.get("override") and entry.action in ("promote", "retire") and not (
            previous is not None and previous.action == "override"
            and previous.subject == entry.subject and previous.details.get("for") == entry.action):
        return None, "it claims an override, but no override entry comes before it"
    if entry.action == "promote":
        udr = details.get("udr")
        if udr in branch.added_udrs:
            return ("promote", udr), None
        return None, f"the branch adds no UDR {udr!r}"
    if entry.action == "retire":
        if entry.subject in branch.retired_udrs:
            return ("retire", entry.subject), None
        return None, f"{entry.subject} is not an active UDR that this branch retires or removes"
    if entry.action == "override":
        if (following is not None and following.subject == entry.subject
                and following.action == details.get("for") and following.details.get("override")):
            return ("override", following.seq), None
        return None, "an override must come with the promotion or retirement it allows"
    if entry.action == "policy-change":
        old, new = gate.base.settings_hash, gate.head.settings_hash
        if old != new and details.get("old") == old and details.get("new") == new:
            return ("policy-change", new), None
        return None, "its settings hashes are not this branch's change of targeting.yaml"
    if entry.action == "register":
        return register_change(gate, entry, [e for e in branch.new if e.seq > entry.seq])
    return None, f"unknown action {entry.action!r}"


def _describe(entry: ledger.Entry) -> str:
    return one_line(f"{entry.action} {entry.subject} by {entry.actor}")


def _new(branch: Branch, action: str, **match: Any) -> list[ledger.Entry]:
    return [e for e in branch.new if e.action == action
            and all((e.details.get(k) if k != "subject" else e.subject) == v for k, v in match.items())]


def _promotion_checks(gate: GateContext, rule: Rule, old: Rule | None,
                      branch: Branch) -> list[Check]:
    """A UDR that was a query, or claims `promoted_from`, needs its `targeting promote` record
    among the branch's new entries, and that record must fit the file and the base's policy."""
    if rule.kind != "udr" or (old is not None and old.kind == "udr"):
        return []
    source = rule.meta.get("promoted_from") or (old.id if old is not None and old.kind == "query"
                                                else None)
    path, line = _path(gate, rule), (rule.loc.line if rule.loc else 1)
    if source is None:
        return [Check(rule.id, "promotion", "warn", "new UDR written by hand: it has no "
                      "promoted_from and no ledger record; UDRs normally come from "
                      "`targeting promote`", path, line)]
    found = _new(branch, "promote", udr=rule.id)
    if not found:
        turned = "turns from query into udr" if old is not None else f"claims promoted_from {source}"
        return [Check(rule.id, "promotion", "fail", f"{turned} but this branch's ledger entries "
                      f"have no promotion of {source} to {rule.id}; promote with `targeting "
                      f"promote {source}` instead of editing the file", path, line)]
    entry = found[-1]
    problems = _promotion_problems(gate, rule, source, entry, branch)
    if problems:
        return [Check(rule.id, "promotion", "fail", f"ledger entry {entry.seq} does not fit: "
                      + "; ".join(problems), path, line)]
    how = f", override: {one_line(entry.details.get('reason'))}" if entry.details.get("override") else ""
    return [Check(rule.id, "promotion", "pass", f"promoted from {source} (ledger entry "
                  f"{entry.seq} by {one_line(entry.actor)}{how})", path, line)]


def _promotion_problems(gate: GateContext, rule: Rule, source: str, entry: ledger.Entry,
                        branch: Branch) -> list[str]:
    problems = []
    if entry.subject != source:
        problems.append(f"it promotes {entry.subject}, not {source}")
    evidence = rule.meta.get("evidence")
    if evidence is None or evidence_digest(evidence) != entry.evidence_digest:
        problems.append("the UDR's evidence block is not the evidence the entry recorded")
    policy = gate.project.config.promotion
    if entry.details.get("policy_hash") != policy.hash:
        problems.append("it was decided under another promotion policy than the base's; promote "
                        "again under the current policy")
    query = gate.now.by_id().get(source) or gate.before.by_id().get(source)
    if query is not None and query.kind == "query" and query.is_active:
        problems.append(f"{source} is still an active query")
    if problems or entry.details.get("override"):
        return problems
    try:
        window = Window.from_dict(entry.details["window"])
    except (KeyError, TypeError, WindowError):
        return ["it records no evidence window"]
    if query is None or query.kind != "query":
        return [f"{source} is not a query in this branch or the base"]
    reference = [r for r in gate.reference() if r.id not in branch.added_udrs]
    failing = gate.verdict(query, window, reference)
    if failing is None:
        return [f"{source} does not validate"]
    if failing:
        problems.append(f"{source} does not meet the base's promotion policy over "
                        f"{window} (fails {', '.join(failing)}); an exception needs "
                        f"`targeting promote --override --reason`")
    return problems


def _retirement_checks(gate: GateContext, rule: Rule | None, old: Rule | None,
                       branch: Branch, window: Window) -> list[Check]:
    """An active UDR that is removed or no longer active needs a `retire` entry among the
    branch's new entries, for a retirement the base's policy proposes or with an override."""
    if old is None or old.kind != "udr" or not old.is_active:
        return []
    if rule is not None and rule.kind == "udr" and rule.is_active:
        return []
    if rule is None:
        path, line, what = _path(gate, old, base=True), 1, "removed"
    else:
        path, line, what = _path(gate, rule), _status_line(rule), f"set to status {rule.status}"
    found = _new(branch, "retire", subject=old.id)
    if not found:
        return [Check(old.id, "retirement", "fail", f"active UDR {what} without a retirement "
                      f"record among this branch's ledger entries; retire it with `targeting "
                      f"retire {old.id} --reviewer NAME --reason ...`", path, line)]
    entry = found[-1]
    if entry.details.get("override"):
        return [Check(old.id, "retirement", "pass", f"{what}; retired in the ledger (entry "
                      f"{entry.seq} by {one_line(entry.actor)}, override: "
                      f"{one_line(entry.details.get('reason'))})", path, line)]
    try:
        recorded = Window.from_dict(entry.details["window"])
    except (KeyError, TypeError, WindowError):
        recorded = window
    udrs = [r for r in gate.reference() if r.id not in branch.added_udrs]
    proposed = gate.proposed_retirements(udrs + list(branch.retired_udrs.values()), recorded)
    if old.id not in proposed:
        return [Check(old.id, "retirement", "fail", f"{what}, but the base's retirement policy "
                      f"does not propose {old.id} over {recorded} (ledger entry {entry.seq} has no "
                      f"override); an exception needs `targeting retire --override`", path, line)]
    return [Check(old.id, "retirement", "pass", f"{what}; retired in the ledger (entry "
                  f"{entry.seq} by {one_line(entry.actor)}): {'; '.join(proposed[old.id])}",
                  path, line)]


def _reactivation_checks(gate: GateContext, rule: Rule, old: Rule | None) -> list[Check]:
    """A retired UDR or a promoted query set back to active by hand: the ledger says otherwise."""
    if old is None or old.status not in ("retired", "promoted") or not rule.is_active:
        return []
    return [Check(rule.id, "status", "fail", f"was {old.status} on the base and is active again: "
                  f"the ledger records it as {old.status}, and a status is changed only by "
                  f"`targeting promote` and `targeting retire`; write a new rule instead",
                  _path(gate, rule), _status_line(rule))]


# ------------------------------------------------------------------------------- settings

def _policy_checks(gate: GateContext, branch: Branch) -> list[Check]:
    """A change of targeting.yaml's governed settings is a policy change: it needs its own
    `targeting policy-change` entry, and does not apply to the branch that makes it."""
    base, head = gate.base.config, gate.head
    if base is not None and base.settings_hash == head.settings_hash:
        return []
    shown = _rel(head.path, gate.changes.top)
    old = base.governed() if base is not None else {}
    sections = [k for k, v in head.governed().items() if old.get(k) != v]
    what = (f"{shown} changes {', '.join(sections)} since the base" if base is not None
            else f"{shown} is new in this branch")
    line = _key_line(head.path, sections[0]) if sections else 1
    found = _new(branch, "policy-change", old=gate.base.settings_hash, new=head.settings_hash)
    if found:
        entry = found[-1]
        return [Check("settings", "policy-change", "pass", f"{what}: recorded by "
                      f"{one_line(entry.actor)} in ledger entry {entry.seq} "
                      f"({one_line(entry.details.get('reason'))}); this branch is still judged "
                      f"by the base's settings", shown, line)]
    return [Check("settings", "policy-change", "fail", f"{what}: a policy change. The gate "
                  f"judges this branch by the base's settings; record the change with `targeting "
                  f"policy-change --reviewer NAME --reason TEXT`", shown, line)]


def _key_line(path: Path, key: str) -> int:
    try:
        with open(path, encoding="utf-8") as handle:
            for number, text in enumerate(handle, start=1):
                if text.startswith(f"{key}:"):
                    return number
    except OSError:
        pass
    return 1


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
    return (f"{_pct(row['est_hit_rate'])} [{_pct(row['est_hit_rate_low'])}, "
            f"{_pct(row['est_hit_rate_high'])}]")
