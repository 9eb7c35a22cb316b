"""The Spark engine answers as the DuckDB engines do: every scoreboard column of every rule,
the baseline and the population's estimate, the rule report (`test`), coverage with its
estimates of what the programme misses, containment, and the NTC's review (`candidates`), on
the bundled project and on a generated scenario (counts exactly, floats to 1e-9); the same
contract problems; the same rows for random predicate trees over awkward text, every operator
included; the same folding and regular expressions.

Skipped without pyspark (`pip install -e '.[spark]'`); one local Spark application serves the
whole module (its start costs seconds), each dataset in a session of its own, and each
project's answers are computed once per engine and compared by several tests.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest

pytest.importorskip("pyspark")

from targeting.backtest.run import backtest, project_window, ranked_scoreboard
from targeting.data.settings import SparkSettings
from targeting.data.spark import spark_session
from targeting.decide.coverage import coverage_of
from targeting.decide.inspect import inspect_rule
from targeting.decide.replay import replay
from targeting.decide.review import build_review
from targeting.errors import ConfigError
from targeting.executor import SparkExecutor
from targeting.project import Project, open_project
from targeting.render.coverage import coverage_json
from targeting.render.dossier import as_json as review_json
from targeting.render.formats import to_json
from targeting.render.replay import as_json as replay_json
from targeting.render.rule import report_json

ROOT = Path(__file__).resolve().parents[1]


def assert_close(a: Any, b: Any, where: str = "") -> None:
    """Equal answers: the same keys in the same order, counts and text exactly, floats to
    1e-9 (relative; 1e-12 absolute near zero)."""
    if isinstance(a, pl.DataFrame):
        assert isinstance(b, pl.DataFrame) and a.columns == b.columns, where
        a, b = a.to_dicts(), b.to_dicts()
    if dataclasses.is_dataclass(a) and not isinstance(a, type):
        a, b = dataclasses.asdict(a), dataclasses.asdict(b)  # type: ignore[arg-type]
    if isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b), f"{where}: {list(a)} != {list(b)}"
        for key in a:
            assert_close(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), f"{where}: {a} != {b}"
        for i, (x, y) in enumerate(zip(a, b)):
            assert_close(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and not isinstance(b, bool) and isinstance(b, (int, float)):
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12) or (math.isnan(a) and math.isnan(b)), \
            f"{where}: {a!r} != {b!r}"
    else:
        assert type(a) is type(b) and a == b, f"{where}: {a!r} != {b!r}"


def plain(document: dict[str, Any]) -> Any:
    """A document as the CLI writes it (dates as text, and so on)."""
    return json.loads(to_json(document))


def answers(project: Project, full: bool = True) -> dict[str, Any]:
    """What `evaluate`, `coverage` and `candidates` show for every rule of the project over its
    whole window; `full`: also `test` of a query, the series behind it, samples, the export and
    containment."""
    window = project_window(project)
    rules = project.all_rules
    run = backtest(project, rules, window)
    found = {
        "method": run.method, "window": window.as_dict(),
        "evaluate": plain({"baseline": run.baseline, "rules": ranked_scoreboard(run).to_dicts()}),
        "coverage": plain(coverage_json(coverage_of(project, window))),
        "candidates": plain(review_json(build_review(project, window))),
    }
    if full:
        some = sorted({0, len(rules) // 2, len(rules) - 1})
        udrs = project.active_udrs()
        query = next(r for r in rules if r.kind == "query" and r.is_active)
        found |= {
            "monthly": [run.monthly(i) for i in some], "by_port": [run.by_port(i) for i in some],
            "overlaps": [run.overlaps(i) for i in some],
            "sample": [plain({"rows": run.sample(i, 5)}) for i in some],
            "export": [sorted(run.export(i)["shipment_id"].to_list()) for i in some],
            "containment": sorted(backtest(project, udrs, window, udrs).containment(),
                                  key=lambda row: row["rule"]),
            "test": plain(report_json(inspect_rule(project, query.id, window))),
        }
    run.close()
    return found


def compare(duck: dict[str, Any], spark: dict[str, Any]) -> None:
    assert (duck["method"], spark["method"]) != ("spark", "spark") and spark["method"] == "spark"
    for key in duck:
        if key != "method":
            assert_close(duck[key], spark[key], key)


# Session scope: with -n, the group's tests run on one worker but may be interleaved with other
# modules' tests, and a module-scoped fixture is then built again after each interruption.
@pytest.fixture(scope="session")
def spark_sql() -> SparkExecutor:
    return SparkExecutor(spark_session(SparkSettings()))


@pytest.fixture(scope="session")
def bundled(spark_sql) -> tuple[dict[str, Any], dict[str, Any]]:
    """The bundled project's answers from the DuckDB engine and from Spark."""
    config = ROOT / "targeting.yaml"
    return answers(open_project(config, "auto")), answers(open_project(config, "spark"))


