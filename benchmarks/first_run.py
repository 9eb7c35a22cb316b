"""First run on new data: `targeting evaluate` of N generated rules on a history with no data
store yet (reading, checking, typing and storing the data included), against the Polars
per-rule loop measured in the same run (each rule's targeted, examined and discrepant counts).

    python benchmarks/first_run.py [--shipments 10000000] [--rules 1000] [--write]

Both run as fresh child processes, one after the other (benchmarks/scale.py's children). The
counts of both are compared. --write appends a row to the "First run on new data" section of
docs/benchmarks.md.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import scale  # benchmarks/ is not a package: found through sys.path above

DOC = scale.ROOT / "docs" / "benchmarks.md"
TITLE = "## First run on new data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shipments", type=int, default=10_000_000)
    parser.add_argument("--rules", type=int, default=1000)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    data = scale.history(args.shipments)
    scale.warm_up(data)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        rules_dir = scale.rule_set(args.rules, scale.SEED, work / "set")
        config = scale.write_config(work, data, rules_dir)
        load = os.getloadavg()[0]
        cli = scale.evaluate_cli(config, work / "board.json")  # no store yet: a first run
        files = {k: str(work / f"{k}.json") for k in ("engine", "duckdb", "polars")}
        scale.run_child(scale.child("engine", str(config), files["engine"]), work)
        polars = scale.run_child(scale.child("polars", str(data), str(rules_dir), "0",
                                             files["polars"]), work)
        files.pop("duckdb")
        mismatches = scale.compare({**files, "duckdb": files["polars"]})
    loop = polars.wall
    row = (f"| {dt.date.today()} | {args.shipments:,} | {args.rules:,} | {cli.wall:.1f} s "
           f"({cli.rss_mib:,.0f} MiB) | {loop:.1f} s ({polars.rss_mib:,.0f} MiB) | "
           f"{loop / cli.wall:.1f}x | {len(mismatches) // 2} | {load:.1f} |")
    print(row)
    if args.write:
        _append(row)


def _append(row: str) -> None:
    text = DOC.read_text(encoding="utf-8")
    if TITLE not in text:
        text = text.rstrip("\n") + (
            f"\n\n{TITLE}\n\n`python benchmarks/first_run.py --write`: `targeting evaluate` of "
            "generated rules on a history with no data store yet (the CLI in a fresh process: "
            "reading, checking, typing and storing the data included), against the Polars "
            "per-rule loop of the same run (a fresh process: scan, filter and join to the exam "
            "facts, per rule). Target (issue 11): at least 3x.\n\n"
            "| date | shipments | rules | first run (peak) | Polars loop (peak) | ratio | "
            "count mismatches | load before |\n|---|---:|---:|---:|---:|---:|---:|---:|\n")
    DOC.write_text(text.rstrip("\n") + "\n" + row + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
