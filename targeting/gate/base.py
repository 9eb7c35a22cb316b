"""What the base revision says: its settings, its ledger and its allowed signers, read with git
plumbing (no checkout). The gate judges a branch by these, never by the branch's own copies,
so a pull request cannot loosen the thresholds, hide rule folders or rewrite the record it is
judged against."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from targeting.data.config import Config, config_from_text
from targeting.decide.ledger import LEDGER_NAME
from targeting.gate.changes import GateError, relative, show


@dataclass(frozen=True)
class Base:
    """The base revision's side of what the gate compares."""

    commit: str
    config: Config | None        # its targeting.yaml, read as if it were the working one
    ledger: bytes                # its ledger.jsonl (empty when it has none)
    allowed_signers: bytes | None

    @property
    def settings_hash(self) -> str | None:
        return self.config.settings_hash if self.config is not None else None


def read_base(top: Path, commit: str, head: Config) -> Base:
    """The base's configuration (at the path of the working one), ledger and signers file."""
    config_rel = relative(top, head.path)
    text = show(top, commit, config_rel)
    config = None
    if text is not None:
        try:
            source = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise GateError(f"{config_rel} at {commit[:12]} is not UTF-8 text") from exc
        config = config_from_text(source, head.path, f"{config_rel} at {commit[:12]}")
    book = show(top, commit, relative(top, head.root / LEDGER_NAME)) or b""
    return Base(commit, config, book, _signers(top, commit, config))


def _signers(top: Path, commit: str, config: Config | None) -> bytes | None:
    if config is None or not config.ledger.allowed_signers:
        return None
    rel = relative(top, config.root / config.ledger.allowed_signers)
    content = show(top, commit, rel)
    if content is None:
        raise GateError(f"the base's targeting.yaml names ledger.allowed_signers {rel}, which is "
                        f"not in the base revision {commit[:12]}; commit it on the base branch")
    return content
