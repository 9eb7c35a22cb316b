"""Check input data against the data contract, and profile data that passes."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from targeting.data.config import Config, display_path
from targeting.data.contract import (
    CONTRACT,
    DATE_ORDER,
    NON_NEGATIVE,
    PROBABILITIES,
    REQUIRED,
    VOCABULARIES,
    cast_expr,
)
from targeting.data.dataset import Dataset, materialise
from targeting.data.plausible import arrival_problems
from targeting.data.problems import DataProblem
from targeting.data.recording import recording_completeness
from targeting.data.sources import (
    FILE_COLUMN,
    READ_ERRORS,
    Staging,
    stage,
    staging_error,
)
from targeting.data.values import field_profile
from targeting.errors import ConfigError, DataError

MAX_EXAMPLES = 5
TYPE_WORDS = {  # (one row, several rows)
    "DATE": ("is not a date", "are not dates"),
    "DOUBLE": ("is not a number", "are not numbers"),
    "BOOLEAN": ("is not true/false", "are not true/false"),
}
TYPE_CODES = {"DATE": "bad-date", "DOUBLE": "bad-number", "BOOLEAN": "bad-bool"}
TYPE_FIXES = {
    "DATE": "Write dates as YYYY-MM-DD.",
    "DOUBLE": "Use plain numbers such as 1234.5 "
              "(no thousands separators, units or currency signs).",
    "BOOLEAN": "Use true or false.",
}


@dataclass(frozen=True)
class CheckReport:
    """Every contract problem found, and the profile when there were none."""

    problems: tuple[DataProblem, ...]
    profile: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        """No problem is an error (warnings do not stop the data being used)."""
        return not any(p.severity == "error" for p in self.problems)


def check(config: Config) -> CheckReport:
    """Check the configured data; profile it when it passes the contract (implausible arrival
    dates are then reported too, as errors or warnings). A file that cannot be read is
    reported as its problem, so `data check --format json` carries it too."""
    if config.data.spark_only is not None:
        raise ConfigError(f"{config.data.spark_only}: `data check` reads with DuckDB. Every "
                          "command of the Spark engine runs the same checks on it first.")
    try:
        staged = stage(config)
    except DataError as exc:
        if not exc.problems:
            raise
        return CheckReport(tuple(p for p in exc.problems if isinstance(p, DataProblem)))
    try:
        report = check_staged(staged)
        if report.problems:
            return report
        dataset = materialise(staged)
        dates = arrival_problems(dataset.con, _DAYS_SQL, config)
        return CheckReport(tuple(dates), profile(dataset))
    except READ_ERRORS as exc:
        error = staging_error(config, exc)
        return CheckReport(tuple(p for p in error.problems if isinstance(p, DataProblem)))
    finally:
        staged.con.close()


_DAYS_SQL = "SELECT arrival_date, count(*) AS n FROM manifest GROUP BY arrival_date"


def read_dataset(config: Config, database: str = ":memory:") -> Dataset:
    """Stage, check and type the sources, in memory or in the given DuckDB database file;
    DataError (exit 2) lists every problem."""
    staged = stage(config, database)
    try:
        report = check_staged(staged)
        if not report.problems:
            return materialise(staged)
    except READ_ERRORS as exc:
        staged.con.close()
        raise staging_error(config, exc) from None
    staged.con.close()
    raise DataError("\n".join(str(p) for p in report.problems), list(report.problems))


def check_staged(staged: Staging) -> CheckReport:
    """Run every contract check on staged (renamed, not yet typed) data."""
    problems: list[DataProblem | _Check] = []
    for table in ("manifest", "exams"):
        present = staged.columns(table)
        problems += _empty_table(staged, table)
        problems += _missing_columns(staged, table, present)
        problems += _empty_required(staged, table, present)
        problems += _bad_types(staged, table, present)
        problems += _negatives(staged, table, present)
        problems += _vocabularies(staged, table, present)
        problems += _probabilities(staged, table, present)
        problems += _date_order(staged, table, present)
        if table == "manifest":
            problems += _duplicates(staged, "manifest", "shipment_id", "shipment")
        elif staged.config.data.labelled is None:  # synthesised exam ids are the shipment ids
            problems += _duplicates(staged, "exams", "exam_id", "exam")
    problems += _unknown_shipments(staged)
    return CheckReport(tuple(_found(staged, problems)))


# --- the checks ------------------------------------------------------------------------


def _empty_table(staged: Staging, table: str) -> list[DataProblem]:
    if table == "exams" and staged.config.data.labelled is not None:
        return []  # built from the manifest: empty exactly when the manifest is
    if staged.rows(f'SELECT count(*) FROM "_src_{table}"', [])[0][0]:
        return []
    what = ("the manifest has no rows, so no rule can be measured on it" if table == "manifest"
            else "the exam table has no rows, so every rule would show no exam and no hit")
    return [DataProblem("empty-table", staged.labels[table],
                        f"{what}. Export the {'shipments' if table == 'manifest' else 'exam findings'} "
                        f"again, or point data.{table} at the file that holds them.")]


def _missing_columns(staged: Staging, table: str, present: dict[str, str]) -> list[DataProblem]:
    labelled = staged.config.data.labelled
    if labelled is not None and table == "exams":
        return []  # synthesised; the manifest's label column is checked instead
    required = list(REQUIRED[table])
    if labelled is not None:
        required.append(labelled.column)
    problems = []
    for column in required:
        if column not in present:
            what = ("label column" if labelled and column == labelled.column
                    else "required column")
            problems.append(DataProblem(
                "missing-column", staged.labels[table],
                f"{what} {column!r} is missing; the columns are: "
                f"{', '.join(staged.source_name(table, c) for c in present)}. "
                f"Add it, or map a source column to it under data.columns.{table} in "
                f"{display_path(staged.config.path)}.",
            ))
    return problems


def _empty_required(staged: Staging, table: str, present: dict[str, str]) -> list[_Check]:
    labelled = staged.config.data.labelled
    columns = [c for c in REQUIRED[table] if c in present]
    if labelled is not None:
        if table == "exams":
            return []  # an empty label is reported on the manifest's label column
        columns += [labelled.column] if labelled.column in present else []
    problems = []
    for column in columns:
        problems += _problems(
            staged, table, column,
            f'coalesce(trim(CAST("{column}" AS {staged.dialect.text})), \'\') = \'\'',
            [], "empty-value",
            lambda n, ex: f"{_rows(n)} {_be(n)} empty. Every row needs a value here.",
            examples=False,
        )
    return problems


def _bad_types(staged: Staging, table: str, present: dict[str, str]) -> list[_Check]:
    problems = []
    for column, target in CONTRACT[table].items():
        kind = present.get(column)
        if kind is None or target == "VARCHAR" or kind == target:
            continue
        converted = cast_expr(column, kind, target, cast="TRY_CAST", dialect=staged.dialect)
        bad = f'"{column}" IS NOT NULL AND ({converted}) IS NULL'
        if target == "DOUBLE":
            finite = staged.dialect.isfinite_sql(f"({converted})")
            bad = f'"{column}" IS NOT NULL AND NOT coalesce({finite}, false)'
        problems += _problems(staged, table, column, bad, [], TYPE_CODES[target],
                              _type_message(target))
    return problems


def _type_message(target: str) -> Callable[[int, str], str]:
    def describe(n: int, ex: str) -> str:
        return f"{_rows(n)} {TYPE_WORDS[target][n != 1]}, e.g. {ex}. {TYPE_FIXES[target]}"
    return describe


def _negatives(staged: Staging, table: str, present: dict[str, str]) -> list[_Check]:
    return _out_of_range(
        staged, table, present, NON_NEGATIVE, "({value}) < 0", "negative-value",
        lambda n, ex: f"{_rows(n)} {_be(n)} negative, e.g. {ex}. "
                      f"Amounts must be zero or more; correct the sign in the source.")


def _out_of_range(staged: Staging, table: str, present: dict[str, str], columns: tuple[str, ...],
                  condition: str, code: str,
                  describe: Callable[[int, str], str]) -> list[_Check]:
    """Rows whose number breaks `condition` ({value} is the column as a number)."""
    problems = []
    for column in columns:
        kind = present.get(column)
        if kind is None or column not in CONTRACT[table]:
            continue
        value = cast_expr(column, kind, "DOUBLE", cast="TRY_CAST", dialect=staged.dialect)
        problems += _problems(staged, table, column, condition.format(value=value), [], code,
                              describe)
    return problems


def _vocabularies(staged: Staging, table: str, present: dict[str, str]) -> list[_Check]:
    problems = []
    for column, allowed in VOCABULARIES.items():
        if column not in present or column not in CONTRACT[table]:
            continue
        text = f'CAST("{column}" AS {staged.dialect.text})'
        bad = f'"{column}" IS NOT NULL AND NOT {staged.dialect.contains_sql("?", text)}'
        problems += _problems(staged, table, column, bad, [list(allowed)], "bad-value",
                              _vocabulary_message(allowed, column, staged))
    return problems


def _vocabulary_message(allowed: tuple[str, ...], column: str,
                        staged: Staging) -> Callable[[int, str], str]:
    def describe(n: int, ex: str) -> str:
        return (f"{_rows(n)} {_have(n)} a value outside the vocabulary, e.g. {ex}. "
                f"Allowed: {', '.join(allowed)}. Map source values under data.values.{column} "
                f"in {display_path(staged.config.path)}.")
    return describe


def _probabilities(staged: Staging, table: str, present: dict[str, str]) -> list[_Check]:
    return _out_of_range(
        staged, table, present, PROBABILITIES, "({value}) <= 0 OR ({value}) > 1",
        "bad-probability",
        lambda n, ex: f"{_rows(n)} {_be(n)} not a probability in (0, 1], e.g. {ex}. A logged "
                      f"selection probability is above 0 (every shipment could have been "
                      f"examined) and at most 1; leave it empty where it was not logged.")


def _date_order(staged: Staging, table: str, present: dict[str, str]) -> list[_Check]:
    problems = []
    for later, earlier in DATE_ORDER:
        if later not in present or earlier not in present or later not in CONTRACT[table]:
            continue
        late = cast_expr(later, present[later], "DATE", cast="TRY_CAST", dialect=staged.dialect)
        early = cast_expr(earlier, present[earlier], "DATE", cast="TRY_CAST",
                          dialect=staged.dialect)
        problems += _problems(staged, table, later, f"({late}) < ({early})", [], "date-order",
                              _order_message(later, earlier))
    return problems


def _order_message(later: str, earlier: str) -> Callable[[int, str], str]:
    def describe(n: int, ex: str) -> str:
        return (f"{_rows(n)} {_have(n)} a {later} before the {earlier}, e.g. {ex}. It cannot "
                f"come first; correct the dates in the source.")
    return describe


def _duplicates(staged: Staging, table: str, column: str, noun: str) -> list[_Check]:
    if column not in staged.columns(table):
        return []
    bad = (f'"{column}" IN (SELECT "{column}" FROM "_src_{table}" GROUP BY ALL '
           f"HAVING count(*) > 1)")
    return _problems(
        staged, table, column, bad, [], f"duplicate-{column.replace('_', '-')}",
        lambda n, ex: f"{_rows(n)} {_have(n)} a value that appears more than once, e.g. "
                      f"{ex}. Each {noun} must appear once; remove or merge the duplicates.",
    )


def _unknown_shipments(staged: Staging) -> list[_Check]:
    if staged.config.data.labelled is not None:
        return []
    if any("shipment_id" not in staged.columns(table) for table in ("manifest", "exams")):
        return []
    # NOT EXISTS rather than NOT IN: Spark plans NOT IN as a null-aware join that falls back to
    # comparing every pair when the manifest is too large to broadcast.
    text = staged.dialect.text
    bad = (f'"shipment_id" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM "_src_manifest" m '
           f'WHERE CAST(m."shipment_id" AS {text}) = CAST("_src_exams"."shipment_id" AS {text}))')
    return _problems(
        staged, "exams", "shipment_id", bad, [], "unknown-shipment",
        lambda n, ex: f"{n} {'exam refers' if n == 1 else 'exams refer'} to shipments not in the "
                      f"manifest, e.g. {ex}. Add those shipments to the manifest, or remove the "
                      f"exams; they are never dropped silently.",
    )


# --- finding and describing bad rows ---------------------------------------------------


@dataclass(frozen=True)
class _Check:
    """Rows of a staged table where `condition` holds break the contract: one problem per
    source file holding any (found by `_found`)."""

    table: str
    column: str
    condition: str
    params: list[Any]
    code: str
    describe: Callable[[int, str], str]
    examples: bool


def _problems(
    staged: Staging, table: str, column: str, condition: str, params: list[Any], code: str,
    describe: Callable[[int, str], str], examples: bool = True,
) -> list[_Check]:
    return [_Check(table, column, condition, params, code, describe, examples)]


def _found(staged: Staging, checks: list[DataProblem | _Check]) -> list[DataProblem]:
    """The problems, in the order of the checks.

    Most data is clean: each table's conditions are counted in one scan first (conditions with
    a subquery each alone), and only those with bad rows are looked at file by file. On Spark a
    query costs a job of seconds whatever it finds; 21 counts of the bundled data took 25 s one
    by one."""
    counts: dict[int, int] = {}
    for table in ("manifest", "exams"):
        batch = [(i, c) for i, c in enumerate(checks)
                 if isinstance(c, _Check) and c.table == table and "SELECT" not in c.condition]
        if batch:
            row = staged.rows(
                "SELECT " + ", ".join(f"count(*) FILTER (WHERE {c.condition})" for _, c in batch)
                + f' FROM "_src_{table}"', [p for _, c in batch for p in c.params])[0]
            counts.update((i, n) for (i, _), n in zip(batch, row))
    problems: list[DataProblem] = []
    for i, check in enumerate(checks):
        if isinstance(check, DataProblem):
            problems.append(check)
        elif counts.get(i, 1):
            problems += _described(staged, check)
    return problems


def _described(staged: Staging, c: _Check) -> list[DataProblem]:
    """One problem per source file holding rows where the check's condition is true."""
    problems = []
    for file, count, values in _bad_rows(staged, c.table, c.column, c.condition, c.params):
        shown = ", ".join(repr(v) for v in values) if c.examples else ""
        problems.append(DataProblem(
            c.code, _file_label(staged, c.table, file),
            f"column {_column_label(staged, c.table, c.column)}: {c.describe(count, shown)}",
            count,
        ))
    return problems


