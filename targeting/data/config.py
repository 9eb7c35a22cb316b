"""Find, read and check targeting.yaml, the project configuration."""
from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from targeting.canonical import digest
from targeting.data.settings import (
    DataChecks,
    GateSettings,
    LedgerSettings,
    PromotionSettings,
    SparkSettings,
    parse_engine,
    parse_settings,
    parse_spark,
)
from targeting.errors import ConfigError
from targeting.rules.limits import RuleLimits, yaml_limit_problem
from targeting.text import decode_position

CONFIG_NAME = "targeting.yaml"
TOP_KEYS = ("data", "lists", "rules", "queries", "priorities", "promotion", "gate", "ledger",
            "limits", "engine", "spark")
DATA_KEYS = ("manifest", "exams", "database", "columns", "values", "labelled", "extracted",
             "earliest", "implausible_arrivals")
CHECK_KEYS = ("extracted", "earliest", "implausible_arrivals")  # typed as DataChecks
LABELLED_KEYS = ("column", "discrepant")
TABLES = ("manifest", "exams")
IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")
URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")  # hdfs://, s3a://, abfss://, gs://, file://
# CSV encodings DuckDB reads without an extension: the spellings people use -> DuckDB's name.
ENCODINGS = {"utf-8": "utf-8", "utf8": "utf-8", "utf-16": "utf-16", "utf16": "utf-16",
             "latin-1": "latin-1", "latin1": "latin-1", "iso-8859-1": "latin-1"}


@dataclass(frozen=True)
class Source:
    """Where one table comes from: a file path or glob (absolute), a URI the Spark engine reads
    (hdfs://, s3a://, ...), or a table in `database` (DuckDB) or in Spark's catalog; a CSV
    source's `encoding` when it is set."""

    pattern: str | None = None
    table: str | None = None
    encoding: str | None = None

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
    checks: DataChecks = field(default_factory=DataChecks)

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
    ledger: LedgerSettings = field(default_factory=LedgerSettings)
    lists_explicit: bool = False
    engine: str = "auto"
    spark: SparkSettings = field(default_factory=SparkSettings)
    limits: RuleLimits = field(default_factory=RuleLimits)

    def governed(self) -> dict[str, Any]:
        """Every setting that decides what the gate and the policy accept: the thresholds, the
        signature rules, which folders hold rules, what data they are measured on. The gate
        reads them from the base revision; changing them is a policy change (docs/gate.md)."""
        return {"promotion": self.promotion.values, "gate": self.gate.values,
                "ledger": self.ledger.values, "rules": [self._rel(d) for d in self.rule_dirs],
                "queries": [self._rel(d) for d in self.query_dirs], "data": self.data.raw,
                "lists": self._rel(self.lists_dir), "priorities": list(self.priorities)}

    @property
    def settings_hash(self) -> str:
        """sha256 of the canonical JSON of `governed()`: which settings were in force."""
        return digest(self.governed())

    def _rel(self, path: Path) -> str:
        return os.path.relpath(path, self.root).replace(os.sep, "/")


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
    return config_from_text(_config_text(path, shown), path, shown)


def config_from_text(text: str, path: Path, shown: str | None = None) -> Config:
    """A configuration read from `text` as if it were the file at `path` (paths in it are
    relative to `path`'s folder): how the gate reads the base revision's targeting.yaml."""
    shown = shown or display_path(path)
    limit = yaml_limit_problem(text, CONFIG_LIMITS, where=None)
    if limit is not None:
        raise ConfigError(f"{shown}:{limit.line + 1}:{limit.column + 1}: {limit.message}.")
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{shown}: not valid YAML: {exc}") from exc
    except (ValueError, TypeError, AttributeError, OverflowError) as exc:
        # PyYAML's constructors: a date such as 2024-02-30, !!int abc
        raise ConfigError(f"{shown}: a value cannot be read ({exc}); write dates as "
                          "YYYY-MM-DD, and quote values that are text") from None
    repeated = _repeated_key(text)
    if repeated is not None:
        key, first, again = repeated
        raise ConfigError(f"{shown}:{again.line + 1}:{again.column + 1}: '{key}' appears twice in "
                          f"one mapping (first at line {first.line + 1}); YAML would keep only "
                          "the last. Keep one of them.")
    return _build(Path(os.path.abspath(path)), shown, doc if doc is not None else {})


