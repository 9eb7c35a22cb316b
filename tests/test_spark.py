"""The Spark engine gives the DuckDB engines' numbers: every bundled rule's metrics, the rule
report, coverage and the NTC's review on the bundled data (counts exactly, rates to 1e-9), the
same contract problems, and the same rows for random predicate trees over awkward text.

Skipped without pyspark (`pip install -e '.[spark]'`); one local Spark application serves the
whole test session (its start costs seconds), each dataset in a session of its own.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

pytest.importorskip("pyspark")

from targeting.backtest.run import backtest, project_window
from targeting.data.settings import SparkSettings
from targeting.data.spark import spark_session
from targeting.decide.coverage import coverage_of
from targeting.decide.inspect import inspect_rule
from targeting.decide.review import build_review
from targeting.errors import ConfigError
from targeting.executor import SparkExecutor
from targeting.project import open_project

pytestmark = pytest.mark.xdist_group("spark")  # one Spark application per worker is plenty
ROOT = Path(__file__).resolve().parents[1]


def same(a: pl.DataFrame, b: pl.DataFrame, by: list[str] | None = None) -> None:
    """Equal frames: counts exactly, rates to 1e-9."""
    if by:
        a, b = a.sort(by), b.sort(by)
    assert_frame_equal(a, b, check_exact=False, rel_tol=1e-9, check_dtypes=False)


@pytest.fixture(scope="module")
def bundled():
    """The bundled project opened by each engine."""
    return open_project(ROOT / "targeting.yaml", "auto"), open_project(ROOT / "targeting.yaml", "spark")


@pytest.fixture(scope="module")
def spark_sql() -> SparkExecutor:
    return SparkExecutor(spark_session(SparkSettings()))


def test_every_bundled_rule_scores_the_same(bundled):
    duck, spark = bundled
    window = project_window(duck)
    assert project_window(spark) == window
    a, b = backtest(duck, duck.all_rules, window), backtest(spark, spark.all_rules, window)
    assert (a.method, b.method) == ("shipments", "spark")
    assert a.baseline == b.baseline
    same(a.scoreboard(), b.scoreboard())
    udrs = duck.active_udrs()
    same(backtest(duck, udrs, window, udrs).containment(),
         backtest(spark, udrs, window, udrs).containment(), ["rule"])
    assert duck.dataset.fingerprint == spark.dataset.fingerprint


def test_a_rule_report_is_the_same(bundled):
    duck, _ = bundled
    window = project_window(duck).last_months(12)
    query = next(r for r in duck.all_rules if r.kind == "query")
    a, b = (inspect_rule(p, query.id, window, all_matches=True) for p in bundled)
    assert a.baseline == b.baseline
    same(pl.DataFrame([a.metrics]), pl.DataFrame([b.metrics]))
    for name in ("monthly", "by_port", "overlaps", "sample", "matched"):
        same(getattr(a, name), getattr(b, name))
    assert a.verdict is not None and b.verdict is not None
    assert [c.as_dict() for c in a.verdict.criteria] == [c.as_dict() for c in b.verdict.criteria]


def test_coverage_is_the_same(bundled):
    duck, spark = bundled
    window = project_window(duck)
    same(coverage_of(duck, window), coverage_of(spark, window), ["dimension", "group"])


def test_candidates_are_the_same(bundled):
    duck, spark = bundled
    window = project_window(duck)
    a, b = build_review(duck, window), build_review(spark, window)
    assert [(v.rule.id, [c.as_dict() for c in v.criteria]) for v in a.verdicts] == \
           [(v.rule.id, [c.as_dict() for c in v.criteria]) for v in b.verdicts]
    assert [(r.rule.id, r.reasons) for r in a.retire] == [(r.rule.id, r.reasons) for r in b.retire]
    assert a.data_fingerprint == b.data_fingerprint


def test_labelled_data_with_renamed_columns_scores_the_same():
    """KCS: every row an exam, columns mapped from their source names."""
    config = ROOT / "fixtures" / "kcs" / "targeting.yaml"
    duck, spark = open_project(config, "auto"), open_project(config, "spark")
    assert duck.dataset.catalogue == spark.dataset.catalogue
    window = project_window(duck)
    a, b = backtest(duck, duck.all_rules, window), backtest(spark, spark.all_rules, window)
    assert a.baseline == b.baseline
    same(a.scoreboard(), b.scoreboard())


# --- the random project: NULLs, odd Unicode, start dates, priorities ------------------------


def test_random_rules_answer_every_question_alike(random_project, tmp_path):
    from random_project import random_rules
    from test_engines_agree import _answers, _write_project

    project, lists = random_project
    for seed, count in ((8, 70),):
        config = _write_project(tmp_path / f"p{seed}", project.config.root,
                                random_rules(lists, count, seed))
        a, b = _answers(config, "auto"), _answers(config, "spark")
        assert b["method"] == "spark"
        assert a["baseline"] == b["baseline"]
        same(a["board"], b["board"])
        for key in ("monthly", "by_port", "overlaps"):
            for x, y in zip(a[key], b[key]):
                same(x, y)
        assert a["sample"] == b["sample"]
        same(a["coverage"], b["coverage"], ["dimension", "group"])
        same(a["containment"], b["containment"], ["rule"])
        assert a["verdicts"] == b["verdicts"] and a["retire"] == b["retire"]


def test_random_trees_select_the_same_rows(spark_sql):
    """test_differential's trees (NULLs, odd Unicode, lists, patterns) in Spark SQL and DuckDB."""
    from rulegen import CATALOGUE, TreeMaker, random_table

    from targeting.compile.sql import LISTS_TABLE, compile_sql
    from targeting.dialect import SPARK

    frame, lists = random_table(seed=20240601)
    con = duckdb.connect(":memory:")
    con.register("manifest", frame)
    listed = pl.DataFrame([(n, v) for n in sorted(lists) for v in sorted(lists[n])],
                          schema={"list_name": pl.String, "value": pl.String}, orient="row")
    con.register(LISTS_TABLE, listed)
    spark_sql.register("manifest", frame)
    spark_sql.register(LISTS_TABLE, listed)
    maker = TreeMaker(seed=7, lists=lists)
    trees = [maker.tree() for _ in range(600)]
    for start in range(0, len(trees), 150):  # one Spark query per batch of trees
        batch = trees[start:start + 150]
        parts, params = [], []
        for i, tree in enumerate(batch):
            sql, more = compile_sql(tree, CATALOGUE, SPARK)
            parts.append(f"{sql} AS t{i}")
            params += more
        rows = spark_sql.rows(f"SELECT rid, {', '.join(parts)} FROM manifest", params)
        for i, tree in enumerate(batch):
            by_spark = {r[0] for r in rows if r[i + 1]}
            sql, more = compile_sql(tree, CATALOGUE)
            by_duckdb = {r[0] for r in con.execute(f"SELECT rid FROM manifest WHERE {sql}", more).fetchall()}
            assert by_spark == by_duckdb, f"tree {start + i}: {tree}"


