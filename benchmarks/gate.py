"""Time `targeting gate` end to end for a change touching one rule on the bundled data,
cold (empty cache) and cached (second run, nothing changed).

Clones the committed project into a temporary folder, edits one UDR's condition on a branch,
then runs the CLI twice in child processes. Usage: python benchmarks/gate.py [--rule FILE]
[--config YAML]
[--append docs/benchmarks.md]
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "b@example.org",
       "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "b@example.org"}


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, env=ENV)


def timed(repo: Path, *args: str) -> tuple[float, int, str]:
    began = time.perf_counter()
    code = "import sys; from targeting.cli import main; sys.argv[0] = 'targeting'; main()"
    done = subprocess.run([sys.executable, "-c", code, "gate", *args], cwd=repo,
                          capture_output=True, text=True, env=ENV)
    return time.perf_counter() - began, done.returncode, (done.stdout + done.stderr).strip()


LIBRARY = """
import sys, time
from targeting.gate import run_gate
from targeting.project import open_project
for _ in range(2):
    began = time.perf_counter()
    run_gate(open_project("targeting.yaml"), "main")
    print(time.perf_counter() - began)
"""


def library(repo: Path) -> tuple[float, float]:
    """run_gate itself, cold then cached, without interpreter start-up and imports."""
    done = subprocess.run([sys.executable, "-c", LIBRARY], cwd=repo, capture_output=True, text=True,
                          env=ENV, check=True)
    cold, warm = (float(x) for x in done.stdout.split())
    return cold, warm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rule", default="rules/udr-0002.yaml", help="rule file to change")
    parser.add_argument("--config", type=Path,
                        help="a targeting.yaml to use instead of the committed one (copied over it)")
    parser.add_argument("--append", type=Path, help="append the result to this Markdown file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "repo"
        git(ROOT, "clone", "-q", "--branch", "main", str(ROOT), str(repo))
        git(repo, "checkout", "-q", "-b", "bench")
        if args.config:
            (repo / "targeting.yaml").write_bytes(args.config.read_bytes())
        rule = repo / args.rule
        text = rule.read_text(encoding="utf-8")
        rule.write_text(text.replace("title: ", "title: (benchmark) ", 1) +
                        "# edited by benchmarks/gate.py\n", encoding="utf-8")
        cold, rc_cold, out = timed(repo, "--base", "main")
        warm, _, _ = timed(repo, "--base", "main")
        shutil.rmtree(repo / ".targeting-cache")
        lib_cold, lib_warm = library(repo)
    if rc_cold == 2:
        sys.exit(f"gate could not run on the bundled data (exit 2):\n{out}")
    line = (f"| {dt.date.today()} | {platform.machine()}, {os.cpu_count()} CPUs | {args.rule} | "
            f"{cold:.2f} s | {warm:.2f} s | {lib_cold:.2f} s | {lib_warm:.3f} s | "
            f"{lib_warm / lib_cold:.2f} |")
    print(out.splitlines()[-1] if out else "")
    print(f"gate, one rule changed: CLI cold {cold:.2f} s, cached {warm:.2f} s ({warm / cold:.0%}); "
          f"run_gate cold {lib_cold:.2f} s, cached {lib_warm:.3f} s ({lib_warm / lib_cold:.0%})")
    if args.append:
        with args.append.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")


if __name__ == "__main__":
    main()
