"""The gate's view of `register` entries (docs/gate.md): each one must register a predicate of
the branch that the base had not registered, dated no earlier than the base; and where the
base's evidence source is `ledger`, every added or changed active query must be registered."""
from __future__ import annotations

from typing import Any

from targeting.decide import ledger
from targeting.decide.versions import REGISTER, Appeared, commit_day, current_hash, registrations
from targeting.gate.context import GateContext
from targeting.gate.result import Check
from targeting.rules.model import Rule


def register_change(gate: GateContext, entry: ledger.Entry,
                    later: list[ledger.Entry]) -> tuple[Any, str | None]:
    """(the change a `register` entry records, or why it records none); `later` are the
    branch's entries after it (one that registers the same rule again supersedes it)."""
    day, since = entry.at[:10], commit_day(gate.changes.top, gate.changes.base)
    if since is not None and day < since.isoformat():
        return None, (f"it is dated {day}, before the base commit it was added to ({since}): a "
                      f"registration cannot be backdated")
    rule, held = gate.now.by_id().get(entry.subject), entry.details.get("hash")
    if rule is None:
        return None, f"{entry.subject} is not a rule in this branch"
    if any(e.action == REGISTER and e.subject == entry.subject for e in later):
        return (REGISTER, entry.seq), None  # an earlier version of the branch's predicate
    if held != current_hash(rule, gate.project.config):
        return None, f"its hash is not the predicate of {entry.subject} in this branch"
    base = _base_registrations(gate).get(entry.subject)
    if base is not None and base.hash == held:
        return None, f"the base registered this predicate already ({base.ref})"
    return (REGISTER, entry.seq), None


def registration_checks(gate: GateContext, rules: dict[str, Rule],
                        new: list[ledger.Entry]) -> list[Check]:
    """With the base's evidence source `ledger`, each added or changed active query's current
    predicate must be registered (the base's entries and the branch's); otherwise it would
    reach the base with no date to count its evidence from."""
    if gate.project.config.promotion.evidence_source != "ledger":
        return []
    held = {**_base_registrations(gate), **registrations(new)}
    checks = []
    for rule_id, rule in sorted(rules.items()):
        if rule.kind != "query" or not rule.is_active:
            continue  # only a query's evidence is dated (a UDR is judged on the whole window)
        now, path = current_hash(rule, gate.project.config), _rel(gate, rule)
        if now is not None and rule_id in held and held[rule_id].hash == now:
            checks.append(Check(rule_id, "registration", "pass", f"predicate registered "
                                f"({held[rule_id].ref})", path, 1))
        else:
            checks.append(Check(rule_id, "registration", "fail", "its current predicate is not "
                                "registered in the ledger (the base's evidence source); run "
                                "`targeting register` and commit ledger.jsonl", path, 1))
    return checks


def _base_registrations(gate: GateContext) -> dict[str, Appeared]:
    try:
        entries = ledger.parse_bytes(gate.head.root / ledger.LEDGER_NAME, gate.base.ledger)
    except ledger.LedgerError:
        return {}
    return registrations(entries)


def _rel(gate: GateContext, rule: Rule) -> str:
    return next(p for p, r in gate.now.rules.items() if r is rule)
