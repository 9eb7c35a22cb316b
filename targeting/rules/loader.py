"""Read rule files: YAML to `Rule`, keeping file:line:column and collecting every problem."""
from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml

from targeting.dates import date_of
from targeting.errors import Location, Problem, RuleError
from targeting.rules.limits import RuleLimits
from targeting.rules.model import (
    COMBINATORS,
    KINDS,
    LIST_OPERATORS,
    NAMED_LIST_OPERATORS,
    OPERATORS,
    STATUSES,
    All,
    AnyOf,
    Example,
    Leaf,
    Node,
    Not,
    Rule,
    leaves,
)
from targeting.rules.yamlfile import display_path, read_yaml, rule_id

__all__ = ["display_path", "load_rules", "parse_rules", "rule_files", "rule_id"]

ID_PATTERN = re.compile(r"^[A-Z0-9]+(-[A-Z0-9]+)*$")
REQUIRED_KEYS = ("id", "kind", "title", "where")
RULE_KEYS = ("id", "kind", "title", "owner", "port", "status", "created", "priorities",
             "rationale", "where", "tests")
# Written by `targeting promote` / `retire`; kept in Rule.meta.
META_KEYS = ("promoted_from", "promoted_at", "reviewer", "evidence", "override_reason",
             "retired_at", "retired_by", "retirement_reason")


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """A ' (did you mean 'x'?)' suffix when a close match exists, else ''."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def present(items: Sequence[Node | None]) -> list[Node] | None:
    """The items when none is None (a part failed and its problem was recorded), else None."""
    kept = [item for item in items if item is not None]
    return kept if len(kept) == len(items) else None


def rule_files(paths: Iterable[Path]) -> list[Path]:
    """The YAML files named, or found (recursively, sorted) under the folders named."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml"))
        else:
            found.append(path)
    return found


def load_rules(paths: Iterable[Path], limits: RuleLimits | None = None) -> list[Rule]:
    """Load every rule under `paths`; raise RuleError listing every problem in every file."""
    rules, problems = parse_rules(paths, limits)
    if any(p.severity == "error" for p in problems):
        raise RuleError(problems)
    return rules


def parse_rules(paths: Iterable[Path], limits: RuleLimits | None = None
                ) -> tuple[list[Rule], list[Problem]]:
    """Load what can be loaded and return it with every problem found (no raise)."""
    rules: list[Rule] = []
    problems: list[Problem] = []
    for path in rule_files(paths):
        rule = _parse_file(path, problems, limits or RuleLimits())
        if rule is not None:
            rules.append(rule)
    problems += _duplicate_ids(rules)
    return rules, problems


def _parse_file(path: Path, problems: list[Problem], limits: RuleLimits) -> Rule | None:
    shown = display_path(path)
    found = read_yaml(path, limits)
    if isinstance(found, Problem):
        problems.append(found)
        return None
    raw, loader, root = found
    parser = _Parser(shown, loader, problems, limits)
    return parser.rule(root, hashlib.sha256(raw).hexdigest())


