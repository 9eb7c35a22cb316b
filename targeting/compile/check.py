"""Check parsed rules against the data's field catalogue, type their values, and run their examples."""
from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from targeting.compile.polars_expr import compile_polars
from targeting.compile.sql import compile_sql
from targeting.db import register_frame
from targeting.errors import Problem
from targeting.rules.loader import did_you_mean, parse_rules
from targeting.rules.model import (
    LIST_OPERATORS,
    OPERATORS,
    All,
    AnyOf,
    Catalogue,
    Example,
    Leaf,
    Location,
    Node,
    Not,
    Rule,
    leaves,
)
from targeting.rules.satisfy import always_problems, never_problems

Lists = Mapping[str, frozenset[str]]
POLARS_TYPES = {"text": pl.String, "number": pl.Float64, "date": pl.Date, "bool": pl.Boolean}
ROW_ID = "__example_row"
RULE_COL = "__example_rule"
EXAMPLE_BATCH = 100  # rules whose examples one query matches


class _Invalid(Exception):
    """A value that cannot be given the field's type; the message says why."""


def check_rules(paths: Iterable[Path], catalogue: Catalogue, lists: Lists,
                priorities: Iterable[str] | None = None,
                run_examples: bool = True) -> tuple[list[Rule], list[Problem]]:
    """Parse and validate every rule under `paths`; return the typed rules and every problem."""
    rules, problems = parse_rules(paths)
    typed, more = validate_rules(rules, catalogue, lists, priorities, run_examples)
    return typed, problems + more


def validate_rules(rules: Iterable[Rule], catalogue: Catalogue, lists: Lists,
                   priorities: Iterable[str] | None = None,
                   run_examples: bool = True) -> tuple[list[Rule], list[Problem]]:
    """Check rules against the catalogue and lists; return those without errors, typed.
    `run_examples=False` skips running each rule's examples in both backends."""
    vocabulary = tuple(priorities) if priorities is not None else None
    typed: list[Rule] = []
    problems: list[Problem] = []
    checked: list[tuple[Rule | None, list[Problem]]] = []
    for rule in rules:
        found: list[Problem] = []
        checked.append((_check_rule(rule, catalogue, lists, vocabulary, found), found))
    runner = _ExampleRunner(catalogue, lists)
    try:
        runnable = [(rule, found) for rule, found in checked if rule is not None and run_examples]
        for (rule, found), failed in zip(runnable, runner.run_all([r for r, _ in runnable])):
            found += failed
    finally:
        runner.close()
    for rule, found in checked:
        problems += found
        if rule is not None and not any(p.severity == "error" for p in found):
            typed.append(rule)
    return typed, problems


def _check_rule(rule: Rule, catalogue: Catalogue, lists: Lists, vocabulary: tuple[str, ...] | None,
                found: list[Problem]) -> Rule | None:
    """The rule with typed values (its examples still to run), or None; problems into `found`."""
    found += _metadata_problems(rule, vocabulary)
    where = _typed_node(rule.where, catalogue, lists, found)
    if where is None:
        return None
    found += never_problems(where) + always_problems(where)
    examples = _typed_examples(rule, catalogue, found)
    if examples is None:
        return None
    return dataclasses.replace(rule, where=where, examples=examples)


# --- metadata ---------------------------------------------------------------------------


def _metadata_problems(rule: Rule, vocabulary: tuple[str, ...] | None) -> list[Problem]:
    problems = []
    for name in rule.priorities:
        if vocabulary is not None and name not in vocabulary:
            allowed = ", ".join(vocabulary) or "none are configured"
            problems.append(Problem("unknown-priority", f"priority '{name}' is not in the "
                                    f"configured priorities ({allowed}){did_you_mean(name, vocabulary)}",
                                    rule.loc))
    if rule.kind == "udr" and rule.port:
        problems.append(Problem("udr-with-port", f"UDRs are national but this one names port "
                                f"{rule.port}; remove 'port', or make it kind: query",
                                rule.loc, "warning"))
    if rule.kind == "query" and not rule.port:
        problems.append(Problem("query-without-port", "a query belongs to a port; add "
                                "`port: <port code>`", rule.loc, "warning"))
    return problems


