"""Rule files a scenario writes: a small spec turned into the same YAML an officer would write."""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

Record = Mapping[str, Any]


@dataclass(frozen=True)
class RuleSpec:
    """One rule of a generated scenario, with the examples its tests block runs."""

    id: str
    kind: str
    title: str
    owner: str
    created: dt.date
    rationale: str
    where: Record
    match: tuple[Record, ...]
    no_match: tuple[Record, ...]
    port: str | None = None
    status: str = "active"
    priorities: tuple[str, ...] = ()

    @property
    def folder(self) -> str:
        """Where the project keeps it: rules/ for UDRs, queries/ for queries."""
        return "rules" if self.kind == "udr" else "queries"

    @property
    def filename(self) -> str:
        return f"{self.id.lower()}.yaml"

    def to_yaml(self) -> str:
        """The rule file's text (keys in the documented order; examples one per line)."""
        head: dict[str, Any] = {"id": self.id, "kind": self.kind, "title": self.title,
                                "owner": self.owner}
        if self.port is not None:
            head["port"] = self.port
        head |= {"status": self.status, "created": self.created}
        if self.priorities:
            head["priorities"] = list(self.priorities)
        head["rationale"] = self.rationale
        body = {"where": _plain(self.where),
                "tests": {"match": [_plain(r) for r in self.match],
                          "no_match": [_plain(r) for r in self.no_match]}}
        text = str(yaml.safe_dump(head, sort_keys=False, allow_unicode=True, width=1000))
        return text + str(yaml.safe_dump(body, sort_keys=False, allow_unicode=True, width=1000,
                                         default_flow_style=None))


def _plain(value: Any) -> Any:
    """Mappings and tuples as the dicts and lists PyYAML writes plainly."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def query(id: str, port: str, created: dt.date, title: str, rationale: str, where: Record,
          match: Record, no_match: Record, owner: str | None = None, **extra: Any) -> RuleSpec:
    """A query at `port`: its predicate and examples start with the port."""
    number = id.split("-")[-1]
    return RuleSpec(id, "query", title, owner or f"cbpo-{port}-{int(number) % 1000:03d}", created,
                    rationale, {"port_code": port, **where}, ({"port_code": port, **match},),
                    ({"port_code": port, **no_match},), port=port, **extra)


def udr(id: str, created: dt.date, title: str, rationale: str, where: Record, match: Record,
        no_match: Record, **extra: Any) -> RuleSpec:
    """A national UDR owned by the NTC."""
    return RuleSpec(id, "udr", title, "ntc-ipr-branch", created, rationale, where, (match,),
                    (no_match,), **extra)
