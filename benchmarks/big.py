"""One very large history (default 100 million shipments): does `targeting` finish, in how
long, and within what memory?

Each step is a fresh `targeting` process (peak resident memory from os.wait4):
1. `targeting evaluate` of the bundled rules with no data store: read, check, type and store
   the data (DuckDB works in the store file under TARGETING_MEMORY_LIMIT and spills to disk),
   then match and count;
2. the same with the store kept and no matches kept (what every new rule set pays);
3. `targeting test <query>` with every match kept but the query's (an officer's edit), and
   with everything kept;
4. optionally (--rules N) `targeting evaluate` of N generated rules (benchmarks/rules.py).
The history is generated (in a child) when missing, cached in benchmarks/.data/. The result
replaces the "Very large history" section of docs/benchmarks.md.

Usage: python benchmarks/big.py [--shipments 100000000] [--rules 1000] [--output FILE]
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import scale  # the harness shared with benchmarks/scale.py

SECTION = "## Very large history"


def _gib(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**30


def measure(shipments: int, rules: int, seed: int, work: Path) -> list[tuple[str, scale.Run, str]]:
    data = scale.history(shipments, seed)
    steps: list[tuple[str, scale.Run, str]] = []
    config = scale.write_config(work, data, scale.ROOT)
    first = evaluate(config, work / "first.json")
    steps.append(("`evaluate`, 33 bundled rules, no data store yet", first,
                  f"store {_gib(work / '.targeting-cache' / 'data'):.1f} GiB on disk"))
    scale.forget_matches(work)
    steps.append(("`evaluate`, 33 bundled rules, store kept, no matches kept",
                  evaluate(config, work / "again.json"), ""))
    test = scale.measure_test(data, work)
    steps.append((f"`test {scale.TEST_QUERY}`, query edited (UDR matches kept)", test["edited"],
                  f"{test['cli_targeted']} targeted"))
    steps.append((f"`test {scale.TEST_QUERY}`, the same query again", test["warm"], ""))
    steps.append(("raw DuckDB `count(*)` of that query over the Parquet file", test["raw"],
                  f"{test['raw'].report.get('count', '?'):,} rows"))
    if rules:
        rules_dir = scale.rule_set(rules, seed, work / "set")
        config = scale.write_config(work, data, rules_dir)
        steps.append((f"`evaluate`, {rules:,} generated rules (grouped engine)",
                      evaluate(config, work / "rules.json"), ""))
    return [(label, run, note if run.rc == 0 else f"FAILED (exit {run.rc}): {_last_line(run)}")
            for label, run, note in steps]


def evaluate(config: Path, out: Path) -> scale.Run:
    """`targeting evaluate` in a child; a failure is recorded in the table, not raised."""
    return scale.run_child([sys.executable, "-c", scale.CLI, "evaluate", "--config", str(config),
                            "--format", "json", "--output", str(out)], config.parent)


def _last_line(run: scale.Run) -> str:
    lines = [line for line in run.tail.splitlines() if line.strip()]
    return lines[-1][:200] if lines else "no output"


def render(shipments: int, steps: list, command: str) -> str:
    out = [SECTION, "", f"`{command}` on {dt.date.today()}; machine: {scale.machine()}; "
           f"memory limit for DuckDB: {os.environ.get('TARGETING_MEMORY_LIMIT', '2GB')} "
           "(TARGETING_MEMORY_LIMIT).", "",
           f"{shipments:,} shipments over 24 months from the fixture generator (seed "
           f"{scale.SEED}). Every row is one fresh process.", "",
           "| step | wall time | peak RSS | note |", "|---|---:|---:|---|"]
    out += [f"| {label} | {scale._s(run.wall)} | {run.rss_mib:,.0f} MiB | {note} |"
            for label, run, note in steps]
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shipments", type=int, default=100_000_000)
    parser.add_argument("--rules", type=int, default=0, help="also evaluate N generated rules")
    parser.add_argument("--seed", type=int, default=scale.SEED)
    parser.add_argument("--output", type=Path, default=scale.ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args()
    command = " ".join(["python benchmarks/big.py", *sys.argv[1:]])
    with tempfile.TemporaryDirectory(prefix="big-", dir=scale.DATA) as tmp:
        steps = measure(args.shipments, args.rules, args.seed, Path(tmp))
    section = render(args.shipments, steps, command)
    print(section)
    scale.replace_section(args.output, section, SECTION)
    print(f"wrote the {SECTION[3:]} section of {args.output}")


if __name__ == "__main__":
    main()