# --- predicates -------------------------------------------------------------------------


def _typed_node(node: Node, cat: Catalogue, lists: Lists, found: list[Problem]) -> Node | None:
    """The tree with every value given its field's type, or None when a leaf is invalid."""
    match node:
        case All(children) | AnyOf(children):
            typed = [_typed_node(c, cat, lists, found) for c in children]
            if any(t is None for t in typed):
                return None
            return dataclasses.replace(node, children=tuple(typed))
        case Not(child):
            typed_child = _typed_node(child, cat, lists, found)
            return None if typed_child is None else dataclasses.replace(node, child=typed_child)
        case Leaf():
            return _typed_leaf(node, cat, lists, found)
    raise TypeError(f"not a predicate node: {node!r}")


def _typed_leaf(leaf: Leaf, cat: Catalogue, lists: Lists, found: list[Problem]) -> Leaf | None:
    where = leaf.field_loc or leaf.loc
    if leaf.field not in cat:
        found.append(Problem("unknown-field", f"'{leaf.field}' is not a field of the data"
                             f"{_close_fields(leaf.field, cat)}", where))
        return None
    kind = cat[leaf.field]
    if kind not in OPERATORS[leaf.op]:
        fitting = ", ".join(op for op, kinds in OPERATORS.items() if kind in kinds)
        found.append(Problem("operator-type", f"'{leaf.op}' does not apply to '{leaf.field}', a "
                             f"{kind} field; operators for {kind} fields: {fitting}", leaf.loc))
        return None
    try:
        value = _typed_operand(leaf, kind, lists)
    except _Invalid as exc:
        found.append(Problem(exc.args[1], f"'{leaf.field}' {leaf.op}: {exc.args[0]}", leaf.loc))
        return None
    return dataclasses.replace(leaf, value=value)


def _close_fields(name: str, cat: Catalogue) -> str:
    import difflib

    close = difflib.get_close_matches(name, list(cat), n=3, cutoff=0.6)
    if close:
        return "; did you mean " + " or ".join(f"'{c}'" for c in close) + "?"
    return f"; fields: {', '.join(sorted(cat))}"


def _typed_operand(leaf: Leaf, kind: str, lists: Lists) -> Any:
    if leaf.op == "is_null":
        return leaf.value
    if leaf.op == "in_list":
        if leaf.value not in lists:
            known = ", ".join(sorted(lists)) or "none (add files to lists/)"
            raise _Invalid(f"no list named '{leaf.value}'; known lists: {known}"
                           f"{did_you_mean(leaf.value, lists)}", "unknown-list")
        return leaf.value
    if leaf.op == "matches":
        problem = regex_problem(leaf.value)
        if problem:
            raise _Invalid(problem, "bad-regex")
        return leaf.value
    if leaf.op in LIST_OPERATORS or leaf.op == "between":
        return tuple(coerce(v, kind) for v in leaf.value)
    return coerce(leaf.value, kind)


def coerce(value: Any, kind: str) -> Any:
    """`value` as a value of a `kind` field; _Invalid says why it cannot be."""
    if kind == "text":
        if isinstance(value, bool):
            raise _Invalid("YAML read this value as true/false, but this is a text field; if you "
                           "mean the text, quote it, such as 'NO' (YAML reads unquoted NO, yes, "
                           "on, off as true/false)", "bad-value")
        if isinstance(value, (dt.date, int, float)):
            return value.isoformat() if isinstance(value, dt.date) else _number_text(value)
        return value
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _Invalid(f"{value!r} is not a number; this is a number field", "bad-value")
        return value
    if kind == "date":
        return _date(value)
    if not isinstance(value, bool):
        raise _Invalid(f"{value!r} is not true or false; this is a true/false field", "bad-value")
    return value


