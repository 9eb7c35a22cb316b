"""targeting.yaml: finding it, resolving paths, and rejecting bad keys with a useful message."""
from __future__ import annotations

from pathlib import Path

import pytest

from targeting.data.config import Labelled, Source, load_config
from targeting.data.settings import GateSettings, PromotionSettings, SparkSettings
from targeting.errors import ConfigError

TINY = Path(__file__).parent / "data" / "contract"


def write(folder: Path, text: str) -> Path:
    path = folder / "targeting.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_tiny_config_resolves_paths_relative_to_the_file() -> None:
    config = load_config(TINY / "targeting.yaml")
    assert config.root == TINY
    assert config.data.manifest == Source(pattern=str(TINY / "manifest.csv"))
    assert config.data.exams == Source(pattern=str(TINY / "exams.csv"))
    assert config.data.columns == {"manifest": {"Declaration ID": "shipment_id"}, "exams": {}}
    assert config.data.values == {"result": {"1": "discrepant", "0": "no_discrepancy"}}
    assert config.lists_dir == TINY / "lists"
    assert config.rule_dirs == (TINY / "rules",)
    assert config.query_dirs == (TINY / "queries",)
    assert config.priorities == ("health_safety",)
    assert config.promotion == PromotionSettings() and config.gate == GateSettings()


def test_found_from_a_subfolder(tmp_path: Path) -> None:
    write(tmp_path, "data: {manifest: m.parquet, exams: e.parquet}\n")
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    assert load_config(start=nested).path == tmp_path / "targeting.yaml"


def test_not_found_says_how_to_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no targeting.yaml found in .* Try running from your "
                                          r"project folder, or pass --config PATH."):
        load_config(start=tmp_path)


def test_labelled_mode_and_raw_sections(tmp_path: Path) -> None:
    path = write(tmp_path, """
data:
  manifest: "parts/*.parquet"
  labelled: {column: fraud, discrepant: 1}
rules: extra_rules
promotion: {min_ports: 2}
gate: {max_workload_growth: 0.5}
""")
    config = load_config(path)
    assert config.data.labelled == Labelled(column="fraud", discrepant=(1,))
    assert config.data.exams is None
    assert config.data.manifest.pattern == str(tmp_path / "parts" / "*.parquet")
    assert config.rule_dirs == (tmp_path / "extra_rules",)
    assert config.promotion == PromotionSettings(min_ports=2)
    assert config.gate == GateSettings(max_workload_growth=0.5)


def test_database_tables(tmp_path: Path) -> None:
    path = write(tmp_path, "data: {database: h.duckdb, manifest: {table: m}, exams: {table: e}}\n")
    config = load_config(path)
    assert config.data.database == tmp_path / "h.duckdb"
    assert config.data.manifest == Source(table="m")
    assert config.data.exams == Source(table="e")


def test_spark_engine_sources_and_settings(tmp_path: Path) -> None:
    """With engine: spark, sources may be URIs or Spark catalog tables, kept as written."""
    path = write(tmp_path, """
engine: spark
spark:
  master: spark://head:7077
  conf: {spark.executor.memory: 8g, spark.executor.instances: 40, spark.sql.adaptive.enabled: true}
data:
  manifest: s3a://customs-lake/manifest/
  exams: {table: customs.exam_findings}
""")
    config = load_config(path)
    assert config.engine == "spark"
    assert config.spark == SparkSettings(master="spark://head:7077", conf={
        "spark.executor.memory": "8g", "spark.executor.instances": "40",
        "spark.sql.adaptive.enabled": "true"})
    assert config.data.manifest == Source(pattern="s3a://customs-lake/manifest/")
    assert config.data.exams == Source(table="customs.exam_findings")
    assert config.data.spark_only == "data.manifest is a URI (s3a://customs-lake/manifest/)"


def test_engine_defaults_and_spellings(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "data: {manifest: m.parquet, exams: e.parquet}\n"))
    assert (config.engine, config.spark) == ("auto", SparkSettings())
    assert config.data.spark_only is None
    config = load_config(write(tmp_path, "engine: duckdb\nspark: {connect: 'sc://h:15002'}\n"
                                         "data: {manifest: m.parquet, exams: e.parquet}\n"))
    assert (config.engine, config.spark.connect, config.spark.master) == ("auto", "sc://h:15002",
                                                                          "local[*]")


