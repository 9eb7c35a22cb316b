"""Scale benchmark: `targeting evaluate` against per-rule DuckDB and Polars loops.

For each history size (generated once with the fixture generator and cached under
benchmarks/.data/) and each rule count (rules built by benchmarks/rules.py with a fixed seed),
runs in fresh child processes, one at a time:
  - the CLI: `targeting evaluate --config CFG --format json --output FILE` (process start,
    imports, data opening and validation included);
  - the library: open_project, rules(), backtest() and scoreboard(), each phase timed;
  - naive DuckDB: the manifest loaded into a table, one `SELECT count(*) ... WHERE <rule>` per
    rule, and a variant counting examined/discrepant through a join to per-shipment exam facts;
  - naive Polars: `scan_parquet(...).filter(<rule>).select(pl.len()).collect()` per rule, and
    the same join variant.
Peak memory is each child's own maximum resident set (os.wait4). Targeted/examined/discrepant
counts of every loop are compared with the engine's scoreboard. At the largest size it also
times `targeting test <query>` against one raw DuckDB query of the same predicate, each in a
fresh process. The result replaces the "Scale" section of docs/benchmarks.md.

Usage: python benchmarks/scale.py [--sizes 1000000,10000000] [--rules 10,100,1000]
       [--loop-limit N] [--quick] [--output docs/benchmarks.md | --no-output]
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "benchmarks" / ".data"
SEED = 20241001
MONTHS = 24
SECTION = "## Scale: rules x shipments"
TEST_QUERY = "Q-2720-0005"  # a bundled query without in_list, so raw SQL needs no list table
sys.path.insert(0, str(ROOT / "benchmarks"))
CODE = os.environ.get("SCALE_CODE", "")  # a folder holding the `targeting` package to measure


def export_code(ref: str, into: Path) -> str:
    """The `targeting` package as of git `ref`, so edits in progress do not move the figures."""
    archive = subprocess.run(["git", "archive", ref, "targeting"], cwd=ROOT, check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return str(into)


# --- data and rules --------------------------------------------------------------------------


def history(shipments: int, seed: int = SEED, months: int = MONTHS) -> Path:
    """The cached generated history for this size and seed; generated (in a child) if missing."""
    folder = DATA / f"history-{shipments}-m{months}-seed{seed}"
    if (folder / "manifest.parquet").exists():
        return folder
    temp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(temp, ignore_errors=True)
    print(f"generating {shipments:,} shipments into {folder} ...", flush=True)
    code = ("import sys; from pathlib import Path; from targeting.generate import generate; "
            "generate(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], "
            "rule_paths=[Path('rules'), Path('queries')])")
    subprocess.run([sys.executable, "-c", code, str(shipments), str(months), str(seed), str(temp)],
                   cwd=ROOT, check=True)
    os.replace(temp, folder)
    return folder


def rule_set(count: int, seed: int, out: Path) -> Path:
    """Write `count` generated rules under out/ and return it."""
    from rules import build_rules, write_rules

    write_rules(build_rules(count, seed), out)
    return out


def write_config(run_dir: Path, data: Path, rules_dir: Path) -> Path:
    """A targeting.yaml pointing at the history and the generated rules (absolute paths)."""
    import yaml

    base = yaml.safe_load((ROOT / "targeting.yaml").read_text(encoding="utf-8"))
    config = {
        "data": {"manifest": str(data / "manifest.parquet"), "exams": str(data / "exams.parquet")},
        "lists": str(data / "lists"),
        "rules": [str(rules_dir / "rules")],
        "queries": [str(rules_dir / "queries")],
        "priorities": base.get("priorities", []),
    }
    path = run_dir / "targeting.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


# --- child processes -------------------------------------------------------------------------


@dataclass
class Run:
    """One child process: wall seconds, peak RSS in MiB, exit code and its JSON report."""

    wall: float
    rss_mib: float
    rc: int
    report: dict = field(default_factory=dict)
    tail: str = ""


def run_child(argv: Sequence[str], cwd: Path) -> Run:
    """Run `argv` alone, waiting with wait4 so the peak RSS is this child's own.

    `cwd` must not be the repository root: `python -c` puts the working directory first on
    sys.path, which would import the working tree's `targeting` instead of the one measured.
    """
    path = os.pathsep.join(filter(None, [CODE, os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path}
    with tempfile.TemporaryFile() as out:
        began = time.perf_counter()
        proc = subprocess.Popen(list(argv), cwd=cwd, stdout=out, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - began
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode("utf-8", "replace")
    lines = [line for line in text.splitlines() if line.startswith("{")]
    report = json.loads(lines[-1]) if lines else {}
    return Run(wall, usage.ru_maxrss / 1024, proc.returncode, report, text[-20000:])


def child(kind: str, *args: str) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "_child", kind, *args]


def _phase_timers(phases: dict[str, float]) -> None:
    """Wrap the engine's steps (module functions or class methods) to time them without editing
    the engine; a step that is renamed simply stops being reported."""
    import importlib

    steps = [("backtest.shipments", "ShipmentEngine.build", "match"),
             ("backtest.grouped", "GroupedEngine.build", "match"),
             ("backtest.matches", "Matches.counts", "counts"),
             ("backtest.matches", "Matches.baseline_since", "baseline"),
             ("compile.check", "check_rules", "validate")]
    for module_name, name, label in steps:
        try:
            owner = importlib.import_module(f"targeting.{module_name}")
        except ImportError:  # an older engine without that module
            continue
        *path, attribute = name.split(".")
        for part in path:
            owner = getattr(owner, part, None)
        original = getattr(owner, attribute, None) if owner is not None else None
        if original is None:
            continue

        def timed(*a, _f=original, _label=label, **k):
            began = time.perf_counter()
            try:
                return _f(*a, **k)
            finally:
                phases[_label] = phases.get(_label, 0.0) + time.perf_counter() - began
                phases[_label + "_calls"] = phases.get(_label + "_calls", 0) + 1
        setattr(owner, attribute, timed)


def child_engine(config: str, counts_out: str) -> dict:
    """The library path of `targeting evaluate`, phase by phase."""
    began = time.perf_counter()
    from targeting.backtest.run import backtest, project_window
    from targeting.project import open_project

    phases: dict[str, float] = {}
    _phase_timers(phases)
    t = {"import": time.perf_counter() - began}
    mark = time.perf_counter()
    project = open_project(config)
    project.dataset  # noqa: B018 - opening the data is a phase of its own
    t["open"] = time.perf_counter() - mark
    mark = time.perf_counter()
    rules = project.rules()
    t["validate"] = time.perf_counter() - mark
    window = project_window(project)
    mark = time.perf_counter()
    run = backtest(project, rules, window)
    t["backtest"] = time.perf_counter() - mark
    mark = time.perf_counter()
    board = run.scoreboard()
    t["scoreboard"] = time.perf_counter() - mark
    _dump_counts(counts_out, {r["id"]: [r["targeted"], r["examined"], r["discrepant"]]
                              for r in board.iter_rows(named=True)})
    method = getattr(run, "method", "shipments")
    return {**t, "phases": phases, "rules": len(rules), "method": method}


def _typed_rules(rules_dir: str, lists_dir: str, catalogue: dict) -> tuple[list, dict]:
    """Rules typed against the catalogue, and the lists, as a notebook user would have them."""
    from targeting.compile.check import validate_rules
    from targeting.rules.loader import load_rules
    from targeting.text import normalise

    lists = {}
    for path in sorted(Path(lists_dir).glob("*.txt")):
        lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
        lists[path.stem] = frozenset(normalise(v) for v in lines if v and not v.startswith("#"))
    folders = [Path(rules_dir) / "rules", Path(rules_dir) / "queries"]
    rules = sorted(load_rules(folders), key=lambda r: r.id)
    typed, problems = validate_rules(rules, catalogue, lists)
    errors = [str(p) for p in problems if p.severity == "error"]
    if errors:
        raise SystemExit("generated rules do not validate:\n" + "\n".join(errors[:10]))
    return typed, lists


def _sample(rules: list, limit: int) -> list:
    """At most `limit` rules, evenly spaced, so every template stays represented."""
    if limit <= 0 or len(rules) <= limit:
        return rules
    step = len(rules) / limit
    return [rules[int(i * step)] for i in range(limit)]


def child_duckdb(data: str, rules_dir: str, limit: str, counts_out: str) -> dict:
    import duckdb

    from targeting.compile.sql import compile_sql
    from targeting.data.contract import table_catalogue

    con = duckdb.connect(":memory:")
    began = time.perf_counter()
    con.execute("CREATE TABLE manifest AS SELECT * FROM read_parquet(?)",
                [f"{data}/manifest.parquet"])
    con.execute("""CREATE TABLE ef AS
                   SELECT shipment_id, bool_or(result = 'discrepant') AS discrepant
                   FROM read_parquet(?) GROUP BY shipment_id""", [f"{data}/exams.parquet"])
    load = time.perf_counter() - began
    catalogue = table_catalogue(con, "manifest")
    rules, lists = _typed_rules(rules_dir, f"{data}/lists", catalogue)
    con.execute("CREATE TABLE target_lists (list_name VARCHAR, value VARCHAR)")
    con.executemany("INSERT INTO target_lists VALUES (?, ?)",
                    [(n, v) for n in lists for v in lists[n]])
    chosen = _sample(rules, int(limit))
    compiled = [(r.id, *compile_sql(r.where, catalogue)) for r in chosen]
    counts: dict[str, list] = {}
    began = time.perf_counter()
    for rid, sql, params in compiled:
        query = f"SELECT count(*) FROM manifest WHERE {sql}"
        counts[rid] = [con.execute(query, params).fetchone()[0]]
    count_loop = time.perf_counter() - began
    began = time.perf_counter()
    for rid, sql, params in compiled:
        row = con.execute(f"""
            SELECT count(*), count(ef.shipment_id), count(*) FILTER (WHERE ef.discrepant)
            FROM manifest LEFT JOIN ef USING (shipment_id) WHERE {sql}""", params).fetchone()
        counts[rid] += list(row)
    metrics_loop = time.perf_counter() - began
    return _loop_report(counts_out, counts, load, count_loop, metrics_loop, len(chosen), len(rules))


def _loop_report(counts_out: str, counts: dict[str, list], load: float, count_loop: float,
                 metrics_loop: float, measured: int, total: int) -> dict:
    """Keep the loop's counts for the cross-check; return its timings."""
    _dump_counts(counts_out, {k: v[1:] for k, v in counts.items()},
                 {k: v[0] for k, v in counts.items()})
    return {"load": load, "count_loop": count_loop, "metrics_loop": metrics_loop,
            "measured": measured, "rules": total}


