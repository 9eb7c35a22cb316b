"""Find, read and check targeting.yaml, the project configuration."""
from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from targeting.data.settings import (
    GateSettings,
    PromotionSettings,
    SparkSettings,
    parse_engine,
    parse_settings,
    parse_spark,
)
from targeting.errors import ConfigError

CONFIG_NAME = "targeting.yaml"
TOP_KEYS = ("data", "lists", "rules", "queries", "priorities", "promotion", "gate", "engine",
            "spark")
DATA_KEYS = ("manifest", "exams", "database", "columns", "values", "labelled")
LABELLED_KEYS = ("column", "discrepant")
TABLES = ("manifest", "exams")
IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")
URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")  # hdfs://, s3a://, abfss://, gs://, file://


@dataclass(frozen=True)
class Source:
    """Where one table comes from: a file path or glob (absolute), a URI the Spark engine reads
    (hdfs://, s3a://, ...), or a table in `database` (DuckDB) or in Spark's catalog."""

    pattern: str | None = None
    table: str | None = None

    def describe(self) -> str:
        return f"table {self.table!r}" if self.table else str(self.pattern)

    @property
    def is_uri(self) -> bool:
        return self.pattern is not None and URI.match(self.pattern) is not None


@dataclass(frozen=True)
class Labelled:
    """Labelled-manifest mode: every manifest row is an exam; `column` holds the outcome."""

    column: str
    discrepant: tuple[Any, ...]


@dataclass(frozen=True)
class DataConfig:
    """The `data` section: sources, column and value mappings, labelled mode."""

    manifest: Source
    exams: Source | None = None
    database: Path | None = None
    columns: dict[str, dict[str, str]] = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    labelled: Labelled | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def spark_only(self) -> str | None:
        """Why only the Spark engine can read these sources (a URI or a catalog table), or None."""
        for name, source in (("manifest", self.manifest), ("exams", self.exams)):
            if source is not None and source.is_uri:
                return f"data.{name} is a URI ({source.pattern})"
            if source is not None and source.table is not None and self.database is None:
                return f"data.{name} is a Spark catalog table ({source.table})"
        return None


@dataclass(frozen=True)
class Config:
    """The whole project configuration with every path made absolute."""

    path: Path
    root: Path
    data: DataConfig
    lists_dir: Path
    rule_dirs: tuple[Path, ...]
    query_dirs: tuple[Path, ...]
    priorities: tuple[str, ...]
    promotion: PromotionSettings
    gate: GateSettings
    lists_explicit: bool = False
    engine: str = "auto"
    spark: SparkSettings = field(default_factory=SparkSettings)