@pytest.fixture(scope="session")
def scenario(spark_sql, tmp_path_factory) -> tuple[dict[str, Any], dict[str, Any]]:
    """A generated `drift` history (logged selection probabilities, a decaying UDR, random
    exams): its answers from both engines."""
    from targeting.generate import generate_project

    out = tmp_path_factory.mktemp("spark-scenario") / "drift"
    generate_project("drift", out, 20_000, 6, seed=3)
    config = out / "targeting.yaml"
    return (answers(open_project(config, "auto"), full=False),
            answers(open_project(config, "spark"), full=False))


@pytest.mark.parametrize("key", ["evaluate", "test", "coverage", "candidates", "series"])
def test_the_bundled_project_answers_alike(bundled, key):
    duck, spark = bundled
    if key == "series":
        for name in ("window", "monthly", "by_port", "overlaps", "sample", "export", "containment"):
            assert_close(duck[name], spark[name], name)
    else:
        assert_close(duck[key], spark[key], key)
    assert duck["method"] == "shipments" and spark["method"] == "spark"


def test_the_bundled_estimates_are_weighted(bundled):
    """The comparison covers what matters: IPW estimates, splits by selector, referrals."""
    rows = bundled[1]["evaluate"]["rules"]
    assert {r["est_method"] for r in rows} >= {"ipw"}
    assert any(r["own_examined"] and r["other_examined"] for r in rows)
    assert any(r["referrals"] for r in rows)
    assert bundled[1]["evaluate"]["baseline"]["est_method"] == "ipw"


def test_the_gate_judges_alike(spark_sql, tmp_path):
    """`targeting gate` on a branch adding a query: the same checks, metrics and verdict."""
    from gate_project import QUERY, cli, make_project

    root = make_project(tmp_path / "repo")
    (root / "queries" / "q-0001-0002.yaml").write_text(
        QUERY.replace("Q-0001-0001", "Q-0001-0002").replace("CN", "VN"), encoding="utf-8")
    found = []
    for engine in ("auto", "spark"):
        result = cli(root, "gate", "--base", "main", "--no-cache", "--engine", engine,
                     "--json", str(tmp_path / f"{engine}.json"))
        assert result.exit_code == 0, result.output
        found.append(json.loads((tmp_path / f"{engine}.json").read_text()))
    assert found[0]["changes"] and found[0]["changes"][0]["after"]["targeted"]
    assert_close(found[0], found[1])


def test_replay_answers_alike(spark_sql):
    """`targeting replay` on both engines: the same decisions at a cut-off (promotions and a
    retirement on the bundled data), with what their evidence promised and what the rest of
    the history delivered. One cut-off: each costs Spark about a minute here."""
    config = ROOT / "targeting.yaml"
    cutoff = "2026-03-31"
    duck, spark = (plain(replay_json(replay(open_project(config, engine), "6m", cutoff, cutoff)))
                   for engine in ("auto", "spark"))
    assert {d["action"] for d in duck["decisions"]} == {"promote", "retire"}
    assert_close(duck, spark)


def test_a_scenario_answers_alike(scenario):
    duck, spark = scenario
    compare(duck, spark)
    assert any(r["est_method"] == "ipw" for r in spark["evaluate"]["rules"])


# --- predicates, text and patterns mean the same in Spark SQL ----------------------------------


NAMED = ("in_list", "contains_list", "startswith_list")