def child_polars(data: str, rules_dir: str, limit: str, counts_out: str) -> dict:
    import polars as pl

    from targeting.compile.polars_expr import compile_polars

    manifest = f"{data}/manifest.parquet"
    catalogue = _parquet_catalogue(Path(manifest))
    rules, lists = _typed_rules(rules_dir, f"{data}/lists", catalogue)
    chosen = _sample(rules, int(limit))
    exprs = [(r.id, compile_polars(r.where, lists, catalogue)) for r in chosen]
    began = time.perf_counter()
    facts = (pl.scan_parquet(f"{data}/exams.parquet").group_by("shipment_id")
             .agg(pl.lit(True).alias("examined"),
                  (pl.col("result") == "discrepant").any().alias("discrepant"))
             .collect())
    load = time.perf_counter() - began
    counts: dict[str, list] = {}
    began = time.perf_counter()
    for rid, expr in exprs:
        counts[rid] = [pl.scan_parquet(manifest).filter(expr).select(pl.len()).collect().item()]
    count_loop = time.perf_counter() - began
    began = time.perf_counter()
    for rid, expr in exprs:
        row = (pl.scan_parquet(manifest).filter(expr).select("shipment_id")
               .join(facts.lazy(), on="shipment_id", how="left")
               .select(pl.len(), pl.col("examined").fill_null(False).sum(),
                       pl.col("discrepant").fill_null(False).sum()).collect().row(0))
        counts[rid] += list(row)
    metrics_loop = time.perf_counter() - began
    return _loop_report(counts_out, counts, load, count_loop, metrics_loop, len(chosen), len(rules))