def find_config(start: Path | None = None) -> Path:
    """The nearest targeting.yaml in `start` (default: the working directory) or above it."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / CONFIG_NAME
        if candidate.is_file():
            return candidate
    raise ConfigError(
        f"no {CONFIG_NAME} found in {here} or any folder above it. "
        f"Try running from your project folder, or pass --config PATH."
    )


def load_config(path: Path | None = None, start: Path | None = None) -> Config:
    """Read and check a targeting.yaml (given, or found from `start` upwards)."""
    path = Path(path) if path is not None else find_config(start)
    shown = display_path(path)
    if not path.is_file():
        raise ConfigError(f"{shown}: config file not found. Try --config with an existing file.")
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{shown}: not valid YAML: {exc}") from exc
    return _build(Path(os.path.abspath(path)), shown, doc if doc is not None else {})


def display_path(path: Path | str) -> str:
    """A path relative to the working directory when that is shorter, for messages."""
    try:
        rel = os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return str(path)
    return rel if not rel.startswith("..") else str(path)


def _build(path: Path, shown: str, doc: Any) -> Config:
    _expect(doc, dict, shown, "top level", "a mapping of keys such as data, rules, queries")
    _no_unknown(doc, TOP_KEYS, shown, "top level")
    root = path.parent
    if "data" not in doc:
        raise ConfigError(f"{shown}: missing key 'data'. Add a data section naming the manifest.")
    engine = parse_engine(doc.get("engine", "auto"), shown)
    return Config(
        path=path,
        root=root,
        data=_data(doc["data"], root, shown, spark=engine == "spark"),
        lists_dir=root / _text(doc.get("lists", "lists"), shown, "lists"),
        rule_dirs=_dirs(doc.get("rules", ["rules"]), root, shown, "rules"),
        query_dirs=_dirs(doc.get("queries", ["queries"]), root, shown, "queries"),
        priorities=tuple(_texts(doc.get("priorities", []), shown, "priorities")),
        promotion=parse_settings(PromotionSettings, doc.get("promotion"), shown, "promotion"),
        gate=parse_settings(GateSettings, doc.get("gate"), shown, "gate"),
        lists_explicit="lists" in doc,
        engine=engine,
        spark=parse_spark(doc.get("spark"), shown),
    )


def _data(section: Any, root: Path, shown: str, spark: bool = False) -> DataConfig:
    _expect(section, dict, shown, "data", "a mapping with manifest, exams, columns, ...")
    _no_unknown(section, DATA_KEYS, shown, "data")
    database = section.get("database")
    db_path = root / _text(database, shown, "data.database") if database is not None else None
    if "manifest" not in section:
        raise ConfigError(f"{shown}: data: missing key 'manifest'. Name the manifest file or glob.")
    labelled = _labelled(section.get("labelled"), shown)
    exams = section.get("exams")
    if labelled is None and exams is None:
        raise ConfigError(
            f"{shown}: data: missing key 'exams'. Name the exam findings file, or use "
            f"'labelled' if every manifest row is an examined record."
        )
    if labelled is not None and exams is not None:
        raise ConfigError(
            f"{shown}: data: 'exams' and 'labelled' are both set; use one. "
            f"'labelled' builds the exams from the manifest's label column."
        )
    if spark and db_path is not None:
        raise ConfigError(
            f"{shown}: data.database is a DuckDB file, which the Spark engine does not read. "
            f"Name Parquet files or tables of the Spark catalog ({{table: customs.manifest}}) "
            f"without data.database, or use another engine."
        )
    return DataConfig(
        manifest=_source(section["manifest"], root, db_path, shown, "data.manifest", spark),
        exams=(_source(exams, root, db_path, shown, "data.exams", spark)
               if exams is not None else None),
        database=db_path,
        columns=_columns(section.get("columns", {}), shown),
        values=_values(section.get("values", {}), shown),
        labelled=labelled,
        raw=section,
    )


def _source(value: Any, root: Path, database: Path | None, shown: str, key: str,
            spark: bool = False) -> Source:
    if isinstance(value, dict):
        _no_unknown(value, ("table",), shown, key)
        if database is None and not spark:
            raise ConfigError(
                f"{shown}: {key}: a table name needs 'data.database' (a DuckDB file), or "
                f"'engine: spark' for a table of the Spark catalog. Add one, or give a file path."
            )
        return Source(table=_text(value.get("table"), shown, f"{key}.table"))
    text = _text(value, shown, key)
    if URI.match(text):
        if not spark:
            raise ConfigError(
                f"{shown}: {key}: {text!r} is a URI, which only the Spark engine reads. Add "
                f"'engine: spark', or give a local .parquet or .csv file or glob."
            )
        return Source(pattern=text)  # a file, folder or glob of Parquet files, read by Spark
    if not text.lower().endswith((".parquet", ".csv")):
        raise ConfigError(
            f"{shown}: {key}: {text!r} is neither .parquet nor .csv. "
            f"Give a .parquet or .csv file or glob, or {{table: NAME}} with data.database."
        )
    return Source(pattern=str(root / text))


def _columns(value: Any, shown: str) -> dict[str, dict[str, str]]:
    _expect(value, dict, shown, "data.columns", "a mapping with 'manifest' and/or 'exams'")
    _no_unknown(value, TABLES, shown, "data.columns")
    result = {}
    for table in TABLES:
        mapping = value.get(table) or {}
        key = f"data.columns.{table}"
        _expect(mapping, dict, shown, key, "a mapping of source column name -> contract name")
        result[table] = {
            str(src): _identifier(dst, shown, f"{key}.{src}") for src, dst in mapping.items()
        }
    return result


def _values(value: Any, shown: str) -> dict[str, dict[str, str]]:
    _expect(value, dict, shown, "data.values", "a mapping of column -> {source value: value}")
    result = {}
    for column, mapping in value.items():
        key = f"data.values.{column}"
        _identifier(column, shown, key)
        _expect(mapping, dict, shown, key, "a mapping of source value -> contract value")
        result[column] = {
            _scalar_text(src): _text(dst, shown, f"{key}.{src}") for src, dst in mapping.items()
        }
    return result


def _labelled(value: Any, shown: str) -> Labelled | None:
    if value is None:
        return None
    _expect(value, dict, shown, "data.labelled", "a mapping with 'column' and 'discrepant'")
    _no_unknown(value, LABELLED_KEYS, shown, "data.labelled")
    for key in LABELLED_KEYS:
        if key not in value:
            raise ConfigError(
                f"{shown}: data.labelled: missing key {key!r}. Example: "
                f"labelled: {{column: fraud, discrepant: [1]}}"
            )
    discrepant = value["discrepant"]
    discrepant = discrepant if isinstance(discrepant, list) else [discrepant]
    if not discrepant or any(isinstance(v, (dict, list)) or v is None for v in discrepant):
        raise ConfigError(
            f"{shown}: data.labelled.discrepant: must be a value or a non-empty list of values "
            f"(numbers, text or true/false) meaning 'discrepant'."
        )
    column = _identifier(value["column"], shown, "data.labelled.column")
    return Labelled(column=column, discrepant=tuple(discrepant))


def _dirs(value: Any, root: Path, shown: str, key: str) -> tuple[Path, ...]:
    items = [value] if isinstance(value, str) else value
    return tuple(root / item for item in _texts(items, shown, key))


def _texts(value: Any, shown: str, key: str) -> list[str]:
    _expect(value, list, shown, key, "a list of names")
    return [_text(item, shown, f"{key}[{i}]") for i, item in enumerate(value)]


def _text(value: Any, shown: str, key: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{shown}: {key}: expected a non-empty text value, got {value!r}.")
    return value


def _identifier(value: Any, shown: str, key: str) -> str:
    if not isinstance(value, str) or not IDENTIFIER.match(value):
        raise ConfigError(
            f"{shown}: {key}: {value!r} is not a valid column name; use lower case letters, "
            f"digits and underscores, starting with a letter (e.g. shipment_id)."
        )
    return value


def _scalar_text(value: Any) -> str:
    # YAML reads `1:` as an int and `true:` as a bool; data values are compared as text.
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _expect(value: Any, kind: type, shown: str, key: str, allowed: str) -> None:
    if not isinstance(value, kind):
        got = type(value).__name__ if value is not None else "nothing"
        raise ConfigError(f"{shown}: {key}: expected {allowed}, got {got}.")


def _no_unknown(mapping: dict[str, Any], allowed: tuple[str, ...], shown: str, where: str) -> None:
    for key in mapping:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(
                f"{shown}: {where}: unknown key {key!r}; allowed: {', '.join(allowed)}{hint}"
            )
