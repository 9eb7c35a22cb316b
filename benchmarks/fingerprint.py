"""Time the data fingerprint (the content hash every command computes to find its store, and the
gate to key its cache) at 10 million shipments, against reading the files' sizes and times only.

Each figure is a fresh child process (the fingerprint is remembered within a process), with the
files in the page cache (a first, untimed child reads them), as on a machine that ran the
previous command a moment ago.
Usage: python benchmarks/fingerprint.py [--history DIR] [--shipments N] [--runs R]
"""
from __future__ import annotations

import argparse
import hashlib
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

CHILD = """
import sys, time
began = time.perf_counter()
from targeting.data.config import load_config
from targeting.data.store import data_fingerprint, store_key
config = load_config(sys.argv[1])
loaded = time.perf_counter()
if sys.argv[2] == "content":
    store_key(config)
else:  # the key before issue 15: paths, sizes and modification times
    from targeting.data.dataset import source_files
    from targeting.data.lists import list_files
    [(str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns)
     for p in [*source_files(config), *list_files(config)]]
print(time.perf_counter() - loaded)
"""


def child(config: Path, kind: str) -> float:
    out = subprocess.run([sys.executable, "-c", CHILD, str(config), kind], check=True,
                         capture_output=True, text=True, cwd=ROOT)
    return float(out.stdout.strip())


def project(history: Path, folder: Path) -> Path:
    """A targeting.yaml over the history's files (read in place)."""
    config = folder / "targeting.yaml"
    config.write_text(f"data:\n  manifest: {history / 'manifest.parquet'}\n"
                      f"  exams: {history / 'exams.parquet'}\nlists: {history / 'lists'}\n",
                      encoding="utf-8")
    return config


def raw_sha256(paths: list[Path]) -> float:
    began = time.perf_counter()
    for path in paths:
        with open(path, "rb") as handle:
            hashlib.file_digest(handle, "sha256")
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--history", type=Path, help="a generated history (default: generate one)")
    parser.add_argument("--shipments", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if args.history is None:
        from scale import history
        args.history = history(args.shipments)
    files = sorted(p for p in args.history.rglob("*") if p.is_file() and p.name != "truth.parquet")
    size = sum(p.stat().st_size for p in files)
    with tempfile.TemporaryDirectory() as folder:
        config = project(args.history.resolve(), Path(folder))
        child(config, "content")  # warm the page cache
        content = [child(config, "content") for _ in range(args.runs)]
        stat = [child(config, "stat") for _ in range(args.runs)]
    raw = min(raw_sha256(files) for _ in range(3))
    print(f"{platform.machine()}, {len(files)} files, {size / 2**20:,.0f} MiB "
          f"({args.shipments:,} shipments)")
    print(f"content fingerprint (store key): median {statistics.median(content):.3f} s, "
          f"min {min(content):.3f} s over {args.runs} fresh processes")
    print(f"size+mtime key (before):         median {statistics.median(stat) * 1000:.1f} ms")
    print(f"raw hashlib sha256 of the files: {raw:.3f} s "
          f"({size / 2**20 / raw:,.0f} MiB/s)")


if __name__ == "__main__":
    main()