def _field_type(dtype: Any) -> str:
    import polars as pl

    if dtype == pl.String:
        return "text"
    if dtype == pl.Boolean:
        return "bool"
    if dtype in (pl.Date, pl.Datetime):
        return "date"
    return "number"


def child_raw_query(data: str, sql_json: str) -> dict:
    """One raw DuckDB count straight off the Parquet file: what a user types by hand."""
    began = time.perf_counter()
    import duckdb

    sql, params = json.loads(sql_json)
    count = duckdb.execute(f"SELECT count(*) FROM read_parquet(?) WHERE {sql}",
                           [f"{data}/manifest.parquet", *params]).fetchone()[0]
    return {"count": count, "in_process": time.perf_counter() - began}


def _dump_counts(path: str, counts: dict, targeted_only: dict | None = None) -> None:
    text = json.dumps({"counts": counts, "targeted": targeted_only})
    Path(path).write_text(text, encoding="utf-8")


CLI = "import sys; from targeting.cli import main; sys.argv[0] = 'targeting'; main()"
CHILDREN = {"engine": child_engine, "duckdb": child_duckdb, "polars": child_polars,
            "raw": child_raw_query}


# --- measurements ----------------------------------------------------------------------------


@dataclass
class Cell:
    """Every measurement for one (shipments, rules) pair."""

    shipments: int
    rules: int
    cli: Run  # the data store (if the engine keeps one) already built by first_run()
    engine: Run
    duck: Run
    polars: Run
    mismatches: list[str]
    load: tuple[float, float] = (0.0, 0.0)  # 1-minute load average before and after


