"""Read one YAML file within the limits (limits.py): its size, its encoding, how far it
expands and nests, and every value PyYAML can build; any other file is one Problem at the line
that breaks it. `loader.py` turns what this returns into a Rule."""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from targeting.errors import Location, Problem
from targeting.rules.limits import RuleLimits, yaml_limit_problem
from targeting.rules.yamlerrors import syntax_problem
from targeting.text import decode_position


def display_path(path: Path) -> str:
    """A path relative to the working directory when it lies below it."""
    rel = os.path.relpath(path)
    return str(path) if rel.startswith("..") else rel


def _unreadable_value(loader: yaml.SafeLoader, root: yaml.Node | None,
                      shown: str) -> Problem | None:
    """The first value PyYAML cannot construct (an unknown tag such as !!python/object, a date
    such as 2024-02-30, !!int abc), as a Problem at its line, before the parser meets it."""
    stack = [root] if root is not None else []
    seen: set[int] = set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if _tag(node) == "merge":
            return Problem("merge-key", "merge keys (<<) are not read in rule files; write the "
                           "keys out", Location(shown, node.start_mark.line + 1,
                                                node.start_mark.column + 1))
        if isinstance(node, yaml.ScalarNode) or _tag(node) not in _PLAIN_TAGS:
            try:
                loader.construct_object(node, deep=True)
            except (yaml.YAMLError, ValueError, TypeError, AttributeError, OverflowError) as exc:
                return Problem("bad-yaml-value", _construct_message(node, exc),
                               Location(shown, node.start_mark.line + 1, node.start_mark.column + 1))
        if isinstance(node, yaml.MappingNode):
            stack += [item for pair in reversed(node.value) for item in reversed(pair)]
        elif isinstance(node, yaml.SequenceNode):
            stack += list(reversed(node.value))
    return None


_PLAIN_TAGS = ("str", "int", "float", "bool", "null", "timestamp", "binary", "seq", "map", "set",
               "omap", "pairs", "merge", "value")


def _tag(node: yaml.Node) -> str:
    return str(node.tag).removeprefix("tag:yaml.org,2002:")


def _construct_message(node: yaml.Node, exc: Exception) -> str:
    tag = _tag(node)
    if isinstance(exc, yaml.constructor.ConstructorError) and "constructor for the tag" in str(exc):
        return (f"the tag !!{tag} is not allowed; rule files hold plain values (text, numbers, "
                "dates, true/false, lists and mappings)")
    if tag == "timestamp":
        return (f"{node.value!r} is not a date; write a real date as YYYY-MM-DD, or quote the "
                "value if it is text")
    return f"{node.value!r} cannot be read as !!{tag} ({exc}); quote it if it is text"


def read_yaml(path: Path, limits: RuleLimits | None = None
              ) -> Problem | tuple[bytes, yaml.SafeLoader, yaml.Node | None]:
    """A rule file's bytes, loader and node tree, or the Problem that stops it being read: too
    large, not UTF-8, over a limit (limits.py) or not YAML."""
    limits, shown = limits or RuleLimits(), display_path(path)
    try:
        size = path.stat().st_size
        if size > limits.max_file_bytes:
            return Problem("file-too-large", f"the file is {size:,} bytes; a rule file may have "
                           f"at most {limits.max_file_bytes:,} (limits.max_file_bytes in "
                           "targeting.yaml). Put long lists of values in a list file under "
                           "lists/ and use in_list or contains_list", Location(shown, 1, 1))
        raw = path.read_bytes()
    except OSError as exc:
        return Problem("unreadable", f"cannot read the file: {exc.strerror or exc}",
                       Location(shown, 1, 1))
    return parse_yaml(raw, shown, limits)


def parse_yaml(raw: bytes, shown: str, limits: RuleLimits | None = None
               ) -> Problem | tuple[bytes, yaml.SafeLoader, yaml.Node | None]:
    """`read_yaml` of bytes already read (a file's content at another revision); `shown`
    names it in problems."""
    limits = limits or RuleLimits()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return _not_utf8(raw, exc, shown)
    limit = yaml_limit_problem(text, limits)
    if limit is not None:
        return Problem(limit.code, limit.message, Location(shown, limit.line + 1, limit.column + 1))
    try:
        loader, root = _compose(text)
    except yaml.YAMLError as exc:
        return syntax_problem(exc, text, shown)
    return _unreadable_value(loader, root, shown) or (raw, loader, root)


def rule_id(path: Path, limits: RuleLimits | None = None) -> str | None:
    """The `id` a rule file declares, read within the limits, or None."""
    found = read_yaml(path, limits)
    if isinstance(found, Problem) or not isinstance(found[2], yaml.MappingNode):
        return None
    for key, value in found[2].value:
        if isinstance(key, yaml.ScalarNode) and key.value == "id" and \
                isinstance(value, yaml.ScalarNode):
            return str(value.value)
    return None


def _not_utf8(raw: bytes, exc: UnicodeDecodeError, shown: str) -> Problem:
    line, column = decode_position(raw, exc)
    return Problem("not-utf8", f"byte 0x{raw[exc.start]:02X} is not UTF-8; save the file as "
                   "UTF-8 (most editors offer it under 'encoding')", Location(shown, line, column))


def _compose(text: str) -> tuple[yaml.SafeLoader, yaml.Node | None]:
    """The loader and the document's node tree. libyaml's loader, where PyYAML has it, parses
    several times faster; a file it rejects is parsed again by the Python loader, whose
    messages are clearer ("expected ',' or '}', but got '<stream end>'")."""
    fast = getattr(yaml, "CSafeLoader", None)
    if fast is not None:
        try:
            return _single_node(fast, text)
        except yaml.YAMLError:
            pass
    return _single_node(yaml.SafeLoader, text)


def _single_node(make: Callable[[str], Any], text: str) -> tuple[yaml.SafeLoader, yaml.Node | None]:
    loader = make(text)
    try:
        return loader, loader.get_single_node()
    finally:
        loader.dispose()
