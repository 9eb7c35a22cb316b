"""Time the `default` scenario (`targeting fixtures generate --scenario default`) at 10 million
shipments over 24 months on 2 cores.

Runs `targeting.generate.generate_project` in a child process pinned to two CPUs
(POLARS_MAX_THREADS=2), with the repository's rules and queries selecting exams, and reports wall
time and the child's peak resident memory (getrusage ru_maxrss).
Usage: python benchmarks/generate.py [--shipments N] [--months M] [--out DIR]
"""
from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHILD = """
import os, sys
os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:2])
from pathlib import Path
from targeting.generate import generate_project
root = Path(sys.argv[4])
generate_project("default", sys.argv[3], int(sys.argv[1]), int(sys.argv[2]), 20241001,
                 rule_dirs=(root / "rules", root / "queries"), force=True)
"""


def run(shipments: int, months: int, out: Path) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (user + system; on a shared machine wall time also counts
    others' work) and peak RSS (MiB) of one generation in a child process."""
    env = {**os.environ, "POLARS_MAX_THREADS": "2", "OMP_NUM_THREADS": "2"}
    began = time.perf_counter()
    subprocess.run([sys.executable, "-c", CHILD, str(shipments), str(months), str(out), str(ROOT)],
                   check=True, env=env)
    wall = time.perf_counter() - began
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shipments", type=int, default=10_000_000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp) / "history"
        wall, cpu, rss = run(args.shipments, args.months, out)
        size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 2**20
    print(f"generate: {args.shipments:,} shipments, {args.months} months: {wall:.1f} s wall, "
          f"{cpu:.1f} s CPU, peak RSS {rss:,.0f} MiB, output {size:,.0f} MiB")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs "
          f"(2 used), Python {platform.python_version()}")


if __name__ == "__main__":
    main()