def warm_up(data: Path) -> None:
    """Compile the measured package's bytecode and read the history once, so no figure pays
    for a first .pyc write or a cold page cache."""
    if CODE:
        subprocess.run([sys.executable, "-m", "compileall", "-q", CODE], check=True)
    for path in data.glob("*.parquet"):
        with path.open("rb") as handle:
            while handle.read(1 << 24):
                pass


def evaluate_cli(config: Path, out: Path) -> Run:
    """`targeting evaluate` of every configured rule, JSON to a file, in a child process."""
    run = run_child([sys.executable, "-c", CLI, "evaluate", "--config", str(config),
                     "--format", "json", "--output", str(out)], config.parent)
    if run.rc != 0:
        raise SystemExit(f"targeting evaluate failed (exit {run.rc}):\n{run.tail}")
    return run


def first_run(data: Path, work: Path) -> Run:
    """The first `targeting evaluate` (bundled rules) on a history: it opens, checks and types
    the data and keeps it in the store under `work`, which every later child then reuses."""
    return evaluate_cli(write_config(work, data, ROOT), work / "first.json")


def forget_matches(work: Path) -> None:
    """Delete the matches the engine keeps between runs (engine.HitCache), so each measured
    run matches its rules itself, as a first evaluation of new rules does."""
    shutil.rmtree(work / ".targeting-cache" / "hits", ignore_errors=True)


def measure(data: Path, count: int, seed: int, limit: int, work: Path) -> Cell:
    run_dir = work / f"r{count}"
    run_dir.mkdir()
    rules_dir = rule_set(count, seed, run_dir / "set")
    config = write_config(work, data, rules_dir)
    load_before = os.getloadavg()[0]
    forget_matches(work)
    cli = evaluate_cli(config, run_dir / "board.json")
    files = {k: str(run_dir / f"{k}.json") for k in ("engine", "duckdb", "polars")}
    forget_matches(work)
    engine = run_child(child("engine", str(config), files["engine"]), work)
    duck = run_child(child("duckdb", str(data), str(rules_dir), str(limit), files["duckdb"]), work)
    polars = run_child(child("polars", str(data), str(rules_dir), str(limit), files["polars"]),
                       work)
    for name, r in (("engine", engine), ("duckdb", duck), ("polars", polars)):
        if r.rc != 0 or not r.report:
            raise SystemExit(f"{name} child failed (exit {r.rc}):\n{r.tail}")
    return Cell(data_size(data), count, cli, engine, duck, polars, compare(files),
                (load_before, os.getloadavg()[0]))


def data_size(data: Path) -> int:
    import pyarrow.parquet as pq

    return pq.ParquetFile(data / "manifest.parquet").metadata.num_rows


def compare(files: dict[str, str]) -> list[str]:
    """Rules whose targeted/examined/discrepant differ between the engine and a loop."""
    engine = json.loads(Path(files["engine"]).read_text())["counts"]
    wrong = []
    for name in ("duckdb", "polars"):
        loop = json.loads(Path(files[name]).read_text())
        for rid, got in loop["counts"].items():
            if engine.get(rid) != got or loop["targeted"][rid] != got[0]:
                wrong.append(f"{name} {rid}: engine {engine.get(rid)}, loop {got} "
                             f"(count-only {loop['targeted'][rid]})")
    return wrong


