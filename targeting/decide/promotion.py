"""Promote a query to a UDR and retire a UDR: file changes and their ledger entries made as one
transaction under the project lock (decide/transaction.py)."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from targeting._version import __version__
from targeting.backtest.window import Window
from targeting.data.config import Config, display_path
from targeting.decide import ledger
from targeting.decide.policy import Policy, Verdict, decide, load_policy
from targeting.decide.projection import national_projection
from targeting.decide.retirement import retirements
from targeting.decide.signing import required_signer
from targeting.decide.transaction import Recovered, commit, project_lock
from targeting.errors import Problem, RuleError, TargetingError
from targeting.project import Project
from targeting.rules.loader import ID_PATTERN, parse_rules, rule_files
from targeting.rules.model import All, AnyOf, Leaf, Node, Not, Rule
from targeting.text import unsafe_characters

LEDGER_NAME = "ledger.jsonl"
_EVIDENCE_METRICS = ("targeted", "examined", "discrepant", "hit_rate", "hit_rate_low", "hit_rate_high",
                     "lift", "lift_within_ports", "random_examined", "random_discrepant",
                     "unique_discrepant", "max_overlap_id", "max_overlap_jaccard", "months_with_hits",
                     "ports_with_hits", "baseline_hit_rate", "national_flags_per_day",
                     "national_ports_with_hits", "est_hit_rate", "est_hit_rate_low",
                     "est_hit_rate_high", "est_method", "est_examined", "p_value", "q_value",
                     "expected_false_promotions", "away_hit_rate", "away_hit_rate_low",
                     "away_examined", "shrunk_hit_rate", "predicted_hit_rate")


class PromotionError(TargetingError):
    """A promotion, retirement or policy change that cannot be made; nothing was changed."""

    exit_code = 1


class InputError(TargetingError):
    """A name or reason that cannot be recorded as given (exit 2)."""


@dataclass(frozen=True)
class Change:
    """What a promotion or retirement wrote, and what it recovered first; for a dry run, what
    it would write (`texts`) and the ledger records it would append (`records`), none written."""

    written: list[Path]
    entry: Any
    recovered: Recovered | None = None
    dry_run: bool = False
    texts: dict[Path, str] = field(default_factory=dict)
    records: list[dict[str, Any]] = field(default_factory=list)


def ledger_path(project: Project) -> Path:
    return project.config.root / LEDGER_NAME


def check_text(what: str, value: str) -> str:
    """Refuse an empty name or reason, or one with control characters (exit 2): it is written
    into rule files, the ledger and terminals, where a newline or an escape would change what
    they show."""
    if not value or not value.strip():
        raise InputError(f"{what} must not be empty")
    bad = unsafe_characters(value)
    if bad:
        raise InputError(f"{what} contains control characters ({', '.join(bad)}); names and "
                         f"reasons are recorded in rule files and the ledger, so write them as "
                         f"plain text on one line")
    return value


def promote(project: Project, window: Window, query_id: str, reviewer: str, *, new_id: str | None = None,
            national: bool = False, override_reason: str | None = None,
            now: dt.datetime | None = None, dry_run: bool = False) -> Change:
    """Write the UDR, mark the query promoted and append to the ledger; all or nothing, under
    the project lock (docs/policy.md, decide/transaction.py). `dry_run`: decide and build the
    same files and records, write nothing (not even a recovery)."""
    check_text("--reviewer", reviewer)
    if override_reason is not None:
        check_text("--reason", override_reason)
    if dry_run:
        return _promote(project, window, query_id, reviewer, new_id, national, override_reason,
                        now, None, dry_run=True)
    signer = required_signer(project.config)
    with project_lock(project.config.root) as recovered:
        project.reload_rules()
        change = _promote(project, window, query_id, reviewer, new_id, national, override_reason,
                          now, signer)
    return Change(change.written, change.entry, recovered)


def _promote(project: Project, window: Window, query_id: str, reviewer: str, new_id: str | None,
             national: bool, override_reason: str | None, now: dt.datetime | None,
             signer: ledger.Signer | None, dry_run: bool = False) -> Change:
    query = _rule(project, query_id, "query")
    if query.status != "active":
        raise PromotionError(f"{query.id} has status {query.status}; only an active query can be promoted")
    policy = load_policy(project.config.promotion, str(project.config.path))
    # Decided within the whole review, as `candidates` decides it: the error control counts
    # every query judged alongside this one.
    verdict = next(v for v in decide(project, window, policy) if v.rule.id == query.id)
    failing = [c.name for c in verdict.failing]
    if national and not verdict.transfer.passed:
        failing.append("transfer")
    if failing and not override_reason:
        hint = (f" ({verdict.transfer.note}; promote without --national for a port UDR)"
                if failing == ["transfer"] else "")
        raise PromotionError(f"{query.id} does not meet the promotion policy (fails "
                             f"{', '.join(failing)}){hint}; run `targeting test {query.id}` for "
                             f"the numbers, or promote with --override --reason TEXT to record "
                             f"an exception")
    used = _used_ids(project)
    udr_id = new_id or next_udr_id(used)
    _check_new_id(project, udr_id, used)
    now = now or dt.datetime.now(dt.UTC)
    evidence = _evidence(project, verdict, policy, query)
    udr_path = project.config.rule_dirs[0] / f"{udr_id.lower()}.yaml"
    udr_text = _udr_text(query, udr_id, reviewer, now, evidence, national, override_reason)
    _validate_text(project, udr_path, udr_text)
    query_text = set_status(_read(Path(query.path)), "promoted")
    details = {"query": query.id, "udr": udr_id, "national": national, "file": _rel(project, udr_path),
               "window": verdict.evidence_window.as_dict(),
               "evidence_source": verdict.evidence_source, "policy_hash": policy.hash,
               "settings_hash": project.config.settings_hash,
               "data_fingerprint": project.dataset.fingerprint}
    if override_reason:
        details.update(override=True, reason=override_reason, failing=failing)
    return _commit(project, {udr_path: udr_text, Path(query.path): query_text},
                   reviewer, "promote", query.id, details, evidence_digest(evidence), override_reason, signer,
                   dry_run)


def retire(project: Project, window: Window, udr_id: str, reviewer: str, reason: str, *,
           override: bool = False, now: dt.datetime | None = None, dry_run: bool = False) -> Change:
    """Set a UDR's status to retired with who, when and why, and record it in the ledger. The
    policy must propose the retirement (`retirements()`), or `override` records an exception.
    `dry_run`: build the same file and records, write nothing."""
    check_text("--reviewer", reviewer)
    check_text("--reason", reason)
    if dry_run:
        return _retire(project, window, udr_id, reviewer, reason, override, now, None, True)
    signer = required_signer(project.config)
    with project_lock(project.config.root) as recovered:
        project.reload_rules()
        change = _retire(project, window, udr_id, reviewer, reason, override, now, signer)
    return Change(change.written, change.entry, recovered)


def _retire(project: Project, window: Window, udr_id: str, reviewer: str, reason: str,
            override: bool, now: dt.datetime | None, signer: ledger.Signer | None,
            dry_run: bool = False) -> Change:
    udr = _rule(project, udr_id, "udr")
    if udr.status != "active":
        raise PromotionError(f"{udr.id} has status {udr.status}; only an active UDR can be retired")
    policy = load_policy(project.config.promotion, str(project.config.path))
    proposed = {r.rule.id: r.reasons for r in retirements(project, window, policy)}
    if udr.id not in proposed and not override:
        raise PromotionError(f"the retirement policy does not propose {udr.id} (it has not decayed, "
                             f"or been superseded in {window}); see `targeting "
                             f"candidates`, or retire with --override to record an exception")
    now = now or dt.datetime.now(dt.UTC)
    text = retired_text(_read(Path(udr.path)), reviewer, reason, now)
    _validate_text(project, Path(udr.path), text)
    details: dict[str, Any] = {"udr": udr.id, "reason": reason, "file": _rel(project, Path(udr.path)),
               "window": window.as_dict(), "policy_hash": policy.hash,
               "settings_hash": project.config.settings_hash,
               "data_fingerprint": project.dataset.fingerprint,
               "proposed": proposed.get(udr.id, [])}
    if override:
        details["override"] = True
    return _commit(project, {Path(udr.path): text}, reviewer, "retire", udr.id, details, None,
                   reason if override else None, signer, dry_run)


def retired_text(text: str, reviewer: str, reason: str, now: dt.datetime) -> str:
    """The UDR file's text with status retired and who, when and why appended (through the YAML
    emitter, so no value can add keys of its own)."""
    text = set_status(text, "retired")
    newline = "\r\n" if "\r\n" in text else "\n"
    if not text.endswith("\n"):
        text += newline
    added: str = yaml.safe_dump({"retired_at": _stamp(now), "retired_by": reviewer,
                            "retirement_reason": reason}, sort_keys=False, allow_unicode=True,
                           width=float("inf"))
    return text + added.replace("\n", newline)


def _rule(project: Project, rule_id: str, kind: str) -> Rule:
    for rule in project.all_rules:
        if rule.id == rule_id:
            if rule.kind != kind:
                raise PromotionError(f"{rule_id} is a {rule.kind}, not a {kind}")
            return rule
    raise PromotionError(f"no {kind} with id {rule_id} in the configured folders")


def _used_ids(project: Project) -> dict[str, str]:
    """Every id a rule has, a rule file is named after, or the ledger gave a UDR: id -> where."""
    used: dict[str, str] = {}
    for entry in ledger.read(ledger_path(project)):
        udr = entry.details.get("udr")
        if isinstance(udr, str):
            used.setdefault(udr, f"ledger entry {entry.seq}")
    for folder in project.config.rule_dirs:
        for path in rule_files([folder]) if folder.is_dir() else []:
            used.setdefault(path.stem.upper(), str(path))
    for rule in project.all_rules:
        used[rule.id] = str(rule.path)
    return used


def next_udr_id(used: Iterable[str]) -> str:
    """One more than the highest UDR-NNNN in use (a gap is never filled: the id may have been
    retired and deleted, and an id names one rule for ever)."""
    numbers = [int(m.group(1)) for rule_id in used if (m := re.fullmatch(r"UDR-(\d+)", rule_id))]
    return f"UDR-{max(numbers, default=0) + 1:04d}"


def _check_new_id(project: Project, udr_id: str, used: dict[str, str]) -> None:
    if not ID_PATTERN.match(udr_id):
        raise PromotionError(f"--new-id {udr_id!r} must be capitals, digits and single dashes, "
                             "such as UDR-0012")
    if udr_id in used:
        raise PromotionError(f"id {udr_id} is already used ({used[udr_id]}); choose another "
                             f"with --new-id")
    if (project.config.rule_dirs[0] / f"{udr_id.lower()}.yaml").exists():
        raise PromotionError(f"{project.config.rule_dirs[0] / (udr_id.lower() + '.yaml')} already exists")


def _evidence(project: Project, verdict: Verdict, policy: Policy, query: Rule) -> dict[str, Any]:
    return {
        "metrics": {k: verdict.metrics.get(k) for k in _EVIDENCE_METRICS},
        "criteria": [c.as_dict() for c in verdict.criteria],
        "transfer": verdict.transfer.as_dict(),
        "scope": verdict.scope,
        "window": verdict.evidence_window.as_dict(),
        "evidence_source": verdict.evidence_source,
        "policy_hash": policy.hash,
        "data_fingerprint": project.dataset.fingerprint,
        "rule_hash": query.content_hash,
        "tool_version": __version__,
    }


def evidence_digest(evidence: dict[str, Any]) -> str:
    """The digest a promotion records of its UDR's evidence block (the gate compares them)."""
    canonical = json.dumps(evidence, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _udr_text(query: Rule, udr_id: str, reviewer: str, now: dt.datetime, evidence: dict[str, Any],
              national: bool, override_reason: str | None) -> str:
    where = national_projection(query).where if national else query.where
    doc: dict[str, Any] = {
        "id": udr_id, "kind": "udr", "title": query.title, "owner": query.owner or reviewer,
        "status": "active", "created": now.date(), "priorities": list(query.priorities),
        "rationale": query.rationale or query.title, "where": to_yaml(where),
        "tests": _examples(query),
        "promoted_from": query.id, "promoted_at": _stamp(now), "reviewer": reviewer,
    }
    if not national and query.port:
        doc["rationale"] += f" (limited to port {query.port} as written)"
    if override_reason:
        doc["override_reason"] = override_reason
    doc["evidence"] = evidence
    # Only the id (checked against ID_PATTERN) goes into the comment; every value a person
    # chose goes through the YAML emitter below.
    header = f"# Promoted from {query.id} with `targeting promote`; see ledger.jsonl.\n"
    body: str = yaml.safe_dump(plain(doc), sort_keys=False, allow_unicode=True, width=100)
    return header + body


def _examples(rule: Rule) -> dict[str, list[dict[str, Any]]]:
    tests: dict[str, list[dict[str, Any]]] = {"match": [], "no_match": []}
    for example in rule.examples:
        tests["match" if example.should_match else "no_match"].append(dict(example.values))
    return tests


def to_yaml(node: Node) -> Any:
    """A predicate tree back to the rule language (always the explicit operator form)."""
    match node:
        case Leaf(field=name, op=op, value=value):
            return {name: {op: list(value) if isinstance(value, tuple) else value}}
        case All(children) if not children:
            return {"all": []}
        case All(children):
            return {"all": [to_yaml(c) for c in children]}
        case AnyOf(children):
            return {"any": [to_yaml(c) for c in children]}
        case Not(child):
            return {"not": to_yaml(child)}
    raise TypeError(f"not a predicate node: {node!r}")


def plain(value: Any) -> Any:
    """Tuples to lists, recursively, so safe_dump writes plain YAML."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def _stamp(now: dt.datetime) -> str:
    return now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def set_status(text: str, status: str) -> str:
    """The rule file's text with its top-level status set, keeping everything else as written."""
    # [^\r\n]: a CRLF file keeps its \r, so only the status line changes.
    pattern = re.compile(r"^status:[^\r\n]*", re.MULTILINE)
    if pattern.search(text):
        return pattern.sub(f"status: {status}", text, count=1)
    newline = "\r\n" if "\r\n" in text else "\n"
    return text.rstrip("\r\n") + f"{newline}status: {status}{newline}"


def _validate_text(project: Project, path: Path, text: str) -> None:
    """Refuse to write a UDR file the validator would reject."""
    from targeting.compile.check import check_rules

    with tempfile.TemporaryDirectory() as folder:
        candidate = Path(folder) / path.name
        candidate.write_text(text, encoding="utf-8")
        _, problems = check_rules([candidate], project.dataset.catalogue, project.dataset.lists,
                                  project.config.priorities or None)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise RuleError([Problem("promotion", f"the generated UDR would be invalid: {e}") for e in errors])


def _commit(project: Project, files: dict[Path, str], actor: str, action: str, subject: str,
            details: dict[str, Any], digest: str | None, override_reason: str | None,
            signer: ledger.Signer | None, dry_run: bool = False) -> Change:
    """Every file and the ledger entries as one transaction (decide/transaction.py). An
    override and the action it allows are appended in one write, so the ledger never records
    an exception for a change that did not happen."""
    records = [{"actor": actor, "action": action, "subject": subject, "details": details,
                "evidence_digest": digest}]
    if override_reason:
        records.insert(0, {"actor": actor, "action": "override", "subject": subject,
                           "details": {"reason": override_reason, "for": action},
                           "evidence_digest": digest})
    if dry_run:
        return Change(list(files), None, dry_run=True, texts=dict(files), records=records)
    changes = {path: text.encode("utf-8") for path, text in files.items()}
    entries = commit(project.config.root, action, subject, changes, records, signer)
    return Change(list(files), entries[-1])


def _read(path: Path) -> str:
    """The file's text with its line endings as written (read_text would turn CRLF into LF)."""
    return path.read_bytes().decode("utf-8")


def _rel(project: Project, path: Path) -> str:
    try:
        return str(path.resolve().relative_to(project.config.root.resolve()))
    except ValueError:
        return str(path)


def disagreements(config: Config, entries: list[ledger.Entry]) -> list[str]:
    """Where the rule files contradict the ledger: a UDR the ledger retired that is active
    again, a query it promoted that is active again, a UDR it promoted that has no file (and
    was not retired). `ledger verify` reports them; the chain alone cannot."""
    rules, _ = parse_rules([d for d in (*config.rule_dirs, *config.query_dirs) if d.is_dir()])
    by_id = {r.id: r for r in rules}
    state: dict[str, tuple[str, ledger.Entry]] = {}
    for entry in entries:
        if entry.action == "promote" and isinstance(entry.details.get("udr"), str):
            state[entry.details["udr"]] = ("promoted", entry)
            state[entry.subject] = ("query", entry)
        elif entry.action == "retire":
            state[entry.subject] = ("retired", entry)
    found = []
    for rule_id, (what, entry) in sorted(state.items()):
        rule = by_id.get(rule_id)
        where = display_path(rule.path) if rule is not None else ""
        if what == "retired" and rule is not None and rule.is_active:
            found.append(f"{rule_id} is active in {where}, but the ledger retired it (entry "
                         f"{entry.seq}): its status was set back by hand")
        elif what == "query" and rule is not None and rule.is_active:
            found.append(f"{rule_id} is active in {where}, but the ledger promoted it (entry "
                         f"{entry.seq}): its status was set back by hand")
        elif what == "promoted" and rule is None:
            found.append(f"{rule_id}, promoted in entry {entry.seq}, has no rule file in the "
                         f"configured folders and was never retired")
    return found
