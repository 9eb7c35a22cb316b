"""Promote a query to a UDR and retire a UDR: file changes made atomically, recorded in the ledger."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from targeting import files
from targeting._version import __version__
from targeting.backtest.window import Window
from targeting.decide import ledger
from targeting.decide.policy import Policy, Verdict, decide, load_policy
from targeting.decide.projection import national_projection
from targeting.errors import Problem, RuleError, TargetingError
from targeting.project import Project
from targeting.rules.model import All, AnyOf, Leaf, Node, Not, Rule

LEDGER_NAME = "ledger.jsonl"
_EVIDENCE_METRICS = ("targeted", "examined", "discrepant", "hit_rate", "hit_rate_low", "hit_rate_high",
                     "lift", "lift_within_ports", "random_examined", "random_discrepant",
                     "unique_discrepant", "max_overlap_id", "max_overlap_jaccard", "months_with_hits",
                     "ports_with_hits", "baseline_hit_rate", "national_flags_per_day",
                     "national_ports_with_hits")


class PromotionError(TargetingError):
    """A promotion or retirement that cannot be made; nothing was changed."""

    exit_code = 1


@dataclass(frozen=True)
class Change:
    """What a promotion or retirement wrote."""

    written: list[Path]
    entry: Any


def ledger_path(project: Project) -> Path:
    return project.config.root / LEDGER_NAME


def promote(project: Project, window: Window, query_id: str, reviewer: str, *, new_id: str | None = None,
            national: bool = False, override_reason: str | None = None,
            now: dt.datetime | None = None) -> Change:
    """Write the UDR, mark the query promoted and append to the ledger; all or nothing."""
    query = _rule(project, query_id, "query")
    if query.status != "active":
        raise PromotionError(f"{query.id} has status {query.status}; only an active query can be promoted")
    policy = load_policy(project.config.promotion, str(project.config.path))
    verdict = decide(project, window, policy, [query])[0]
    if not verdict.promote and not override_reason:
        failing = ", ".join(c.name for c in verdict.failing)
        raise PromotionError(f"{query.id} does not meet the promotion policy (fails {failing}); run "
                             f"`targeting test {query.id}` for the numbers, or promote with "
                             "--override --reason TEXT to record an exception")
    udr_id = new_id or _next_udr_id(project)
    _check_new_id(project, udr_id)
    now = now or dt.datetime.now(dt.UTC)
    evidence = _evidence(project, verdict, policy, query)
    udr_path = project.config.rule_dirs[0] / f"{udr_id.lower()}.yaml"
    udr_text = _udr_text(query, udr_id, reviewer, now, evidence, national, override_reason)
    _validate_text(project, udr_path, udr_text)
    query_text = set_status(_read(Path(query.path)), "promoted")
    details = {"query": query.id, "udr": udr_id, "national": national, "file": _rel(project, udr_path),
               "window": verdict.evidence_window.as_dict(), "policy_hash": policy.hash,
               "data_fingerprint": project.dataset.fingerprint}
    if override_reason:
        details.update(override=True, reason=override_reason, failing=[c.name for c in verdict.failing])
    return _commit(project, {udr_path: udr_text, Path(query.path): query_text},
                   reviewer, "promote", query.id, details, _digest(evidence), override_reason)


def retire(project: Project, udr_id: str, reviewer: str, reason: str,
           now: dt.datetime | None = None) -> Change:
    """Set a UDR's status to retired with who, when and why, and record it in the ledger."""
    udr = _rule(project, udr_id, "udr")
    if udr.status != "active":
        raise PromotionError(f"{udr.id} has status {udr.status}; only an active UDR can be retired")
    now = now or dt.datetime.now(dt.UTC)
    text = set_status(_read(Path(udr.path)), "retired")
    text += yaml.safe_dump({"retired_at": _stamp(now), "retired_by": reviewer, "retirement_reason": reason},
                           sort_keys=False, allow_unicode=True)
    details = {"udr": udr.id, "reason": reason, "file": _rel(project, Path(udr.path))}
    return _commit(project, {Path(udr.path): text}, reviewer, "retire", udr.id, details, None, None)


def _rule(project: Project, rule_id: str, kind: str) -> Rule:
    for rule in project.all_rules:
        if rule.id == rule_id:
            if rule.kind != kind:
                raise PromotionError(f"{rule_id} is a {rule.kind}, not a {kind}")
            return rule
    raise PromotionError(f"no {kind} with id {rule_id} in the configured folders")


def _next_udr_id(project: Project) -> str:
    numbers = [int(m.group(1)) for r in project.all_rules if (m := re.fullmatch(r"UDR-(\d+)", r.id))]
    return f"UDR-{max(numbers, default=0) + 1:04d}"


def _check_new_id(project: Project, udr_id: str) -> None:
    from targeting.rules.loader import ID_PATTERN

    if not ID_PATTERN.match(udr_id):
        raise PromotionError(f"--new-id {udr_id!r} must be capitals, digits and single dashes, "
                             "such as UDR-0012")
    if any(r.id == udr_id for r in project.all_rules):
        raise PromotionError(f"id {udr_id} is already used; choose another with --new-id")
    if (project.config.rule_dirs[0] / f"{udr_id.lower()}.yaml").exists():
        raise PromotionError(f"{project.config.rule_dirs[0] / (udr_id.lower() + '.yaml')} already exists")


def _evidence(project: Project, verdict: Verdict, policy: Policy, query: Rule) -> dict[str, Any]:
    return {
        "metrics": {k: verdict.metrics.get(k) for k in _EVIDENCE_METRICS},
        "criteria": [c.as_dict() for c in verdict.criteria],
        "window": verdict.evidence_window.as_dict(),
        "policy_hash": policy.hash,
        "data_fingerprint": project.dataset.fingerprint,
        "rule_hash": query.content_hash,
        "tool_version": __version__,
    }


def _digest(evidence: dict[str, Any]) -> str:
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
    header = f"# Promoted from {query.id} by {reviewer} with `targeting promote`; see ledger.jsonl.\n"
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
            details: dict[str, Any], digest: str | None, override_reason: str | None) -> Change:
    """Write every file through a temporary file, then the ledger; undo the files if that fails.

    An override and the promotion it allows are appended in one write, so the ledger never
    records an exception for a promotion that did not happen."""
    originals = {path: path.read_bytes() if path.exists() else None for path in files}
    temps = {path: _temp(path, text) for path, text in files.items()}
    records = [{"actor": actor, "action": action, "subject": subject, "details": details,
                "evidence_digest": digest}]
    if override_reason:
        records.insert(0, {"actor": actor, "action": "override", "subject": subject,
                           "details": {"reason": override_reason, "for": action},
                           "evidence_digest": digest})
    try:
        for path, tmp in temps.items():
            os.replace(tmp, path)
        entry = ledger.append_many(ledger_path(project), records)[-1]
    except BaseException:
        _restore(originals)
        for tmp in temps.values():
            Path(tmp).unlink(missing_ok=True)
        raise
    return Change(list(files), entry)


def _temp(path: Path, text: str) -> str:
    fd, tmp = files.temp_beside(path)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)
    return tmp


def _read(path: Path) -> str:
    """The file's text with its line endings as written (read_text would turn CRLF into LF)."""
    return path.read_bytes().decode("utf-8")


def _restore(originals: dict[Path, bytes | None]) -> None:
    for path, data in originals.items():
        if data is None:
            path.unlink(missing_ok=True)
        else:
            path.write_bytes(data)


def _rel(project: Project, path: Path) -> str:
    try:
        return str(path.resolve().relative_to(project.config.root.resolve()))
    except ValueError:
        return str(path)