def _number_text(value: float) -> str:
    # 4701 and 4701.0 are both the code "4701"
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise _Invalid(f"{value!r} is not a date; write dates as YYYY-MM-DD, such as 2021-03-02",
                   "bad-date")


def regex_problem(pattern: str) -> str | None:
    """Why `pattern` cannot be used by `matches` in every backend, or None."""
    failures = []
    try:
        duckdb.execute("SELECT regexp_matches('', ?)", [pattern]).fetchall()
    except duckdb.Error as exc:
        failures.append(f"DuckDB (RE2): {_first_line(exc)}")
    try:
        pl.select(pl.lit("").str.contains(pattern))
    except Exception as exc:  # polars raises ComputeError; the type differs between versions
        failures.append(f"Polars (Rust regex): {_first_line(exc)}")
    if failures:
        return (f"the pattern {pattern!r} does not compile in " + "; in ".join(failures)
                + ". Use syntax both RE2 and Rust regex accept")
    escapes = [e for e in _DIVERGENT if e in pattern.replace("\\\\", "")]
    if escapes:
        return f"{', '.join(escapes)} {_DIVERGENT[escapes[0]]}"
    return None


# Escapes both engines accept but read differently, so a pattern using them could match
# different rows in each backend; the rule language refuses them and says what to write.
_CLASS_ADVICE = ("means different things in DuckDB (ASCII only) and Polars (Unicode); spell the "
                 "characters out, such as [0-9] for \\d, [A-Za-z0-9_] for \\w, [ \\t\\r\\n] for \\s")
_WORD_ADVICE = ("is a word boundary in Polars but a literal < or > in DuckDB; write [<] or [>] "
                "for the character")
_DIVERGENT = {**{f"\\{c}": _CLASS_ADVICE for c in "dDwWsSbB"},
              "\\<": _WORD_ADVICE, "\\>": _WORD_ADVICE}