def test_every_character_folds_alike(spark_sql):
    """Case folding of every code point (and the odd texts) in Spark equals text.normalise."""
    from rulegen import ODD_TEXT

    from targeting.compile.sql import _folded
    from targeting.dialect import SPARK
    from targeting.text import normalise

    texts = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF] + ODD_TEXT
    spark_sql.register("chars", pl.DataFrame({"i": range(len(texts)), "t": texts}))
    folded = spark_sql.frame(f'SELECT i, {_folded(chr(34) + "t" + chr(34), SPARK)} AS f FROM chars')
    got = dict(zip(folded["i"].to_list(), folded["f"].to_list()))
    wrong = [(t, got[i], normalise(t)) for i, t in enumerate(texts) if got[i] != normalise(t)]
    assert not wrong, wrong[:10]


# Subjects where java.util.regex, RE2 and Rust regex could disagree: line terminators, case,
# brackets, supplementary characters.
SUBJECTS = ["handbag", "handbag\n", "Handbag\r\n", "a\rb", "a\nb", "a\u2028b", "a\u0085b", "",
            "\n", "[x]", "x&y", "İstanbul", "istanbul", "STRASSE", "Straße", "K\u212a",
            "\U00010d50", "bag$", "100%", "ab", "a b"]
PATTERNS = ["bag$", "^$", "a.b", "^.$", "^[Hh]andbag$", "[\\[\\]]", "x&y", "[&]", "[^a-z]",
            "\U00010d50", "(?:bag|b)$", "\\$$", "[$]", "^a(.)?b$", "a\\x20b", "[Ss]tra(ß|ss)e",
            "\\Aab\\z", "^(a|)b$", "[Kk\u212a]+$"]


