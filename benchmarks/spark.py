"""Spark benchmark: the Spark engine in local mode against the DuckDB engines, rules x shipments.

For each history size (the scale benchmark's cached histories, benchmarks/.data/) and each rule
count (benchmarks/rules.py, fixed seed), runs in fresh child processes, one at a time, the
library path of `targeting evaluate` (open_project, the data, rules(), backtest(), scoreboard())
with `--engine auto` (DuckDB; its data store built beforehand, as every run after the first
finds it) and `--engine spark` (a local Spark application: Spark keeps no store, so every run
reads, checks and types the Parquet files). Each phase is timed in the child; wall time is the
child's, process start to exit. Peak memory: the child's own maximum resident set (os.wait4)
and, for Spark, the JVM's (its VmHWM read from /proc just before the child exits); their sum
bounds the pair's peak from above. Targeted, examined and discrepant of every rule are compared
between the engines. The table replaces the "Spark local mode" section of docs/benchmarks.md.

Usage: python benchmarks/spark.py [--sizes 1000000,10000000] [--rules 10,100,1000]
       [--master local[2]] [--driver-memory 6g] [--output docs/benchmarks.md | --no-output]
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import yaml
from scale import (
    ROOT,
    Run,
    _ints,
    data_size,
    history,
    machine,
    replace_section,
    rule_set,
    run_child,
    warm_up,
    write_config,
)

SECTION = "## Spark local mode: rules x shipments"
SEED = 20241001
ENGINES = ("auto", "spark")


def child(kind: str, *args: str) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "_child", kind, *args]


def child_backtest(config: str, engine: str, counts_out: str) -> dict:
    """The library path of `targeting evaluate --engine ENGINE`, phase by phase."""
    began = time.perf_counter()
    from targeting.backtest.run import backtest, project_window
    from targeting.project import open_project

    t = {"import": time.perf_counter() - began}
    mark = time.perf_counter()
    project = open_project(config, engine)
    if engine == "spark":  # starting the JVM apart from reading the data
        from targeting.data.spark import spark_session

        spark_session(project.config.spark)
    t["start"] = time.perf_counter() - mark
    mark = time.perf_counter()
    project.dataset  # noqa: B018 - opening the data is a phase of its own
    t["open"] = time.perf_counter() - mark
    mark = time.perf_counter()
    rules = project.rules()
    t["validate"] = time.perf_counter() - mark
    window = project_window(project)
    mark = time.perf_counter()
    run = backtest(project, rules, window)
    board = run.scoreboard()
    t["backtest"] = time.perf_counter() - mark
    Path(counts_out).write_text(json.dumps({r["id"]: [r["targeted"], r["examined"], r["discrepant"]]
                                            for r in board.iter_rows(named=True)}))
    return {**t, "rules": len(rules), "method": run.method, "jvm_mib": _jvm_peak_mib(project)}


def _jvm_peak_mib(project) -> float:
    """The local JVM's peak resident memory (0 for DuckDB)."""
    if project.engine != "spark":
        return 0.0
    proc = project.dataset.session.sparkContext._gateway.proc
    for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def spark_config(config: Path, master: str, driver_memory: str) -> None:
    """The scale benchmark's config with the Spark settings of this run."""
    doc = yaml.safe_load(config.read_text(encoding="utf-8"))
    doc["spark"] = {"master": master, "conf": {"spark.driver.memory": driver_memory}}
    config.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")


def measure(data: Path, counts: Sequence[int], work: Path, master: str, memory: str) -> list[dict]:
    rows = []
    for count in counts:
        run_dir = work / f"r{count}"
        run_dir.mkdir()
        rules_dir = rule_set(count, SEED, run_dir / "set")
        config = write_config(work, data, rules_dir)
        spark_config(config, master, memory)
        boards = {}
        for engine in ENGINES:
            shutil.rmtree(work / ".targeting-cache" / "hits", ignore_errors=True)
            load = os.getloadavg()[0]
            out = run_dir / f"{engine}.json"
            run = run_child(child("backtest", str(config), engine, str(out)), work)
            if run.rc != 0 or not run.report:
                raise SystemExit(f"{engine} child failed (exit {run.rc}):\n{run.tail}")
            boards[engine] = json.loads(out.read_text())
            rows.append({"shipments": data_size(data), "rules": count, "engine": engine,
                         "wall": run.wall, "rss": run.rss_mib, "load": load, **run.report})
            print(json.dumps(rows[-1]), flush=True)
        agree = boards["auto"] == boards["spark"]
        for row in rows[-len(ENGINES):]:
            row["agree"] = agree
    return rows