@pytest.fixture(scope="session")
def random_trees(spark_sql):
    """test_differential's trees (NULLs, odd Unicode, lists, patterns) over its random table, in
    DuckDB and in the Spark session."""
    from rulegen import TreeMaker, random_table

    from targeting.compile.sql import LISTS_TABLE

    frame, lists = random_table(seed=20240601)
    con = duckdb.connect(":memory:")
    con.register("manifest", frame)
    listed = pl.DataFrame([(n, v) for n in sorted(lists) for v in sorted(lists[n])],
                          schema={"list_name": pl.String, "value": pl.String}, orient="row")
    con.register(LISTS_TABLE, listed)
    spark_sql.register("manifest", frame)
    spark_sql.register(LISTS_TABLE, listed)
    maker = TreeMaker(seed=7, lists=lists)
    return con, [maker.tree() for _ in range(600)]


def _named(tree: Any) -> bool:
    from targeting.rules.model import leaves

    return any(leaf.op in NAMED for leaf in leaves(tree))


def test_random_trees_select_the_same_rows(spark_sql, random_trees):
    """Every tree's compiled Spark SQL selects DuckDB's rows: 150 trees a query, except those
    with a list file's operator (a subquery: Spark plans a query with a few dozen of them for
    minutes), a few of which run one at a time."""
    from rulegen import CATALOGUE

    from targeting.compile.sql import compile_sql
    from targeting.dialect import SPARK

    con, trees = random_trees
    plain = [t for t in trees if not _named(t)]
    batches = [plain[k:k + 150] for k in range(0, len(plain), 150)]
    batches += [[t] for t in [t for t in trees if _named(t)][:4]]
    for batch in batches:
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
            assert by_spark == by_duckdb, f"{tree}"


def test_list_leaves_as_joins_hold_where_duckdb_says(spark_sql, random_trees):
    """Every list-file leaf of the random trees, as the Spark engine evaluates it (a join over
    the field's distinct values, compile.sql.list_matches_sql), holds for exactly the values
    DuckDB's compiled leaf holds for: one Spark query for all of them."""
    from rulegen import CATALOGUE

    from targeting.compile.sql import compile_sql, list_matches_sql
    from targeting.dialect import SPARK
    from targeting.rules.model import leaves

    con, trees = random_trees
    named = list(dict.fromkeys(leaf for t in trees for leaf in leaves(t) if leaf.op in NAMED))
    assert {leaf.op for leaf in named} == set(NAMED)
    parts, params = [], []
    for k, leaf in enumerate(named):
        values = f'(SELECT DISTINCT "{leaf.field}" AS value FROM manifest) v'
        sql, more = list_matches_sql(leaf, values, [], SPARK)
        parts.append(f"SELECT {k} AS k, value FROM ({sql}) s{k}")
        params += more
    by_spark = {k: set() for k in range(len(named))}
    for k, value in spark_sql.rows(" UNION ALL ".join(parts), params):
        by_spark[k].add(value)
    for k, leaf in enumerate(named):
        sql, more = compile_sql(leaf, CATALOGUE)
        by_duckdb = {v for (v,) in con.execute(
            f'SELECT DISTINCT "{leaf.field}" FROM manifest WHERE {sql}', more).fetchall()}
        assert by_spark[k] == by_duckdb, leaf


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


def test_an_unreadable_file_is_named_alike(spark_sql, tmp_path, monkeypatch):
    """A Parquet file cut short, and CSV text named .parquet: the DuckDB engines' message."""
    from targeting.errors import DataError

    monkeypatch.chdir(tmp_path)
    pl.DataFrame({"shipment_id": ["S1", "S2"], "arrival_date": ["2024-01-01"] * 2,
                  "port_code": ["P"] * 2}).write_parquet(tmp_path / "manifest.parquet")
    pl.DataFrame({"exam_id": ["E1"], "shipment_id": ["S1"], "exam_date": ["2024-01-02"],
                  "result": ["discrepant"]}).write_parquet(tmp_path / "exams.parquet")
    (tmp_path / "targeting.yaml").write_text("data: {manifest: manifest.parquet, exams: exams.parquet}\n")
    whole = (tmp_path / "exams.parquet").read_bytes()
    for damaged in (whole[: len(whole) // 2], b"exam_id,result\nE1,discrepant\n"):
        (tmp_path / "exams.parquet").write_bytes(damaged)
        messages = []
        for engine in ("auto", "spark"):
            with pytest.raises(DataError) as caught:
                _ = open_project(tmp_path / "targeting.yaml", engine).dataset
            messages.append(str(caught.value))
        assert "exams.parquet: error[unreadable]" in messages[0] and messages[1] == messages[0]


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
    assert_close(duck, spark)
