"""Run rules' examples through both compilers, so a rule's examples hold in every backend."""
from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence

import duckdb
import polars as pl

from targeting.compile.deciding import deciding_conditions
from targeting.compile.polars_expr import POLARS_TYPES, compile_polars
from targeting.compile.sql import compile_sql, folded_sql, target_lists_table
from targeting.db import connect, register_frame
from targeting.errors import Location, Problem
from targeting.rules.model import Catalogue, Example, Rule

Lists = Mapping[str, frozenset[str]]
ROW_ID = "__example_row"
RULE_COL = "__example_rule"
EXAMPLE_BATCH = 100  # rules whose examples one query matches
FOLDED = "__example_folded__"  # prefix of the text columns DuckDB folds once per batch


class ExampleRunner:
    """Runs each rule's examples through both compilers on a one-row-per-example table."""

    def __init__(self, catalogue: Catalogue, lists: Lists):
        self.catalogue, self.lists = catalogue, lists
        self._con: duckdb.DuckDBPyConnection | None = None

    def con(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:  # opened only when some rule has examples
            self._con = connect(":memory:")
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
                    failed[k].append(self._explained(problem, rules[k], frame[row]))
        return failed

    def _explained(self, problem: Problem, rule: Rule, row: pl.DataFrame) -> Problem:
        """The problem with the conditions that decided the example (when both backends agree:
        a disagreement is a bug report, not the rule's fault)."""
        if "a backend disagreement" in problem.message:
            return problem
        why = deciding_conditions(rule.where, row, self.lists, self.catalogue)
        return dataclasses.replace(problem, message=f"{problem.message}; {why}")

    def _polars(self, frame: pl.DataFrame, rules: Sequence[Rule], batch: list[int]) -> set[int]:
        either = pl.any_horizontal([
            (pl.col(RULE_COL) == k) & compile_polars(rules[k].where, self.lists, self.catalogue)
            .fill_null(False) for k in batch])
        return set(frame.filter(either)[ROW_ID].to_list())

    def _duckdb(self, frame: pl.DataFrame, rules: Sequence[Rule], batch: list[int]) -> set[int]:
        # One SELECT per rule joined by UNION ALL: planned as fast as one query per rule, but
        # one round trip (one large OR of every predicate plans twice as slowly).
        # Text is folded once into columns, as the backtests read it (data/tables.py): a leaf
        # that folds inline repeats the folding expression, which DuckDB plans once per leaf.
        text = [name for name, kind in self.catalogue.items() if kind == "text"]
        folded = {name: f"{FOLDED}{name}" for name in text}
        selects, params = [], []
        for k in batch:
            sql, values = compile_sql(rules[k].where, self.catalogue, folded=folded)
            selects.append(f"SELECT {ROW_ID} FROM __examples WHERE {RULE_COL} = ? AND ({sql})")
            params += [k, *values]
        con = self.con()
        register_frame(con, "__examples_raw", frame)
        try:
            folds = "".join(f", {folded_sql(name, self.catalogue)} AS {_quote(folded[name])}"
                            for name in text)
            con.execute(f"CREATE OR REPLACE TEMP TABLE __examples AS SELECT *{folds} "
                        "FROM __examples_raw")
            rows = con.execute(" UNION ALL ".join(selects), params).fetchall()
        finally:
            con.unregister("__examples_raw")
        return {row[0] for row in rows}


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


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


