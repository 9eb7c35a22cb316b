"""The SQL spellings that differ between engines, side by side in one place.

Everything else the tool writes is SQL both DuckDB and Spark read the same way: `CAST(x AS
BIGINT)`, FILTER clauses, window functions, `trim(BOTH chars FROM x)`, `translate`, `GROUP BY
ALL`, double-quoted identifiers (Spark sessions run with `spark.sql.ansi.doubleQuotedIdentifiers`,
see data/spark.py). A template names its operands in braces.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Dialect:
    """How one SQL engine spells the few things the others spell differently."""

    name: str
    regex: str  # partial match of a regular expression: {col}, {pat}
    contains: str  # substring test: {col}, {val}
    startswith: str  # {col}, {val}
    endswith: str  # {col}, {val}
    list_contains: str  # membership in an array: {array}, {item}
    text: str  # the text type in CAST
    wide_int: str  # an integer type wide enough for any whole double below 1e38
    month: str  # 'YYYY-MM' of a date: {date}
    isfinite: str  # {x}: neither NaN nor infinite (NULL stays NULL)
    # Whose regular expressions `regex` runs: "re2", or "java" (compile/regex.py rewrites a
    # pattern so that java.util.regex reads it as RE2 and Rust regex do).
    regex_library: str = "re2"
    # The aggregate that sums doubles (weights 1/p, values). A plain sum adds in the order the
    # threads finish, so the last digits of an estimate changed from run to run; DuckDB's fsum
    # compensates (Kahan-Babuska) and gives the same double every run. Spark's sum still adds
    # in partition order.
    float_sum: str = "sum"

    def regex_sql(self, col: str, pat: str) -> str:
        return self.regex.format(col=col, pat=pat)

    def contains_sql(self, array: str, item: str) -> str:
        return self.list_contains.format(array=array, item=item)

    def month_sql(self, date: str) -> str:
        return self.month.format(date=date)

    def isfinite_sql(self, x: str) -> str:
        return self.isfinite.format(x=x)

    def unnest_sql(self, array: str) -> str:
        """One row per element of an array (in a SELECT list)."""
        return f"explode({array})" if self.name == "spark" else f"unnest({array})"

    def distinct_list_sql(self, x: str) -> str:
        """An aggregate: the distinct non-NULL values of `x` as an array (in no set order)."""
        if self.name == "spark":
            return f"array_sort(collect_set({x}))"
        return f"list(DISTINCT {x}) FILTER (WHERE {x} IS NOT NULL)"

    def first_sql(self, value: str, keys: Sequence[str], where: str | None = None) -> str:
        """An aggregate: `value` of the row first by `keys` (NULL keys last) among the rows where
        `value` is not NULL (and `where` holds). DuckDB's arg_min skips NULL values and orders
        a struct's NULL fields last; Spark's min_by keeps NULL values and orders NULL fields
        first, hence its filter and IS NULL keys."""
        if self.name == "spark":
            order = ", ".join(f"{k} IS NULL, {k}" for k in keys)
            condition = f"{value} IS NOT NULL" + (f" AND {where}" if where else "")
            return f"min_by({value}, struct({order})) FILTER (WHERE {condition})"
        first = f"arg_min({value}, ({', '.join(keys)}))"
        return f"{first} FILTER (WHERE {where})" if where else first


DUCKDB = Dialect(
    name="duckdb", regex="regexp_matches({col}, {pat})", contains="strpos({col}, {val}) > 0",
    startswith="starts_with({col}, {val})", endswith="ends_with({col}, {val})",
    list_contains="list_contains({array}, {item})", text="VARCHAR", wide_int="HUGEINT",
    month="strftime({date}, '%Y-%m')", isfinite="isfinite({x})", float_sum="fsum",
)
SPARK = Dialect(
    name="spark", regex="regexp_like({col}, {pat})", contains="instr({col}, {val}) > 0",
    startswith="startswith({col}, {val})", endswith="endswith({col}, {val})",
    list_contains="array_contains({array}, {item})", text="STRING", wide_int="DECIMAL(38,0)",
    month="date_format({date}, 'yyyy-MM')",
    isfinite="(NOT (isnan({x}) OR abs({x}) = double('inf')))", regex_library="java",
)
TRINO = Dialect(  # the compiler's predicates only (`targeting compile`); no engine runs on Trino
    name="trino", regex="regexp_like({col}, {pat})", contains="strpos({col}, {val}) > 0",
    startswith="starts_with({col}, {val})", endswith="ends_with({col}, {val})",
    list_contains="contains({array}, {item})", text="VARCHAR", wide_int="DECIMAL(38,0)",
    month="date_format({date}, '%Y-%m')", isfinite="is_finite({x})",
)
DIALECTS = {d.name: d for d in (DUCKDB, SPARK, TRINO)}
