"""Time the officer's loop: `targeting test QUERY` end to end, against the raw DuckDB query.

    python benchmarks/officer.py [--config targeting.yaml] [--rule Q-4701-0012 ...] [--runs 5] [--write]

Both run as fresh processes (interpreter start included), with the package's bytecode compiled
first, as an installed package has it. `targeting test` is timed with a warm
data store (the first run builds it and is reported separately). The raw query opens the same
Parquet manifest in DuckDB and counts the rule's matches with the compiled predicate: what an
analyst would run by hand. --write replaces the "Officer loop" section of docs/benchmarks.md.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"
TITLE = "## Officer loop: `targeting test`"

RAW = """
import sys, duckdb
from targeting.data.config import load_config
from targeting.compile.sql import compile_sql, target_lists_table
from targeting.rules.model import NAMED_LIST_OPERATORS, leaves
from targeting.rules.loader import load_rules
from targeting.compile.check import validate_rules
from targeting.data.lists import load_lists
config = load_config(sys.argv[1])
con = duckdb.connect()
con.execute(f"CREATE VIEW manifest AS SELECT * FROM '{config.data.manifest.pattern}'")  # our own config path
catalogue = {r[0]: ('text' if r[1] == 'VARCHAR' else 'number')
             for r in con.execute('DESCRIBE manifest').fetchall()}
rule = [r for r in load_rules(list(config.rule_dirs) + list(config.query_dirs)) if r.id == sys.argv[2]][0]
# Lists only when the rule names one (a hand-written count would not load the others), through
# the same one-statement load the tool uses (row-by-row inserts took seconds at 10M).
named = any(leaf.op in NAMED_LIST_OPERATORS for leaf in leaves(rule.where))
lists = load_lists(config) if named else {}
target_lists_table(con, lists)
rule = validate_rules([rule], catalogue, lists)[0][0]
sql, params = compile_sql(rule.where, catalogue)
print(con.execute(f"SELECT count(*) FROM manifest WHERE {sql}", params).fetchall()[0][0])
"""


def timed(command: list[str], env: dict | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=env, cwd=ROOT)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(ROOT / "targeting.yaml"))
    parser.add_argument("--rule", action="append", help="repeatable; default: Q-4701-0012 and Q-2720-0005")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    config = Path(args.config).resolve()
    # An installed package has its bytecode; an editable one run with PYTHONDONTWRITEBYTECODE
    # would compile the imported modules on every run (0.1 s here), on both sides.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "targeting")], check=True,
                   stdout=subprocess.DEVNULL)
    rows = [_measure(config, rule, args.runs) for rule in args.rule or ["Q-4701-0012", "Q-2720-0005"]]
    print("\n".join(rows))
    if args.write:
        _write("\n".join(rows))


def _measure(config: Path, rule: str, runs: int) -> str:
    shutil.rmtree(config.parent / ".targeting-cache" / "data", ignore_errors=True)
    targeting = [sys.executable, "-m", "targeting", "test", rule, "--config", str(config)]
    first = timed(targeting)
    warm = statistics.median(timed(targeting) for _ in range(runs))
    raw = statistics.median(timed([sys.executable, "-c", RAW, str(config), rule])
                            for _ in range(runs))
    load = os.getloadavg()[0]
    return (f"| {dt.date.today()} | {platform.machine()}, {os.cpu_count()} CPUs, load {load:.1f} | "
            f"{config.relative_to(ROOT) if config.is_relative_to(ROOT) else config} | {rule} | "
            f"{first:.2f} s | {warm:.2f} s | {raw:.2f} s | {warm / raw:.2f} |")


def _write(row: str) -> None:
    header = (f"{TITLE}\n\n`python benchmarks/officer.py --write`: `targeting test` as a fresh process "
              "(first run builds the data store; then the median of warm runs), and the raw DuckDB count "
              "of the same compiled predicate over the same Parquet manifest, also as a fresh process "
              "(median). `targeting test` also validates the rule, backtests it with the active UDRs for "
              "overlap, and decides its promotion verdict (evidence and recent windows).\n\n"
              "| date | machine | config | rule | first run | warm run | raw DuckDB count | warm / raw |\n"
              "|---|---|---|---|---:|---:|---:|---:|\n")
    text = DOC.read_text(encoding="utf-8")
    section = header + row + "\n"
    if TITLE not in text:
        DOC.write_text(text.rstrip("\n") + "\n\n" + section, encoding="utf-8")
        return
    start = text.index(TITLE)
    end = text.find("\n## ", start + 1)  # notes under the old table go with it
    DOC.write_text(text[:start] + section + ("\n" + text[end + 1:] if end != -1 else ""),
                   encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