class _Parser:
    """Turns one file's YAML node tree into a Rule, recording problems as it goes."""

    def __init__(self, path: str, loader: yaml.SafeLoader, problems: list[Problem],
                 limits: RuleLimits | None = None):
        self.path, self.loader, self.problems = path, loader, problems
        self.limits = limits or RuleLimits()
        self.start = len(problems)

    def loc(self, node: yaml.Node) -> Location:
        return Location(self.path, node.start_mark.line + 1, node.start_mark.column + 1)

    def error(self, code: str, message: str, node: yaml.Node | None) -> None:
        loc = self.loc(node) if node is not None else Location(self.path, 1, 1)
        self.problems.append(Problem(code, message, loc))

    def value(self, node: yaml.Node) -> Any:
        return self.loader.construct_object(node, deep=True)

    def mapping(self, node: yaml.Node, what: str) -> list[tuple[str, yaml.Node, yaml.Node]] | None:
        """The entries of a mapping node, rejecting non-mappings, non-text and duplicate keys."""
        if not isinstance(node, yaml.MappingNode):
            self.error("expected-mapping", f"{what} must be a mapping of key: value", node)
            return None
        entries, seen = [], set()
        for key_node, value_node in node.value:
            key = self.value(key_node) if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, str):
                self.error("bad-key", f"keys in {what} must be text; got {key!r}", key_node)
                continue
            if key in seen:
                self.error("duplicate-key", f"'{key}' appears twice in {what}; keep one", key_node)
                continue
            seen.add(key)
            entries.append((key, key_node, value_node))
        return entries

    def rule(self, root: yaml.Node | None, content_hash: str) -> Rule | None:
        if root is None:
            self.error("empty-file", "the file is empty; a rule needs at least id, kind, title and "
                       "where", None)
            return None
        entries = self.mapping(root, "a rule file")
        if entries is None:
            return None
        fields = self.top_level(entries, root)
        if len(self.problems) > self.start:
            return None
        return Rule(path=self.path, content_hash=content_hash, loc=self.loc(root), **fields)

    def top_level(self, entries: list[tuple[str, yaml.Node, yaml.Node]], root: yaml.Node) -> dict[str, Any]:
        fields: dict[str, Any] = {"meta": {}}
        for key, key_node, value_node in entries:
            if key in META_KEYS:
                fields["meta"][key] = self.value(value_node)
            elif key not in RULE_KEYS:
                hint = did_you_mean(key, RULE_KEYS + META_KEYS)
                self.error("unknown-key", f"'{key}' is not a rule key; expected one of "
                           f"{', '.join(RULE_KEYS)}{hint}", key_node)
            else:
                parsed = getattr(self, f"key_{key}", self.key_text)(value_node, key)
                if parsed is not _INVALID:
                    fields["examples" if key == "tests" else key] = parsed
        for key in REQUIRED_KEYS:
            if key not in fields and not any(k == key for k, _, _ in entries):
                self.error("missing-key", f"the rule has no '{key}'; add `{key}:` at the top level", root)
        return fields

    def key_text(self, node: yaml.Node, key: str) -> Any:
        value = self.value(node)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and key == "port":
            return str(value)  # an unquoted port code such as 4701 is still a code
        if not isinstance(value, str) or not value.strip():
            self.error("bad-value", f"'{key}' must be non-empty text; got {value!r}", node)
            return _INVALID
        return value

    def key_id(self, node: yaml.Node, key: str) -> Any:
        value = self.key_text(node, key)
        if value is not _INVALID and not ID_PATTERN.match(value):
            self.error("bad-id", f"id {value!r} must be capitals, digits and single dashes, "
                       "such as Q-4701-0012 or UDR-0007", node)
            return _INVALID
        return value

    def key_kind(self, node: yaml.Node, key: str) -> Any:
        return self.choice(node, key, KINDS)

    def key_status(self, node: yaml.Node, key: str) -> Any:
        return self.choice(node, key, STATUSES)

    def choice(self, node: yaml.Node, key: str, allowed: tuple[str, ...]) -> Any:
        value = self.value(node)
        if value not in allowed:
            hint = did_you_mean(str(value), allowed)
            self.error(f"bad-{key}", f"{key} {value!r} is not allowed; expected one of "
                       f"{', '.join(allowed)}{hint}", node)
            return _INVALID
        return value

    def key_created(self, node: yaml.Node, key: str) -> Any:
        value = self.value(node)
        found = date_of(value)  # quoted too: '2024-10-01' is as clear a date as 2024-10-01
        if found is None:
            self.error("bad-date", f"'created' must be a date such as 2021-03-02; got {value!r}", node)
            return _INVALID
        return found

    def key_priorities(self, node: yaml.Node, key: str) -> Any:
        value = self.value(node)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.error("bad-value", "'priorities' must be a list of priority names, such as "
                       "[repeat_violators]", node)
            return _INVALID
        return tuple(value)

    def key_where(self, node: yaml.Node, key: str) -> Any:
        tree = self.predicate(node, "'where'")
        if tree is not None and len(leaves(tree)) > self.limits.max_conditions:
            self.error("too-many-conditions", f"'where' has {len(leaves(tree)):,} conditions; a "
                       f"rule may have at most {self.limits.max_conditions:,} "
                       "(limits.max_conditions in targeting.yaml). Put values that share a "
                       "field and an operator in one list, or in a list file", node)
            return _INVALID
        return _INVALID if tree is None else tree

    def key_tests(self, node: yaml.Node, key: str) -> Any:
        entries = self.mapping(node, "'tests'")
        if entries is None:
            return _INVALID
        examples: list[Example] = []
        for name, key_node, value_node in entries:
            if name not in ("match", "no_match"):
                self.error("unknown-key", f"'{name}' is not allowed in tests; expected match or "
                           f"no_match{did_you_mean(name, ('match', 'no_match'))}", key_node)
                continue
            examples += self.examples(value_node, name == "match")
        return tuple(examples)

    def examples(self, node: yaml.Node, should_match: bool) -> list[Example]:
        if not isinstance(node, yaml.SequenceNode):
            self.error("expected-list", "examples must be a list of records, such as "
                       "- {country_of_origin: CN}", node)
            return []
        found = []
        for item in node.value:
            if self.mapping(item, "an example") is not None:
                found.append(Example(self.value(item), should_match, self.loc(item)))
        return found

    # --- predicates -------------------------------------------------------------------------
    def predicate(self, node: yaml.Node, what: str) -> Node | None:
        """A mapping: the AND of its entries."""
        entries = self.mapping(node, what)
        if entries is None:
            return None
        if not entries:
            self.error("empty-predicate", f"{what} is empty; give at least one condition", node)
            return None
        parts = present([self.entry(key, key_node, value_node)
                         for key, key_node, value_node in entries])
        if parts is None:
            return None
        return parts[0] if len(parts) == 1 else All(tuple(parts), self.loc(node))

    def entry(self, key: str, key_node: yaml.Node, node: yaml.Node) -> Node | None:
        if key == "not":
            child = self.predicate(node, "'not'")
            return None if child is None else Not(child, self.loc(key_node))
        if key in ("all", "any"):
            return self.combination(key, key_node, node)
        return self.field(key, key_node, node)

    def combination(self, key: str, key_node: yaml.Node, node: yaml.Node) -> Node | None:
        if not isinstance(node, yaml.SequenceNode) or not node.value:
            self.error("expected-list", f"'{key}' takes a non-empty list of conditions, such as "
                       f"{key}: [{{mode: express}}, {{mode: mail}}]", node)
            return None
        children = present([self.predicate(item, f"an item of '{key}'") for item in node.value])
        if children is None:
            return None
        cls = All if key == "all" else AnyOf
        return cls(tuple(children), self.loc(key_node))

    def field(self, name: str, key_node: yaml.Node, node: yaml.Node) -> Node | None:
        loc = self.loc(key_node)
        if isinstance(node, yaml.SequenceNode):
            return self.leaf(name, "in", node, loc, loc)
        if not isinstance(node, yaml.MappingNode):
            return self.leaf(name, "eq", node, loc, loc)
        entries = self.mapping(node, f"the conditions on '{name}'")
        if not entries:
            if entries == []:
                self.error("empty-predicate", f"no operator given for '{name}'", node)
            return None
        leaves = present([self.operator(name, op, op_node, value_node, loc)
                          for op, op_node, value_node in entries])
        if leaves is None:
            return None
        return leaves[0] if len(leaves) == 1 else All(tuple(leaves), loc)

    def operator(self, name: str, op: str, op_node: yaml.Node, node: yaml.Node,
                 field_loc: Location) -> Leaf | None:
        if op not in OPERATORS:
            combinator = " (all, any and not combine conditions; put them above the field)" \
                if op in COMBINATORS else ""
            self.error("unknown-operator", f"'{op}' is not an operator; expected one of "
                       f"{', '.join(OPERATORS)}{did_you_mean(op, OPERATORS)}{combinator}", op_node)
            return None
        return self.leaf(name, op, node, self.loc(op_node), field_loc)

    def leaf(self, name: str, op: str, node: yaml.Node, loc: Location,
             field_loc: Location) -> Leaf | None:
        if isinstance(node, yaml.SequenceNode) and len(node.value) > self.limits.max_values:
            self.error("too-many-values", f"'{name}' {op}: {len(node.value):,} values; a rule "
                       f"may list at most {self.limits.max_values:,} (limits.max_values in "
                       f"targeting.yaml). {_list_file_hint(name, op)}", node)
            return None
        value = self.value(node)
        problem = _operand_problem(op, value)
        if problem:
            self.error("bad-operand", f"'{name}' {op}: {problem}", node)
            return None
        if isinstance(value, list):
            value = tuple(value)
        if isinstance(value, dt.datetime):
            value = value.date()
        return Leaf(name, op, value, loc, field_loc)