def test_a_uri_source_needs_the_spark_engine_at_run_time(tmp_path: Path) -> None:
    """--engine spark on the command line cannot rescue a config that only Spark reads: the
    DuckDB engines say what to do."""
    from targeting.project import Project

    path = write(tmp_path, "engine: spark\ndata: {manifest: 'hdfs://nn/m/', exams: 'hdfs://nn/e/'}\n")
    with pytest.raises(ConfigError, match=r"^data.manifest is a URI \(hdfs://nn/m/\), which only the "
                                          r"Spark engine reads; use --engine spark"):
        Project(load_config(path), "auto").dataset


def test_data_check_of_lake_sources_says_where_they_are_checked(tmp_path: Path) -> None:
    from targeting.data.checks import check

    path = write(tmp_path, "engine: spark\ndata: {manifest: {table: customs.manifest}, "
                           "labelled: {column: fraud, discrepant: [1]}}\n")
    with pytest.raises(ConfigError, match=r"^data.manifest is a Spark catalog table "
                                          r"\(customs.manifest\): `data check` reads with DuckDB."):
        check(load_config(path))


def test_yaml_int_keys_in_value_mapping_become_text(tmp_path: Path) -> None:
    path = write(tmp_path, "data: {manifest: m.csv, exams: e.csv, values: {result: {1: discrepant, "
                           "0: no_discrepancy}, referred_to_ice: {true: Y}}}\n")
    assert load_config(path).data.values == {
        "result": {"1": "discrepant", "0": "no_discrepancy"}, "referred_to_ice": {"true": "Y"}}


@pytest.mark.parametrize(("text", "message"), [
    ("data: {manifest: m.csv, exams: e.csv}\nprioritys: []\n",
     "targeting.yaml: top level: unknown key 'prioritys'; allowed: data, lists, rules, queries, "
     "priorities, promotion, gate, ledger, limits, engine, spark (did you mean 'priorities'?)"),
    ("data: {manifest: m.csv, exam: e.csv}\n",
     "targeting.yaml: data: unknown key 'exam'; allowed: manifest, exams, database, columns, "
     "values, labelled, extracted, earliest, implausible_arrivals (did you mean 'exams'?)"),
    ("rules: [rules]\n",
     "targeting.yaml: missing key 'data'. Add a data section naming the manifest."),
    ("data: {manifest: m.csv}\n",
     "targeting.yaml: data: missing key 'exams'. Name the exam findings file, or use 'labelled' "
     "if every manifest row is an examined record."),
    ("data: {manifest: m.csv, exams: e.csv, labelled: {column: fraud, discrepant: [1]}}\n",
     "targeting.yaml: data: 'exams' and 'labelled' are both set; use one. 'labelled' builds the "
     "exams from the manifest's label column."),
    ("data: {manifest: m.xlsx, exams: e.csv}\n",
     "targeting.yaml: data.manifest: 'm.xlsx' is neither .parquet nor .csv. Give a .parquet or "
     ".csv file or glob, or {table: NAME} with data.database."),
    ("data: {manifest: {table: m}, exams: e.csv}\n",
     "targeting.yaml: data.manifest: a table name needs 'data.database' (a DuckDB file), or "
     "'engine: spark' for a table of the Spark catalog. Add one, or give a file path."),
    ("data: {manifest: m.csv, exams: e.csv}\npriorities: health\n",
     "targeting.yaml: priorities: expected a list of names, got str."),
    ("data: {manifest: m.csv, exams: e.csv, columns: {manifest: {X: Shipment ID}}}\n",
     "targeting.yaml: data.columns.manifest.X: 'Shipment ID' is not a valid column name; use lower "
     "case letters, digits and underscores, starting with a letter (e.g. shipment_id)."),
    ("data: {manifest: m.csv, labelled: {column: fraud}}\n",
     "targeting.yaml: data.labelled: missing key 'discrepant'. Example: labelled: {column: fraud, "
     "discrepant: [1]}"),
    ("- just a list\n",
     "targeting.yaml: top level: expected a mapping of keys such as data, rules, queries, "
     "got list."),
    ("data: {manifest: m.csv, exams: e.csv}\ngate: {max_regression: 0.01}\nrules: [rules]\n"
     "gate: {}\n",
     "targeting.yaml:4:1: 'gate' appears twice in one mapping (first at line 2); YAML would keep "
     "only the last. Keep one of them."),
    ("data:\n  manifest: m.csv\n  exams: e.csv\n  manifest: n.csv\n",
     "targeting.yaml:4:3: 'manifest' appears twice in one mapping (first at line 2); YAML would "
     "keep only the last. Keep one of them."),
    ("engine: sparkle\ndata: {manifest: m.csv, exams: e.csv}\n",
     "targeting.yaml: engine: 'sparkle' is not an engine; expected one of auto, duckdb, "
     "shipments, grouped, spark (did you mean 'spark'?)"),
    ("data: {manifest: 's3a://b/m/', exams: e.csv}\n",
     "targeting.yaml: data.manifest: 's3a://b/m/' is a URI, which only the Spark engine reads. "
     "Add 'engine: spark', or give a local .parquet or .csv file or glob."),
    ("engine: spark\ndata: {database: h.duckdb, manifest: {table: m}, exams: {table: e}}\n",
     "targeting.yaml: data.database is a DuckDB file, which the Spark engine does not read. Name "
     "Parquet files or tables of the Spark catalog ({table: customs.manifest}) without "
     "data.database, or use another engine."),
    ("engine: spark\nspark: {master: local, connect: 'sc://h'}\ndata: {manifest: m.csv, exams: e.csv}\n",
     "targeting.yaml: spark: give either master (a Spark master URL) or connect (a Spark Connect "
     "URL, sc://...), not both."),
    ("spark: {conect: 'sc://h'}\ndata: {manifest: m.csv, exams: e.csv}\n",
     "targeting.yaml: spark.conect is not a spark setting; expected one of master, connect, conf "
     "(did you mean 'connect'?)"),
    ("spark: {connect: 'http://h:15002'}\ndata: {manifest: m.csv, exams: e.csv}\n",
     "targeting.yaml: spark.connect must be a Spark Connect URL such as "
     "sc://spark.example.org:15002; got 'http://h:15002'"),
    ("spark: {conf: {spark.executor.memory: [8g]}}\ndata: {manifest: m.csv, exams: e.csv}\n",
     "targeting.yaml: spark.conf.spark.executor.memory: expected a text, number or true/false "
     "value, got ['8g']."),
])
def test_bad_config_messages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str,
                             message: str) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(Path("targeting.yaml"))
    assert str(info.value) == message