def measure_test(data: Path, work: Path) -> dict:
    """`targeting test TEST_QUERY` end to end vs one raw DuckDB count, fresh processes.

    The data store is built (first_run). Three cases of the engine's kept matches
    (.targeting-cache/hits): none kept, every rule scanned (the first test after new data);
    the query's own matches gone, as after an officer edits it (the active UDRs' are kept);
    everything kept (the same query again)."""
    from targeting.backtest.hits import predicate_key
    from targeting.compile.check import validate_rules
    from targeting.compile.sql import compile_sql
    from targeting.decide.projection import national_projection
    from targeting.rules.loader import load_rules

    config = write_config(work, data, ROOT)
    rule = next(r for r in load_rules([ROOT / "queries"]) if r.id == TEST_QUERY)
    catalogue = _parquet_catalogue(data / "manifest.parquet")
    typed = validate_rules([rule], catalogue, {})[0][0]
    sql, params = compile_sql(typed.where, catalogue)
    test = [sys.executable, "-c", CLI, "test", TEST_QUERY, "--config", str(config)]
    hits = work / ".targeting-cache" / "hits"
    forget_matches(work)
    cold = run_child(test, work)
    for key in {predicate_key(typed.where), predicate_key(national_projection(typed).where)}:
        for path in hits.glob(f"*/{key}.parquet"):
            path.unlink()
    edited = run_child(test, work)
    warm = min((run_child(test, work) for _ in range(3)), key=lambda r: r.wall)
    raw = min((run_child(child("raw", str(data), json.dumps([sql, [_json_value(p) for p in params]])),
                         work) for _ in range(3)), key=lambda r: r.wall)
    if raw.rc != 0:
        raise SystemExit(f"raw DuckDB query failed:\n{raw.tail}")
    targeted = re.search(r"^\s*targeted\s+([\d,]+)", warm.tail, re.MULTILINE)
    return {"cold": cold, "edited": edited, "warm": warm, "raw": raw,
            "rc": max(r.rc for r in (cold, edited, warm)),
            "cli_targeted": int(targeted.group(1).replace(",", "")) if targeted else None}


def _parquet_catalogue(path: Path) -> dict:
    import polars as pl

    return {name: _field_type(dtype) for name, dtype in pl.read_parquet_schema(path).items()}


def _json_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date) else value


# --- report ----------------------------------------------------------------------------------


def machine() -> str:
    import duckdb
    import polars as pl

    model = next((line.split(":", 1)[1].strip() for line in
                  Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")),
                 platform.processor() or platform.machine())
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{model}, {len(os.sched_getaffinity(0))} CPUs, {memory:.0f} GiB RAM, "
            f"{platform.system()} {platform.machine()}, Python {platform.python_version()}, "
            f"DuckDB {duckdb.__version__}, Polars {pl.__version__}")


def _s(seconds: float) -> str:
    return f"{seconds:.2f} s" if seconds < 100 else f"{seconds:.0f} s"


def _loop_time(run: Run, key: str) -> float:
    """The loop's time for every rule: measured, or scaled from the evenly spaced sample."""
    r = run.report
    return r[key] * r["rules"] / r["measured"]


