"""The data contract: the columns the manifest and exams may have, their types and vocabularies,
and the SQL that turns a source column into its contract type."""
from __future__ import annotations

import re

import duckdb

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


def cast_expr(column: str, source_type: str, target: str, cast: str = "CAST") -> str:
    """SQL turning a staged column into its contract type (text goes through VARCHAR).

    `cast="TRY_CAST"` gives NULL where a value does not convert (used by the checks).
    """
    col = ident(column)
    if source_type == target:
        return col
    if target == "VARCHAR":
        if source_type in ("FLOAT", "DOUBLE"):
            # a float column holding codes (40.0) should read as the code (40)
            return (f"CASE WHEN isfinite({col}) AND {col} = trunc({col}) "
                    f"THEN CAST(CAST({col} AS HUGEINT) AS VARCHAR) ELSE CAST({col} AS VARCHAR) END")
        return f"CAST({col} AS VARCHAR)"
    if target == "DATE" and source_type.startswith("TIMESTAMP"):
        return f"CAST({col} AS DATE)"
    if target == "DOUBLE" and NUMERIC.match(source_type):
        return f"CAST({col} AS DOUBLE)"
    if target == "BOOLEAN":
        return f"{cast}(lower(trim(CAST({col} AS VARCHAR))) AS BOOLEAN)"
    return f"{cast}(trim(CAST({col} AS VARCHAR)) AS {target})"


def infer_text_type(con: duckdb.DuckDBPyConnection, table: str, column: str) -> str:
    """The type a text column from a CSV should get: BOOLEAN, DOUBLE, DATE, else VARCHAR.

    Numbers with a leading zero ('007') stay text: they are codes, not quantities.
    """
    col = ident(column)
    row = con.execute(
        f"""SELECT count({col}),
              count_if(lower(trim({col})) IN ('true', 'false')),
              count_if(TRY_CAST(trim({col}) AS DOUBLE) IS NOT NULL
                       AND isfinite(TRY_CAST(trim({col}) AS DOUBLE))
                       AND NOT regexp_matches(trim({col}), '^[-+]?0[0-9]')),
              count_if(regexp_matches(trim({col}), '^\\d{{4}}-\\d{{2}}-\\d{{2}}$')
                       AND TRY_CAST(trim({col}) AS DATE) IS NOT NULL)
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