def test_aliases_and_merges_are_not_repeated_keys(tmp_path: Path) -> None:
    base = "data: &d {manifest: m.csv, exams: e.csv}\nrules: &r [rules]\nqueries: *r\n"
    write(tmp_path, base + "x-copy: {<<: *d, manifest: n.csv}\n")
    with pytest.raises(ConfigError, match="x-copy"):  # an unknown key, not a repeated one
        load_config(tmp_path / "targeting.yaml")
    write(tmp_path, base)
    assert load_config(tmp_path / "targeting.yaml").rule_dirs


def test_invalid_yaml_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "data: [unclosed\n")
    with pytest.raises(ConfigError, match=r"^targeting.yaml: not valid YAML: "):
        load_config(Path("targeting.yaml"))


@pytest.mark.parametrize("command", [["validate"], ["evaluate"], ["coverage"], ["data", "check"]])
def test_a_bad_setting_fails_every_command_naming_file_and_key(tmp_path: Path, command) -> None:
    """Settings are typed when the project loads, so a typo in `promotion:` is not noticed only
    by `candidates` (the bug this catches: sections checked lazily by the command that reads
    them)."""
    from click.testing import CliRunner

    from targeting.cli import main

    root = Path(__file__).resolve().parents[1]
    text = (root / "targeting.yaml").read_text(encoding="utf-8").replace(
        "promotion:\n", "promotion:\n  min_examind: 3\n").replace(
        "fixtures/", f"{root}/fixtures/").replace("[rules]", f"[{root}/rules]").replace(
        "[queries]", f"[{root}/queries]")
    config = write(tmp_path, text)
    result = CliRunner().invoke(main, [*command, "--config", str(config)])
    assert result.exit_code == 2, result.output
    assert "promotion.min_examind" in result.output and "did you mean 'min_examined'" in result.output