_INVALID = object()

_LIST_FILE_FORMS = {
    "in": "`{name}: {{in_list: NAME}}`",
    "not_in": "`not: {{{name}: {{in_list: NAME}}}}` with `{name}: {{is_null: false}}` beside it "
              "(not_in is false where the value is missing)",
    "contains_any": "`{name}: {{contains_list: NAME}}`",
    "startswith_any": "`{name}: {{startswith_list: NAME}}`",
}


def _list_file_hint(name: str, op: str) -> str:
    form = _LIST_FILE_FORMS.get(op)
    if form is None:
        return ("Split them into several conditions under all:, each with a shorter list")
    return (f"Put them in a list file, one per line (lists/NAME.txt), and write "
            f"{form.format(name=name)}")


def _is_scalar(value: Any) -> bool:
    return value is not None and not isinstance(value, (list, dict))


def _operand_problem(op: str, value: Any) -> str | None:
    """Why `value` cannot be the operand of `op`, or None."""
    if op in LIST_OPERATORS:
        if not isinstance(value, list) or not value:
            return "expects a non-empty list of values, such as [CN, HK]"
        if not all(_is_scalar(v) for v in value):
            return "list items must be single values (text, numbers or dates)"
        return None
    if op == "between":
        if not (isinstance(value, list) and len(value) == 2 and all(_is_scalar(v) for v in value)):
            return "expects two values [low, high], such as [20, 800]"
        return None
    if op == "is_null":
        return None if isinstance(value, bool) else "expects true or false"
    if op in ("matches", *NAMED_LIST_OPERATORS) and not isinstance(value, str):
        return "expects text" + (" (the name of a list in lists/)" if op != "matches" else "")
    if not _is_scalar(value):
        return "expects a single value; use a list operator such as in or contains_any for several"
    return None


def _duplicate_ids(rules: list[Rule]) -> list[Problem]:
    first: dict[str, Rule] = {}
    problems = []
    for rule in rules:
        if rule.id in first:
            problems.append(Problem("duplicate-id", f"id {rule.id} is already used by "
                                    f"{first[rule.id].path}; ids must be unique", rule.loc))
        else:
            first[rule.id] = rule
    return problems
