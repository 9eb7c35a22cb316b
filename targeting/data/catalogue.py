"""The manifest's fields and their rule types, known without reading or checking the rows: what
`validate` and `compile` check rules against, so a broken exams file does not stop anyone
checking rules."""
from __future__ import annotations

import glob

import duckdb

from targeting.data.config import Config
from targeting.data.contract import MANIFEST_COLUMNS, field_type, infer_text_type
from targeting.data.reading import read_error
from targeting.data.sources import snake_case, stage
from targeting.db import connect
from targeting.rules.model import Catalogue, FieldType


def field_catalogue(config: Config) -> Catalogue:
    """Field name -> rule type, as the typed manifest will have them."""
    return _parquet_catalogue(config) or _staged_catalogue(config)


def _parquet_catalogue(config: Config) -> Catalogue | None:
    """Field types from the manifest's Parquet schema alone (no rows read), or None."""
    paths = sorted(glob.glob(config.data.manifest.pattern or "", recursive=True))
    if not paths or not all(p.lower().endswith(".parquet") for p in paths):
        return None
    con = connect(":memory:")
    try:
        rows = con.execute("DESCRIBE SELECT * FROM read_parquet(?, union_by_name=true)",
                           [paths]).fetchall()
    except duckdb.Error as exc:
        raise read_error(exc, paths, "parquet", "data.manifest") from None
    finally:
        con.close()
    mapping = config.data.columns.get("manifest", {})
    catalogue: dict[str, FieldType] = {}
    for source, source_type, *_ in rows:
        name = mapping.get(source, snake_case(source))
        # value-mapped columns become text (sources._value_mapped)
        kind = "VARCHAR" if name in config.data.values else source_type
        found = field_type(MANIFEST_COLUMNS.get(name, kind))
        if found is not None:
            catalogue[name] = found
    return catalogue


def _staged_catalogue(config: Config) -> Catalogue:
    """Manifest field types as typing the staged data would give them."""
    staged = stage(config)
    try:
        catalogue: dict[str, FieldType] = {}
        for name, staged_type in staged.columns("manifest").items():
            kind = staged_type
            if name in MANIFEST_COLUMNS:
                kind = MANIFEST_COLUMNS[name]
            elif staged.from_text["manifest"]:
                kind = infer_text_type(staged.con, "_src_manifest", name)
            found = field_type(kind)
            if found is not None:
                catalogue[name] = found
        return catalogue
    finally:
        staged.con.close()