def _first_line(exc: BaseException) -> str:
    """The engine's own reason, without the pattern echo and the expression context."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    reasons = [line[len("error:"):].strip() for line in lines if line.startswith("error:")]
    if reasons:  # Rust regex: "error: unclosed group"
        return reasons[0]
    text = lines[0] if lines else type(exc).__name__
    return text.removeprefix("Invalid Input Error:").strip()


# --- examples ---------------------------------------------------------------------------


def _typed_examples(rule: Rule, cat: Catalogue, found: list[Problem]) -> tuple[Example, ...] | None:
    typed, ok = [], True
    for example in rule.examples:
        values = {}
        for name, value in example.values.items():
            if name not in cat:
                ok = False
                found.append(Problem("example-field", f"the example uses '{name}', which is not "
                                     f"a field of the data{_close_fields(name, cat)}", example.loc))
                continue
            try:
                values[name] = None if value is None else coerce(value, cat[name])
            except _Invalid as exc:
                ok = False
                found.append(Problem("example-value", f"the example's '{name}': {exc.args[0]}",
                                     example.loc))
        typed.append(dataclasses.replace(example, values=values))
    return tuple(typed) if ok else None


class _ExampleRunner:
    """Runs each rule's examples through both compilers on a one-row-per-example table."""

    def __init__(self, catalogue: Catalogue, lists: Lists):
        self.catalogue, self.lists = catalogue, lists
        self._con: duckdb.DuckDBPyConnection | None = None

    def con(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:  # opened only when some rule has examples
            from targeting.data.dataset import target_lists_table

            self._con = duckdb.connect(":memory:")
            target_lists_table(self._con, self.lists)
        return self._con

    def close(self) -> None:
        if self._con is not None:
            self._con.close()

    def run_all(self, rules: Sequence[Rule]) -> list[list[Problem]]:
        """Each rule's failed examples. All examples go in one table, and each backend matches
        a batch of rules in one query (one query per rule cost ~10 ms each)."""
        failed: list[list[Problem]] = [[] for _ in rules]
        with_examples = [k for k, rule in enumerate(rules) if rule.examples]
        for start in range(0, len(with_examples), EXAMPLE_BATCH):
            batch = with_examples[start:start + EXAMPLE_BATCH]
            owners = [(k, i) for k in batch for i in range(len(rules[k].examples))]
            frame = example_frame([rules[k].examples[i] for k, i in owners], self.catalogue)
            frame = frame.with_columns(pl.Series(RULE_COL, [k for k, _ in owners], pl.Int64))
            by_polars = self._polars(frame, rules, batch)
            by_duckdb = self._duckdb(frame, rules, batch)
            for row, (k, i) in enumerate(owners):
                problem = _example_problem(rules[k].examples[i], row in by_duckdb, row in by_polars)
                if problem is not None:
                    failed[k].append(problem)
        return failed

    def _polars(self, frame: pl.DataFrame, rules: Sequence[Rule], batch: list[int]) -> set[int]:
        either = pl.any_horizontal([
            (pl.col(RULE_COL) == k) & compile_polars(rules[k].where, self.lists, self.catalogue)
            .fill_null(False) for k in batch])
        return set(frame.filter(either)[ROW_ID].to_list())

    def _duckdb(self, frame: pl.DataFrame, rules: Sequence[Rule], batch: list[int]) -> set[int]:
        # One SELECT per rule joined by UNION ALL: planned as fast as one query per rule, but
        # one round trip (one large OR of every predicate plans twice as slowly).
        selects, params = [], []
        for k in batch:
            sql, values = compile_sql(rules[k].where, self.catalogue)
            selects.append(f"SELECT {ROW_ID} FROM __examples WHERE {RULE_COL} = ? AND ({sql})")
            params += [k, *values]
        con = self.con()
        register_frame(con, "__examples", frame)
        try:
            rows = con.execute(" UNION ALL ".join(selects), params).fetchall()
        finally:
            con.unregister("__examples")
        return {row[0] for row in rows}


def example_frame(examples: Iterable[Example], catalogue: Catalogue) -> pl.DataFrame:
    """One row per example with every catalogue column (missing values NULL) and a row id."""
    rows = list(examples)
    columns = {name: pl.Series(name, [ex.values.get(name) for ex in rows], POLARS_TYPES[kind])
               for name, kind in catalogue.items()}
    columns[ROW_ID] = pl.Series(ROW_ID, range(len(rows)), pl.Int64)
    return pl.DataFrame(columns)


def _example_problem(example: Example, duck: bool, polars: bool) -> Problem | None:
    want = example.should_match
    if duck == want and polars == want:
        return None
    line = f" at line {example.loc.line}" if example.loc else ""
    expected = "should match" if want else "should not match"
    if duck == polars:
        got = "but it does" if duck else "but it does not"
        message = f"the example{line} {expected} {got} (in both DuckDB and Polars)"
    else:
        says = {True: "matches it", False: "does not match it"}
        message = (f"the example{line} {expected}; DuckDB {says[duck]} but Polars "
                   f"{says[polars]} (a backend disagreement: please report it)")
    return Problem("example-failed", message, example.loc or Location("?", 1, 1))


def outcome_problems(rules: Iterable[Rule], outcome_fields: Iterable[str]) -> list[Problem]:
    """Warn where a rule tests the outcome itself: in labelled-manifest data the label column is
    a manifest field, and a rule on it would only measure the label against itself."""
    fields = set(outcome_fields)
    return [Problem("outcome-field", f"'{leaf.field}' is the outcome label of this data "
                    "(data.labelled.column); a rule on it measures the label against itself. "
                    "Use fields known before the exam.", leaf.loc or rule.loc, "warning")
            for rule in rules for leaf in leaves(rule.where) if leaf.field in fields]