def cell_rows(cell: Cell) -> tuple[str, str]:
    e = cell.engine.report
    lib = e["backtest"] + e["scoreboard"]
    d_count, d_metrics = _loop_time(cell.duck, "count_loop"), _loop_time(cell.duck, "metrics_loop")
    p_count = _loop_time(cell.polars, "count_loop")
    p_metrics = _loop_time(cell.polars, "metrics_loop")
    measured = cell.duck.report["measured"]
    sampled = "" if measured == cell.rules else f" ({measured}†)"
    times = (f"| {cell.shipments:,} | {cell.rules:,}{sampled} | {_s(cell.cli.wall)} | {_s(lib)} | "
             f"{_s(d_count)} | {_s(d_metrics)} | {_s(p_count)} | {_s(p_metrics)} | "
             f"{p_metrics / cell.cli.wall:.1f}x | "
             f"{p_metrics / lib:.1f}x | {d_metrics / lib:.1f}x | "
             f"{'yes' if not cell.mismatches else f'NO ({len(cell.mismatches)})'} |")
    ph = e.get("phases", {})
    phase = (f"| {cell.shipments:,} | {cell.rules:,} | {e['import']:.2f} | {e['open']:.2f} | "
             f"{e['validate']:.2f} | {ph.get('validate', 0):.2f} ({ph.get('validate_calls', 0)}) | "
             f"{e.get('method', '?')} | {ph.get('match', 0):.2f} | {ph.get('counts', 0):.2f} | "
             f"{ph.get('baseline', 0):.2f} | {e['scoreboard']:.2f} | "
             f"{cell.cli.rss_mib:,.0f} | "
             f"{cell.engine.rss_mib:,.0f} | {cell.duck.rss_mib:,.0f} | "
             f"{cell.polars.rss_mib:,.0f} | {cell.load[0]:.1f} / {cell.load[1]:.1f} |")
    return times, phase


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def code_label(sha: str | None) -> str:
    """Which engine was measured: a commit, or the working tree and whether it had edits."""
    if sha:
        return f"targeting at commit {sha[:7]}"
    dirty = _git("status", "--porcelain", "--", "targeting")
    head = f"targeting at {_git('rev-parse', '--short', 'HEAD')}"
    return head + (" plus uncommitted edits" if dirty else "")


INTRO = (
    "Histories from the fixture generator (24 months, seed 20241001, cached in "
    "benchmarks/.data/); rule sets from `benchmarks/rules.py` (variants of the 33 bundled "
    "rules: other ports, countries, tariff prefixes, value thresholds, extra text terms; "
    "fixed seed; all rules validated). Every figure is one fresh child process. "
    "*CLI* = `targeting evaluate --format json --output FILE`, process start to exit, "
    "with the engine's data store already built (first runs are listed below the table). "
    "*Library* = `backtest()` + `scoreboard()` on an opened project (store reused). "
    "*count* loops run one count query per rule; *metrics* loops also join per-shipment "
    "exam facts for examined and discrepant (what a scoreboard needs at the least). "
    "DuckDB loops query a table loaded from the Parquet file (load not counted); Polars "
    "loops call `scan_parquet(...).filter(rule)` per rule. *Counts agree*: every loop's "
    "targeted/examined/discrepant equals the engine's for every measured rule."
)
TIMES_HEADER = (
    "| shipments | rules | CLI | library | DuckDB count loop | DuckDB metrics loop | "
    "Polars count loop | Polars metrics loop | Polars metrics / CLI | "
    "Polars metrics / library | DuckDB metrics / library | counts agree |\n"
    "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
)
PHASES_HEADER = (
    "| shipments | rules | import | open data | rules() | validate (calls) | method | "
    "match | counts | baseline | scoreboard | RSS CLI | RSS library | "
    "RSS DuckDB loop | RSS Polars loop | load before / after |\n"
    "|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"
)
SAMPLED = (
    "† loops timed on that many evenly spaced rules and scaled to the whole set "
    "(each rule is an independent query, so loop time is linear in rules)."
)
SHARED = (
    "The machine is shared: the last column is the 1-minute load average around each "
    "row (above the CPU count, other work was competing and the times are inflated)."
)


def render(cells: list[Cell], test: dict | None, command: str, code: str = "",
           firsts: dict[int, Run] | None = None) -> str:
    out = [SECTION, "", f"`{command}` on {dt.date.today()} ({code}); machine: {machine()}.", "",
           INTRO, "", TIMES_HEADER, *[cell_rows(c)[0] for c in cells], ""]
    if any(c.duck.report["measured"] != c.rules for c in cells):
        out += [SAMPLED, ""]
    for size, run in (firsts or {}).items():
        out += [(f"First run at {size:,} shipments (`targeting evaluate` of the 33 bundled "
                 f"rules with no data store yet: read, check, type and store the data): "
                 f"{_s(run.wall)}, peak {run.rss_mib:,.0f} MiB."), ""]
    if max(c.shipments for c in cells) < 100_000_000:
        out += [("100 million shipments are measured apart, by benchmarks/big.py: see Very "
                 "large history below."), ""]
    out += [SHARED, "", ("Engine phases in seconds (library child; validate counts the calls) "
                         "and peak resident memory in MiB of each child:"), "",
            PHASES_HEADER, *[cell_rows(c)[1] for c in cells], ""]
    if test:
        out += [_test_line(test), ""]
    mismatches = [m for c in cells for m in c.mismatches]
    if mismatches:
        out += ["Count disagreements (first 10):", "", *[f"- {m}" for m in mismatches[:10]], ""]
    return "\n".join(out)


