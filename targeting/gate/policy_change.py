"""`targeting policy-change`: record a change of targeting.yaml's governed settings in the ledger,
so the gate can tell an approved policy change from a pull request loosening its own checks."""
from __future__ import annotations

from pathlib import Path

from targeting.decide import ledger
from targeting.decide.promotion import Change, PromotionError, check_text
from targeting.decide.signing import required_signer
from targeting.decide.transaction import commit, project_lock
from targeting.gate.base import read_base
from targeting.gate.changes import relative, repo_top, resolve_base
from targeting.project import Project


def record_policy_change(project: Project, reviewer: str, reason: str,
                         base_ref: str | None = None) -> Change:
    """Append a `policy-change` entry with the base's and the working tree's settings hashes
    (and both settings in full), under the project lock."""
    check_text("--reviewer", reviewer)
    check_text("--reason", reason)
    config = project.config
    signer = required_signer(config)
    top = repo_top(config.root)
    ref, base_commit = resolve_base(top, base_ref)
    base = read_base(top, base_commit, config)
    old, new = base.settings_hash, config.settings_hash
    shown = relative(top, config.path)
    if old == new:
        raise PromotionError(f"{shown} has the same settings as at {ref} ({base_commit[:12]}): "
                             f"there is no policy change to record")
    before = base.config.governed() if base.config is not None else None
    after = config.governed()
    sections = [k for k, v in after.items() if before is None or before.get(k) != v]
    details = {"old": old, "new": new, "base": base_commit, "sections": sections,
               "reason": reason, "file": shown, "before": before, "after": after}
    book = config.root / ledger.LEDGER_NAME
    with project_lock(config.root) as recovered:
        done = [e for e in ledger.read(book) if e.action == "policy-change"
                and e.details.get("old") == old and e.details.get("new") == new]
        if done:
            raise PromotionError(f"this change of {shown} is already recorded (ledger entry "
                                 f"{done[-1].seq})")
        record = {"actor": reviewer, "action": "policy-change", "subject": shown,
                  "details": details, "evidence_digest": None}
        entries = commit(config.root, "policy-change", shown, {}, [record], signer)
    return Change([Path(book)], entries[-1], recovered)
