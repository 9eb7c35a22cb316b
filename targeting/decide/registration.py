"""`targeting register`: record in the ledger each active rule's predicate hash that the ledger
does not hold yet, so the `ledger` evidence source can date when a predicate first appeared
where git history is not available (docs/policy.md, "Versioned evidence")."""
from __future__ import annotations

import datetime as dt
import getpass
import os
from dataclasses import dataclass

from targeting.data.config import Config
from targeting.decide import ledger
from targeting.decide.promotion import check_text
from targeting.decide.signing import required_signer
from targeting.decide.transaction import Recovered, commit, project_lock
from targeting.decide.versions import REGISTER, current_hash, ledger_history
from targeting.rules.loader import parse_rules
from targeting.rules.model import Rule


@dataclass(frozen=True)
class Registered:
    """The register entries written (none when every predicate was registered already)."""

    entries: list[ledger.Entry]
    recovered: Recovered | None = None


def default_actor() -> str:
    """Who registers when no --reviewer is given: the login name."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def unregistered(config: Config) -> list[tuple[Rule, str]]:
    """Each active rule (the first file by path for an id) whose current predicate hash is
    not the latest the ledger registered for it, with that hash."""
    folders = [d for d in (*config.rule_dirs, *config.query_dirs) if d.is_dir()]
    rules, _ = parse_rules(folders, config.limits)
    first: dict[str, Rule] = {}
    for rule in sorted(rules, key=lambda r: os.path.abspath(r.path)):
        first.setdefault(rule.id, rule)
    held = ledger_history(config.root / ledger.LEDGER_NAME)
    found = []
    for rule_id, rule in sorted(first.items()):
        now = current_hash(rule, config) if rule.is_active else None
        if now is not None and (rule_id not in held or held[rule_id].hash != now):
            found.append((rule, now))
    return found


def register(config: Config, actor: str, now: dt.datetime | None = None) -> Registered:
    """Append a `register` entry (details: hash, file) for every rule `unregistered` finds,
    in one write under the project lock; idempotent."""
    check_text("--reviewer", actor)
    signer = required_signer(config)
    with project_lock(config.root) as recovered:
        records = [{"actor": actor, "action": REGISTER, "subject": rule.id,
                    "details": {"hash": h, "file": _rel(config, rule.path)},
                    "evidence_digest": None} for rule, h in unregistered(config)]
        entries = commit(config.root, REGISTER, f"{len(records)} rules", {}, records, signer,
                         now) if records else []
    return Registered(entries, recovered)


def _rel(config: Config, path: str) -> str:
    return os.path.relpath(os.path.abspath(path), os.path.abspath(config.root)).replace(os.sep, "/")