def first_open(data: Path, work: Path) -> Run:
    """The DuckDB engine's first run on a history: it builds the data store every later run
    reuses (Spark has none: each of its runs reads the Parquet files)."""
    config = write_config(work, data, ROOT)
    out = work / "first.json"
    run = run_child(child("backtest", str(config), "auto", str(out)), work)
    if run.rc != 0:
        raise SystemExit(f"first run failed (exit {run.rc}):\n{run.tail}")
    return run


def section(rows: list[dict], firsts: dict[int, Run], command: str) -> str:
    out = [SECTION, "", f"`{command}` on {dt.date.today()}; machine: {machine()}.", "",
           "Same histories and rule sets as the Scale section (benchmarks/.data/, "
           "benchmarks/rules.py). Every row is one fresh child process running the library path "
           "of `targeting evaluate`: *start* = starting Spark's JVM (local mode), *open* = "
           "reading the data (DuckDB: its store, built by an "
           "earlier run; Spark: the Parquet files read, mapped, checked and typed, and the exam "
           "facts computed, every run), *validate* = rules(), *backtest* = backtest() + "
           "scoreboard(). *wall* is the whole process, start to exit (Spark's includes starting "
           "the JVM). *peak* is the Python process's maximum resident memory plus, for Spark, "
           "the JVM's (VmHWM). *counts agree*: every rule's targeted, examined and discrepant "
           "equal between the engines. The last column is the 1-minute load average before the "
           "row (above the CPU count, other work competed and times are inflated).", "",
           "| shipments | rules | engine | start | open | validate | backtest | wall | peak "
           "(Python + JVM) | counts agree | load |",
           "|---:|---:|---|---:|---:|---:|---:|---:|---:|---|---:|"]
    for r in rows:
        name = "DuckDB" if r["engine"] == "auto" else "Spark"
        peak = f"{r['rss']:,.0f} + {r['jvm_mib']:,.0f} MiB" if r["jvm_mib"] else f"{r['rss']:,.0f} MiB"
        times = " | ".join(f"{r[k]:.1f} s" for k in ("start", "open", "validate", "backtest", "wall"))
        out.append(f"| {r['shipments']:,} | {r['rules']:,} | {name} ({r['method']}) | {times} | "
                   f"{peak} | {'yes' if r['agree'] else 'NO'} | {r['load']:.1f} |")
    out.append("")
    for size, run in sorted(firsts.items()):
        out.append(f"DuckDB's first run at {size:,} shipments (33 bundled rules; reads, checks and "
                   f"types the Parquet files into its store): open {run.report['open']:.1f} s, "
                   f"wall {run.wall:.1f} s, peak {run.rss_mib:,.0f} MiB.")
        out.append("")
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> None:
    if argv is None and len(sys.argv) > 2 and sys.argv[1] == "_child":
        kind, args = sys.argv[2], sys.argv[3:]
        assert kind == "backtest"
        print(json.dumps(child_backtest(*args)))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=_ints, default=[1_000_000, 10_000_000])
    parser.add_argument("--rules", type=_ints, default=[10, 100, 1000])
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--driver-memory", default="6g")
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--no-output", action="store_true")
    args = parser.parse_args(argv)
    rows: list[dict] = []
    firsts: dict[int, Run] = {}
    for size in args.sizes:
        data = history(size)
        warm_up(data)
        with tempfile.TemporaryDirectory(prefix="spark-bench-") as tmp:
            work = Path(tmp)
            firsts[size] = first_open(data, work)
            rows += measure(data, args.rules, work, args.master, args.driver_memory)
    command = "python benchmarks/spark.py " + " ".join(argv if argv is not None else sys.argv[1:])
    text = section(rows, firsts, command.strip())
    print(text)
    if not args.no_output:
        replace_section(args.output, text, SECTION)


if __name__ == "__main__":
    main()