def _test_line(test: dict) -> str:
    raw = test["raw"]
    cases = [("no matches kept (every rule scanned)", test["cold"]),
             ("query edited (the active UDRs' matches kept)", test["edited"]),
             ("the same query again (best of 3)", test["warm"])]
    parts = "; ".join(f"{label}: {_s(run.wall)}, {run.wall / raw.wall:.1f}x "
                      f"(peak {run.rss_mib:,.0f} MiB)" for label, run in cases)
    return (f"`targeting test {TEST_QUERY}` at {test['shipments']:,} shipments, process start "
            f"included, data store built (exit {test['rc']}; it reports {test['cli_targeted']} "
            f"targeted). {parts}. Against one raw DuckDB `count(*)` of the same compiled "
            f"predicate over the Parquet file in a fresh `python` process, best of 3: "
            f"{_s(raw.wall)} ({raw.report.get('count', '?'):,} rows; peak {raw.rss_mib:,.0f} MiB). "
            f"Target: within 1.3x.")


def replace_section(path: Path, section: str, title: str = SECTION) -> None:
    """Replace (or append) the Scale section, leaving the others' sections alone; atomic."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"^{re.escape(title)}\n.*?(?=^## |\Z)", re.DOTALL | re.MULTILINE)
    block = section.rstrip("\n") + "\n"
    if pattern.search(text):
        text = pattern.sub(lambda _: block + "\n", text, count=1).rstrip("\n") + "\n"
    else:
        text = text.rstrip("\n") + "\n\n" + block
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(temp, path)


# --- command ---------------------------------------------------------------------------------


def _ints(text: str) -> list[int]:
    try:
        values = [int(v.replace("_", "")) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a comma-separated list of whole numbers") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give positive numbers, such as 10,100,1000")
    return values


def main(argv: Sequence[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["_child"]:
        print(json.dumps(CHILDREN[argv[1]](*argv[2:])))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=_ints, default=[1_000_000, 10_000_000], help="shipments")
    parser.add_argument("--rules", type=_ints, default=[10, 100, 1000], help="rule counts")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--loop-limit", type=int, default=0,
                        help="time the naive loops on at most N evenly spaced rules and scale up "
                             "(0 = every rule)")
    parser.add_argument("--quick", action="store_true",
                        help="200,000 shipments, 10 and 100 rules, no docs update: "
                             "checks the harness")
    parser.add_argument("--at", metavar="REF",
                        help="measure the targeting package as committed at this git ref "
                             "(default: the working tree)")
    parser.add_argument("--no-test", action="store_true",
                        help="skip `targeting test` vs raw DuckDB")
    parser.add_argument("--output", type=Path, default=None,
                        help="Markdown file whose Scale section to replace "
                             "(default docs/benchmarks.md; none with --quick)")
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.rules = [200_000], [10, 100]
    output = args.output or (None if args.quick else ROOT / "docs" / "benchmarks.md")
    command = " ".join(["python benchmarks/scale.py", *argv])
    cells, test = [], None
    with tempfile.TemporaryDirectory(prefix="scale-") as tmp:
        sha = _git("rev-parse", args.at) if args.at else None
        if sha:
            global CODE
            code = Path(tmp) / "code"
            code.mkdir()
            CODE = export_code(sha, code)
        firsts: dict[int, Run] = {}
        for size in args.sizes:
            data = history(size, args.seed)
            warm_up(data)
            work = Path(tmp) / f"s{size}"
            work.mkdir()
            firsts[data_size(data)] = first_run(data, work)
            for count in args.rules:
                cell = measure(data, count, args.seed, args.loop_limit, work)
                print(cell_rows(cell)[0], flush=True)
                cells.append(cell)
        if not args.no_test:
            big = max(args.sizes)
            test = {**measure_test(history(big, args.seed), Path(tmp) / f"s{big}"),
                    "shipments": big}
    section = render(cells, test, command, code_label(sha), firsts)
    print(section)
    if output:
        replace_section(output, section)
        print(f"wrote the Scale section of {output}")


if __name__ == "__main__":
    main()
