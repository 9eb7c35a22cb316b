"""Choosing rules by priority tag, port, owner or kind (`--tag`, `--port`, `--owner`, `--kind`):
one filter every command that takes rules applies the same way."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from targeting.rules.model import Rule


@dataclass(frozen=True)
class Selection:
    """Rules to keep: each given facet must match (any of its values); an empty facet keeps all.
    Text is compared as written, except case, so `--port 4701` and `--tag HONG_KONG...` work."""

    tags: tuple[str, ...] = ()
    ports: tuple[str, ...] = ()
    owners: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.tags or self.ports or self.owners or self.kinds)

    def matches(self, rule: Rule) -> bool:
        return (_any(self.tags, rule.priorities) and _any(self.ports, [rule.port])
                and _any(self.owners, [rule.owner]) and _any(self.kinds, [rule.kind]))

    def of(self, rules: Sequence[Rule]) -> list[Rule]:
        """The rules that match, in their order."""
        return list(rules) if self.empty else [r for r in rules if self.matches(r)]

    def describe(self) -> str:
        """'kind udr, port 4701' for messages."""
        parts = [f"{name} {', '.join(values)}" for name, values in
                 (("tag", self.tags), ("port", self.ports), ("owner", self.owners),
                  ("kind", self.kinds)) if values]
        return "; ".join(parts) or "every rule"


def _any(wanted: tuple[str, ...], have: Iterable[str | None]) -> bool:
    if not wanted:
        return True
    present = {h.casefold() for h in have if h is not None}
    return any(w.casefold() in present for w in wanted)