def test_accepted_patterns_match_alike_in_java(spark_sql):
    """Every pattern the rule language accepts selects the same subjects in RE2 (DuckDB), Rust
    regex (Polars) and Java (Spark, as compile.regex.java_pattern rewrites it)."""
    from targeting.compile.regex import java_pattern, regex_problem

    for pattern in PATTERNS:
        assert regex_problem(pattern) is None, pattern
        re2 = [duckdb.execute("SELECT regexp_matches(?, ?)", [s, pattern]).fetchall()[0][0]
               for s in SUBJECTS]
        rust = pl.DataFrame({"s": SUBJECTS}).select(pl.col("s").str.contains(pattern))["s"].to_list()
        java = [r[0] for r in spark_sql.rows(
            "SELECT regexp_like(s, ?) FROM VALUES " + ", ".join(["(?)"] * len(SUBJECTS)) + " AS t(s)",
            [java_pattern(pattern), *SUBJECTS])]
        assert re2 == rust == java, pattern


def test_refused_patterns_would_differ_in_java(spark_sql):
    """What the rule language refuses really is read differently by Java (or not compiled)."""
    from targeting.compile.regex import regex_problem

    differing = {"(?i)i": "İ", "[[:alpha:]]": ":", "[a[b]]": "[]", "[a-z&&[^b]]": "&]"}
    for pattern, subject in differing.items():
        assert regex_problem(pattern) is not None, pattern
        re2 = duckdb.execute("SELECT regexp_matches(?, ?)", [subject, pattern]).fetchall()[0][0]
        try:
            java = spark_sql.rows("SELECT regexp_like(?, ?)", [subject, "(?u)" + pattern])[0][0]
        except Exception:  # Java does not compile it at all
            java = None
        assert java != re2, pattern


# --- the same contract checks -----------------------------------------------------------------

TEXT_DATES = ["2024-01-05", "2024-1-5", " 2024-01-05\t", "2024-01-05 10:00", "2024-01-05T10:00:00.5",
              "2024/01/05", "epoch", "2024", "2024-02-30", "2024-01-05 25:99", "2024-01-05x", None]
TEXT_NUMBERS = ["1", "1.5", "-1", "+1", ".5", "5.", "1e3", "1_000", "inf", "nan", "12d", "0x10",
                "\t7 ", "1e400", "", None]
TEXT_BOOLS = ["true", "FALSE", " yes ", "n", "1", "0", "on", "perhaps", None]


def test_text_converts_alike(spark_sql):
    """Text becomes a date, number or boolean by one definition in both engines."""
    from targeting.data.contract import text_to
    from targeting.dialect import SPARK

    for target, values in (("DATE", TEXT_DATES), ("DOUBLE", TEXT_NUMBERS), ("BOOLEAN", TEXT_BOOLS)):
        frame = pl.DataFrame({"i": range(len(values)), "v": values}, schema={"i": pl.Int64, "v": pl.String})
        con = duckdb.connect(":memory:")
        con.register("x", frame)
        spark_sql.register("x", frame)
        duck = con.execute(f"SELECT i, {text_to(target, 'v', 'TRY_CAST')} FROM x ORDER BY i").fetchall()
        spark = spark_sql.rows(f"SELECT i, {text_to(target, 'v', 'TRY_CAST', SPARK)} FROM x ORDER BY i")
        assert [str(v) for _, v in duck] == [str(v) for _, v in spark], target