def _repeated_key(text: str) -> tuple[str, yaml.Mark, yaml.Mark] | None:
    """The first key that appears twice in one mapping, with where it first and again appears:
    PyYAML keeps the last silently, so `gate:` written twice would drop the first's settings."""
    loader = yaml.SafeLoader(text)
    try:
        stack = [loader.get_single_node()]
    finally:
        loader.dispose()
    walked: set[int] = set()  # aliases share nodes, and may even refer to their own parent
    while stack:
        node = stack.pop()
        if id(node) in walked:
            continue
        walked.add(id(node))
        if isinstance(node, yaml.MappingNode):
            seen: dict[tuple[str, str], yaml.Mark] = {}
            for key, _ in node.value:
                if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                    if (key.tag, key.value) in seen:
                        return key.value, seen[(key.tag, key.value)], key.start_mark
                    seen[(key.tag, key.value)] = key.start_mark
            stack += [item for pair in node.value for item in pair]
        elif isinstance(node, yaml.SequenceNode):
            stack += node.value
    return None


# The configuration is read before its own `limits:` are known, so it has fixed ones.
CONFIG_LIMITS = RuleLimits(max_file_bytes=10_000_000, max_yaml_nodes=200_000, max_depth=64)


def _config_text(path: Path, shown: str) -> str:
    """The config's text, refused with a ConfigError when it is too large or not UTF-8 (what
    it expands to is checked by config_from_text)."""
    try:
        size = path.stat().st_size
        if size > CONFIG_LIMITS.max_file_bytes:
            raise ConfigError(f"{shown}: the file is {size:,} bytes; a targeting.yaml may have "
                              f"at most {CONFIG_LIMITS.max_file_bytes:,}. Check it is the "
                              "project's configuration.")
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{shown}: cannot read the file: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, column = decode_position(raw, exc)
        raise ConfigError(f"{shown}:{line}:{column}: byte 0x{raw[exc.start]:02X} is not UTF-8. "
                          "Save the file as UTF-8 (most editors offer it under 'encoding').") from None
    return text


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
        ledger=parse_settings(LedgerSettings, doc.get("ledger"), shown, "ledger"),
        lists_explicit="lists" in doc,
        engine=engine,
        spark=parse_spark(doc.get("spark"), shown),
        limits=parse_settings(RuleLimits, doc.get("limits"), shown, "limits"),
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
        checks=parse_settings(DataChecks, {k: v for k, v in section.items() if k in CHECK_KEYS},
                              shown, "data"),
    )


def _source(value: Any, root: Path, database: Path | None, shown: str, key: str,
            spark: bool = False) -> Source:
    if isinstance(value, dict) and "table" not in value:
        _no_unknown(value, ("path", "encoding"), shown, key)
        pattern = _file_pattern(value.get("path"), root, shown, f"{key}.path", spark)
        return Source(pattern=pattern, encoding=_encoding(value.get("encoding"), pattern, shown,
                                                          f"{key}.encoding"))
    if isinstance(value, dict):
        _no_unknown(value, ("table",), shown, key)
        if database is None and not spark:
            raise ConfigError(
                f"{shown}: {key}: a table name needs 'data.database' (a DuckDB file), or "
                f"'engine: spark' for a table of the Spark catalog. Add one, or give a file path."
            )
        return Source(table=_text(value.get("table"), shown, f"{key}.table"))
    return Source(pattern=_file_pattern(value, root, shown, key, spark))


def _file_pattern(value: Any, root: Path, shown: str, key: str, spark: bool = False) -> str:
    text = _text(value, shown, key)
    if URI.match(text):
        if not spark:
            raise ConfigError(
                f"{shown}: {key}: {text!r} is a URI, which only the Spark engine reads. Add "
                f"'engine: spark', or give a local .parquet or .csv file or glob."
            )
        return text  # a file, folder or glob of Parquet files, read by Spark
    if not text.lower().endswith((".parquet", ".csv")):
        raise ConfigError(
            f"{shown}: {key}: {text!r} is neither .parquet nor .csv. "
            f"Give a .parquet or .csv file or glob, or {{table: NAME}} with data.database."
        )
    return str(root / text)


def _encoding(value: Any, pattern: str, shown: str, key: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or value.lower() not in ENCODINGS:
        raise ConfigError(f"{shown}: {key}: {value!r} is not an encoding this tool reads; use "
                          "utf-8, utf-16 or latin-1 (or save the file as UTF-8)")
    if not pattern.lower().endswith(".csv"):
        raise ConfigError(f"{shown}: {key}: only CSV files have an encoding; remove it for a "
                          "Parquet source")
    return ENCODINGS[value.lower()]


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
