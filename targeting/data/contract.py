"""The data contract: the columns the manifest and exams may have, their types and vocabularies,
and the SQL that turns a source column into its contract type."""
from __future__ import annotations

import re

import duckdb

from targeting.dialect import DUCKDB, Dialect
from targeting.rules.model import FieldType

# Contract columns: name -> DuckDB type. Required ones must be present in the source.
MANIFEST_COLUMNS: dict[str, str] = {
    "shipment_id": "VARCHAR",
    "arrival_date": "DATE",
    "port_code": "VARCHAR",
    "mode": "VARCHAR",
    "importer_id": "VARCHAR",
    "consignee_id": "VARCHAR",
    "shipper_id": "VARCHAR",
    "carrier_code": "VARCHAR",
    "hts_code": "VARCHAR",
    "description": "VARCHAR",
    "country_of_origin": "VARCHAR",
    "country_of_export": "VARCHAR",
    "quantity": "DOUBLE",
    "declared_value": "DOUBLE",
    "weight_kg": "DOUBLE",
}
EXAM_COLUMNS: dict[str, str] = {
    "exam_id": "VARCHAR",
    "shipment_id": "VARCHAR",
    "exam_date": "DATE",
    "result": "VARCHAR",
    "disposition": "VARCHAR",
    "selection_method": "VARCHAR",
    "selector_id": "VARCHAR",
    "msrp": "DOUBLE",
    "domestic_value": "DOUBLE",
    "referred_to_ice": "BOOLEAN",
    # Optional, what a targeting system logs: the probability, fixed at arrival, that the
    # shipment would be examined at all (its propensity), in (0, 1].
    "selection_probability": "DOUBLE",
    # Optional: the referral to investigators, when it was made, whether it was taken, its outcome.
    "referral_date": "DATE",
    "referral_accepted": "BOOLEAN",
    "referral_outcome": "VARCHAR",
}
REQUIRED: dict[str, tuple[str, ...]] = {
    "manifest": ("shipment_id", "arrival_date", "port_code"),
    "exams": ("shipment_id", "result"),
}
CONTRACT = {"manifest": MANIFEST_COLUMNS, "exams": EXAM_COLUMNS}
TABLES = ("manifest", "exams")
VOCABULARIES: dict[str, tuple[str, ...]] = {
    "result": ("discrepant", "no_discrepancy"),
    "disposition": ("seizure", "voluntary_abandonment", "refused_entry", "penalty", "other"),
    "selection_method": ("udr", "query", "observation", "random", "tip", "other"),
}
NON_NEGATIVE = ("quantity", "declared_value", "weight_kg", "msrp", "domestic_value")
PROBABILITIES = ("selection_probability",)   # in (0, 1]
# (later, earlier): a date that may not come before another of the same row.
DATE_ORDER = (("referral_date", "exam_date"),)
CATALOGUE_TYPES: dict[str, FieldType] = {
    "VARCHAR": "text", "BOOLEAN": "bool", "DATE": "date", "TIMESTAMP": "date",
    "TIMESTAMP WITH TIME ZONE": "date", "TIMESTAMP_NS": "date", "TIMESTAMP_MS": "date",
    "TIMESTAMP_S": "date",
}
NUMERIC = re.compile(r"^(U?(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT)|FLOAT|DOUBLE|DECIMAL.*)$")


def field_type(duckdb_type: str) -> FieldType | None:
    """The rule field type of a DuckDB column type (None: rules cannot use the column)."""
    return CATALOGUE_TYPES.get(duckdb_type) or ("number" if NUMERIC.match(duckdb_type) else None)