CHECK_CASES = {
    "bad types": (
        {"Shipment": ["S1", "S2", "S3", "S3", None], "arrival_date": ["2024-13-01", "yesterday",
         "2024-01-02", "2024/01/05", "2024-01-03"], "port_code": ["P", None, "P", "P", "Q"],
         "quantity": ["ten", "1", "-2", "1_000", "12d"], "weight_kg": ["nan", "1", "2", "3", "4"]},
        {"shipment_id": ["S1", "S9"], "result": ["Y", "maybe"], "referred_to_ice": ["perhaps", "y"],
         "msrp": ["-1", "2"], "disposition": ["seized", None]},
        "columns: {manifest: {Shipment: shipment_id}}, values: {result: {Y: discrepant}}",
    ),
    "labelled": (
        {"shipment_id": ["S1", "S2", "S3"], "arrival_date": ["2024-01-01"] * 3,
         "port_code": ["P"] * 3, "fraud": ["1", None, "0"]}, None,
        "labelled: {column: fraud, discrepant: [1]}",
    ),
}


@pytest.mark.parametrize("case", sorted(CHECK_CASES))
def test_the_same_problems(tmp_path, monkeypatch, case):
    """Bad Parquet data: the Spark engine finds exactly the DuckDB engine's problems, messages,
    files, counts and examples included."""
    from targeting.data.checks import check, check_staged
    from targeting.data.config import load_config
    from targeting.data.spark import stage

    monkeypatch.chdir(tmp_path)
    manifest, exams, data = CHECK_CASES[case]
    pl.DataFrame(manifest).write_parquet(tmp_path / "manifest.parquet")
    sources = "manifest: manifest.parquet"
    if exams is not None:
        pl.DataFrame(exams).write_parquet(tmp_path / "exams.parquet")
        sources += ", exams: exams.parquet"
    (tmp_path / "targeting.yaml").write_text(f"data: {{{sources}, {data}}}\n")
    config = load_config(tmp_path / "targeting.yaml")
    duck = [str(p) for p in check(config).problems]
    spark = [str(p) for p in check_staged(stage(config, SparkExecutor(spark_session(config.spark)))).problems]
    assert duck and spark == duck


def test_a_csv_source_is_refused_with_advice(tmp_path):
    (tmp_path / "manifest.csv").write_text("shipment_id,arrival_date,port_code\nS1,2024-01-01,P\n")
    (tmp_path / "targeting.yaml").write_text(
        "engine: spark\ndata: {manifest: manifest.csv, labelled: {column: port_code, discrepant: [P]}}\n")
    with pytest.raises(ConfigError, match="the Spark engine reads Parquet files and catalog tables"):
        open_project(tmp_path / "targeting.yaml").dataset


def test_a_catalog_table_is_a_source(tmp_path, spark_sql):
    """`{table: ...}` names a table of the Spark catalog (here a global temporary view)."""
    spark_sql.session.read.parquet(str(ROOT / "fixtures" / "kcs" / "declarations.parquet")) \
        .createOrReplaceGlobalTempView("kcs_declarations")
    config = (ROOT / "fixtures" / "kcs" / "targeting.yaml").read_text().replace(
        "manifest: declarations.parquet", "manifest: {table: global_temp.kcs_declarations}")
    (tmp_path / "targeting.yaml").write_text("engine: spark\n" + config)
    project = open_project(tmp_path / "targeting.yaml")
    assert project.engine == "spark"
    assert project.dataset.arrival_range() == (dt.date(2020, 1, 1), dt.date(2021, 6, 30))


def test_the_cli_renders_the_same_on_spark():
    """`targeting evaluate --engine spark` prints what the DuckDB engine prints."""
    import json

    from click.testing import CliRunner

    from targeting.cli import main

    config = str(ROOT / "fixtures" / "kcs" / "targeting.yaml")
    outputs = []
    for engine in ("auto", "spark"):
        result = CliRunner().invoke(main, ["evaluate", "--config", config, "--engine", engine,
                                           "--format", "json"])
        assert result.exit_code == 0, result.output
        outputs.append(json.loads(result.stdout))
    duck, spark = outputs
    assert duck["window"] == spark["window"] and duck["baseline"] == spark["baseline"]
    same(pl.DataFrame(duck["rules"]), pl.DataFrame(spark["rules"]))