def _bad_rows(
    staged: Staging, table: str, column: str, condition: str, params: list[Any]
) -> list[tuple[str, int, list[str]]]:
    """(file, bad row count, first distinct bad values in file order) per file, in the order
    of each file's first bad row."""
    rows = staged.rows(
        f"""WITH bad AS (
              SELECT "{FILE_COLUMN}" AS file, CAST("{column}" AS {staged.dialect.text}) AS value,
                {staged.row_order} AS r
              FROM "_src_{table}" WHERE {condition}),
            files AS (SELECT file, count(*) AS n, min(r) AS first FROM bad GROUP BY file),
            firsts AS (SELECT file, value, min(r) AS r FROM bad GROUP BY file, value),
            ranked AS (SELECT file, value, row_number() OVER (PARTITION BY file ORDER BY r) AS k
                       FROM firsts)
            SELECT f.file, f.n, x.value FROM files f
            LEFT JOIN ranked x ON x.file = f.file AND x.k <= ?
            ORDER BY f.first, x.k""",
        [*params, MAX_EXAMPLES],
    )
    found: dict[str, tuple[int, list[str]]] = {}
    for file, count, value in rows:
        values = found.setdefault(file, (count, []))[1]
        if value is not None:
            values.append(value)
    return [(file, count, values) for file, (count, values) in found.items()]


