"""Limits on what a YAML file may make the tool do: its size, how many values it expands to
(aliases included), how deeply it nests, and how many values one inline list may hold.

Before these limits a 529-byte rule file of nested aliases drove `validate` to 17.9 GB, 300
nested `not`s ended in a RecursionError, and a 50 MB rule with a 4.2-million-value list ran out
of memory. The node count and depth are checked on the YAML event stream, before any node is
built, so refusing a hostile file costs no more than reading it once.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

from targeting.units import num


def _limit(default: int, meaning: str) -> Any:
    return field(default=default, metadata={"meaning": meaning, "at_least": 1})


@dataclass(frozen=True)
class RuleLimits:
    """The `limits:` section of targeting.yaml (docs/rules.md, "Limits")."""

    max_file_bytes: int = _limit(1_000_000, "size of one rule file, in bytes")
    max_yaml_nodes: int = _limit(100_000, "YAML values one file expands to, aliases counted "
                                          "each time they are used")
    max_depth: int = _limit(64, "how deeply mappings and lists may nest in one file")
    max_values: int = _limit(1_000, "values in one inline list (in, contains_any, ...); "
                                    "longer lists belong in list files")
    max_conditions: int = _limit(2_000, "conditions (field tests) in one rule")


@dataclass(frozen=True)
class LimitProblem:
    """Why a YAML text is refused, and where (0-based, as PyYAML marks are)."""

    code: str
    message: str
    line: int
    column: int


def yaml_limit_problem(text: str, limits: RuleLimits,
                       where: str | None = "limits") -> LimitProblem | None:
    """The first limit the YAML `text` breaks (expanded node count, nesting depth, a recursive
    alias), or None. Syntax errors are left to the composer, which words them better.
    `where` names the settings section that raises the limits (None: they are fixed)."""
    try:
        return _scan(_events(text), limits, where)
    except yaml.YAMLError:
        return None


def _events(text: str) -> Iterator[yaml.Event]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)
    try:
        while loader.check_event():
            yield loader.get_event()
    finally:
        loader.dispose()


@dataclass
class _Open:
    """A mapping or sequence whose end has not been read yet."""

    anchor: str | None
    nodes: int = 1
    depth: int = 1  # levels from this node down


def _scan(events: Iterator[yaml.Event], limits: RuleLimits,
          where: str | None) -> LimitProblem | None:
    stack: list[_Open] = []
    anchors: dict[str, tuple[int, int]] = {}  # anchor -> (nodes, depth) of the finished node
    total = 0
    for event in events:
        mark = event.start_mark
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            stack.append(_Open(event.anchor))
            total += 1
            if len(stack) > limits.max_depth:
                return LimitProblem("too-deep", _too_deep(limits, where), mark.line, mark.column)
            continue
        if isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            done = stack.pop()
            size, anchor = (done.nodes, done.depth), done.anchor
        elif isinstance(event, yaml.ScalarEvent):
            total += 1
            size, anchor = (1, 0), event.anchor
        elif isinstance(event, yaml.AliasEvent):
            if any(o.anchor == event.anchor for o in stack):
                return LimitProblem("recursive-alias", f"the alias *{event.anchor} refers to a "
                                    "value that contains it, so it never ends; write the value "
                                    "out instead", mark.line, mark.column)
            if event.anchor not in anchors:
                continue  # an undefined alias: the composer reports it
            size, anchor = anchors[event.anchor], None
            total += size[0]
            if len(stack) + size[1] > limits.max_depth:
                return LimitProblem("too-deep", _too_deep(limits, where), mark.line, mark.column)
        else:
            continue
        if total > limits.max_yaml_nodes:
            return LimitProblem("too-many-nodes", _too_many(limits, where, anchors),
                                mark.line, mark.column)
        if anchor is not None:
            anchors[anchor] = size
        if stack:
            stack[-1].nodes += size[0]
            stack[-1].depth = max(stack[-1].depth, size[1] + 1)
    return None


def _too_deep(limits: RuleLimits, where: str | None) -> str:
    fix = ("flatten the conditions (all: and any: take lists of any length)" if where
           else "flatten it")
    return (f"mappings and lists are nested more than {limits.max_depth} levels deep here; "
            f"{fix}{_raise(where, 'max_depth')}")


def _too_many(limits: RuleLimits, where: str | None, anchors: dict[str, tuple[int, int]]) -> str:
    aliases = " (aliases count each time they are used)" if anchors else ""
    fix = "put long lists of values in a list file under lists/" if where else "shorten it"
    return (f"the file expands to more than {num(limits.max_yaml_nodes)} YAML values{aliases}; "
            f"{fix}{_raise(where, 'max_yaml_nodes')}")


def _raise(where: str | None, key: str) -> str:
    return f", or raise {where}.{key} in targeting.yaml" if where else ""