def ident(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def cast_expr(column: str, source_type: str, target: str, cast: str = "CAST",
              dialect: Dialect = DUCKDB) -> str:
    """SQL turning a staged column into its contract type (text goes through text).

    `cast="TRY_CAST"` gives NULL where a value does not convert (used by the checks). Text is
    converted by one definition in every engine (`text_to`): DuckDB's and Spark's own casts
    accept different spellings ('2024/01/05' and 'epoch' are dates to DuckDB, '12d' a number
    to Spark).
    """
    col = ident(column)
    text = dialect.text
    if source_type == target:
        return col
    if target == "VARCHAR":
        if source_type in ("FLOAT", "DOUBLE"):
            # a float column holding codes (40.0) should read as the code (40)
            return (f"CASE WHEN {dialect.isfinite_sql(col)} AND {col} = floor({col}) "
                    f"THEN CAST(CAST({col} AS {dialect.wide_int}) AS {text}) "
                    f"ELSE CAST({col} AS {text}) END")
        return f"CAST({col} AS {text})"
    if target == "DATE" and source_type.startswith("TIMESTAMP"):
        return f"CAST({col} AS DATE)"
    if target == "DOUBLE" and NUMERIC.match(source_type):
        return f"CAST({col} AS DOUBLE)"
    return text_to(target, f"CAST({col} AS {text})", cast, dialect)


_TRIMMED = "trim(BOTH chr(32) || chr(9) || chr(10) || chr(13) FROM {x})"
# Whole-value patterns, tested as regexp_extract(value, '^(...)', 0) = value: neither `$` nor a
# backslash, which Spark's SQL literals and Java's `$` would read otherwise.
_NUMBER = "[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?"
_DATE = ("[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"
         "([ T]([01]?[0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9]([.][0-9]+)?)?)?")
_BOOLS = {"true": "TRUE", "t": "TRUE", "yes": "TRUE", "y": "TRUE", "1": "TRUE",
          "false": "FALSE", "f": "FALSE", "no": "FALSE", "n": "FALSE", "0": "FALSE"}


def text_to(target: str, text_sql: str, cast: str = "CAST", dialect: Dialect = DUCKDB) -> str:
    """SQL converting text to DATE, DOUBLE or BOOLEAN, the same in every engine: a date is
    YYYY-MM-DD, optionally with a time; a number is plain decimal or scientific notation;
    true/false (also t/f, yes/no, y/n, 1/0, in any case). Anything else is NULL (with
    `cast="TRY_CAST"`; only checked data is typed with CAST)."""
    x = _TRIMMED.format(x=text_sql)
    if target == "BOOLEAN":
        cases = " ".join(f"WHEN '{word}' THEN {value}" for word, value in _BOOLS.items())
        return f"(CASE lower({x}) {cases} END)"
    pattern = {"DOUBLE": _NUMBER, "DATE": _DATE}.get(target)
    if pattern is None:
        return f"{cast}({x} AS {target})"
    return f"(CASE WHEN regexp_extract({x}, '^({pattern})', 0) = {x} THEN {cast}({x} AS {target}) END)"


def infer_text_type(con: duckdb.DuckDBPyConnection, table: str, column: str) -> str:
    """The type a text column from a CSV should get: BOOLEAN, DOUBLE, DATE, else VARCHAR.

    Numbers with a leading zero ('007') stay text: they are codes, not quantities.
    """
    col = ident(column)
    row = con.execute(
        f"""SELECT count({col}),
              count_if(lower(trim({col})) IN ('true', 'false')),
              count_if(isfinite({text_to("DOUBLE", col, "TRY_CAST")})
                       AND NOT regexp_matches(trim({col}), '^[-+]?0[0-9]')),
              count_if(regexp_matches(trim({col}), '^\\d{{4}}-\\d{{2}}-\\d{{2}}$')
                       AND {text_to("DATE", col, "TRY_CAST")} IS NOT NULL)
            FROM {ident(table)}"""
    ).fetchall()[0]
    total, bools, numbers, dates = row
    if total == 0:
        return "VARCHAR"
    for count, kind in ((bools, "BOOLEAN"), (numbers, "DOUBLE"), (dates, "DATE")):
        if count == total:
            return kind
    return "VARCHAR"


def table_catalogue(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, FieldType]:
    """Field name -> rule field type for a table's columns (unsupported types left out)."""
    result: dict[str, FieldType] = {}
    for name, kind, *_ in con.execute(f"DESCRIBE {ident(table)}").fetchall():
        found = field_type(kind)
        if found is not None:
            result[name] = found
    return result