def _file_label(staged: Staging, table: str, file: str) -> str:
    source = getattr(staged.config.data, table)
    if source is None or source.table is not None:  # synthesised exams or a database table
        return staged.labels[table]
    return display_path(file)


def _column_label(staged: Staging, table: str, column: str) -> str:
    source = staged.source_name(table, column)
    return f"{column!r}" if source == column else f"{column!r} (source {source!r})"


def _rows(n: int) -> str:
    return f"{n} row" if n == 1 else f"{n} rows"


def _be(n: int) -> str:
    return "is" if n == 1 else "are"


def _have(n: int) -> str:
    return "has" if n == 1 else "have"


# --- profile ---------------------------------------------------------------------------


def profile(dataset: Dataset) -> dict[str, Any]:
    """Size, dates, ports, modes, exam and discrepancy rates, and null shares of a dataset."""
    con = dataset.con
    rows, first, last = con.execute(
        'SELECT count(*), min(arrival_date), max(arrival_date) FROM "manifest"').fetchall()[0]
    examined, discrepant, exams = con.execute(
        """SELECT count(DISTINCT e.shipment_id),
                  count(DISTINCT e.shipment_id) FILTER (WHERE e.result = 'discrepant'),
                  (SELECT count(*) FROM "exams")
           FROM "exams" e SEMI JOIN "manifest" m ON e.shipment_id = m.shipment_id"""
    ).fetchall()[0]
    return {
        "rows": rows,
        "date_min": first.isoformat() if first else None,
        "date_max": last.isoformat() if last else None,
        "ports": _counts(dataset, "port_code"),
        "modes": _counts(dataset, "mode"),
        "exams": exams,
        "examined_shipments": examined,
        "discrepant_shipments": discrepant,
        "exam_rate": examined / rows if rows else None,
        "discrepancy_rate": discrepant / examined if examined else None,
        "null_share": _null_shares(dataset, "manifest"),
        "exam_null_share": _null_shares(dataset, "exams"),
        "recording": recording_completeness(con, None, None).to_dicts(),
        "fields": field_profile(con, dataset.catalogue),
    }


def _counts(dataset: Dataset, column: str) -> dict[str, int]:
    if column not in dataset.catalogue:
        return {}
    rows = dataset.con.execute(
        f'SELECT "{column}", count(*) AS n FROM "manifest" GROUP BY 1 ORDER BY n DESC, 1'
    ).fetchall()
    return {str(value) if value is not None else "(empty)": n for value, n in rows}


def _null_shares(dataset: Dataset, table: str) -> dict[str, float]:
    columns = [r[0] for r in dataset.con.execute(f'DESCRIBE "{table}"').fetchall()]
    if not columns:
        return {}
    shares = ", ".join(f'avg(CASE WHEN "{c}" IS NULL THEN 1.0 ELSE 0.0 END)' for c in columns)
    values = dataset.con.execute(f'SELECT {shares} FROM "{table}"').fetchall()[0]
    return {c: (v if v is not None else 0.0) for c, v in zip(columns, values)}
