"""The harness of the hostile-input corpus (tests/test_hostile.py): a small project to spoil,
a way to run a command on it (in this process, or in a child for time and memory), and the
checks every case makes: the exit code, no traceback, the key words of the message, a time
limit, and that no file outside .targeting-cache changed.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl
from click.testing import CliRunner

from targeting.cli import main

TINY = Path(__file__).parent / "data" / "tiny"
IN_PROCESS_SECONDS = 30  # generous: the test machine is shared; each case takes about a second
CHILD_SECONDS = 60
CHILD_MEMORY_MB = 500

Content = str | bytes | Callable[[Path], None]


@dataclass(frozen=True)
class Case:
    """One hostile input: files written over the tiny project, the command, what must happen."""

    name: str
    args: tuple[str, ...]
    code: int
    words: tuple[str, ...]
    files: dict[str, Content] = field(default_factory=dict)
    child: bool = False  # run in a child process: time and peak memory are measured
    absent: tuple[str, ...] = ()  # text that must not appear in the output


@dataclass(frozen=True)
class Outcome:
    code: int
    output: str
    seconds: float
    peak_mb: float | None = None


def prepare(case: Case, root: Path) -> Path:
    """The tiny project copied to `root` with the case's files written over it."""
    project = root / "project"
    _copy(TINY, project)
    for name, content in case.files.items():
        path = project / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if callable(content):
            content(project)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return project


def _copy(source: Path, target: Path) -> None:
    for path in source.rglob("*"):
        if path.is_file():
            out = target / path.relative_to(source)
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(path.read_bytes())


def snapshot(project: Path) -> dict[str, str]:
    """Every file outside .targeting-cache: relative path -> sha256 of its bytes."""
    found = {}
    for path in sorted(project.rglob("*")):
        rel = path.relative_to(project)
        if path.is_file() and rel.parts[0] != ".targeting-cache":
            found[rel.as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def run(case: Case, project: Path) -> Outcome:
    """Run the case's command in `project` (the working directory)."""
    start = time.monotonic()
    if case.child:
        return _run_child(case, project, start)
    result = CliRunner().invoke(main, list(case.args))
    # An exception other than SystemExit escaped the command: show it as the traceback it is.
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        import traceback

        trace = "".join(traceback.format_exception(result.exception))
        return Outcome(-1, result.output + "\nTraceback (escaped exception):\n" + trace,
                       time.monotonic() - start)
    return Outcome(result.exit_code, result.output, time.monotonic() - start)


# Runs the command and writes its peak resident memory (KiB) to argv[1]. The command is forked
# from this small interpreter, not from the test worker: on Linux a child's peak memory counts
# the memory of the process it was forked from (the high-water mark survives fork and exec), so
# a worker grown to 500 MB by earlier tests made every command look 500 MB large.
LAUNCHER = """import os, subprocess, sys
proc = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(proc.pid, 0)
open(sys.argv[1], "w").write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def _run_child(case: Case, project: Path, start: float) -> Outcome:
    """`python -m targeting` in a child; its peak memory from the kernel (wait4, LAUNCHER)."""
    out, peak = project.parent / "child.out", project.parent / "child.peak"
    with out.open("wb") as sink:
        proc = subprocess.Popen([sys.executable, "-c", LAUNCHER, str(peak), sys.executable, "-m",
                                 "targeting", *case.args], cwd=project, stdout=sink,
                                stderr=subprocess.STDOUT, env=child_env(), start_new_session=True)
        timer = threading.Timer(CHILD_SECONDS, lambda: os.killpg(proc.pid, signal.SIGKILL))
        timer.start()
        try:
            proc.wait()
        finally:
            timer.cancel()
    measured = float(peak.read_text()) / 1024 if peak.exists() else None
    return Outcome(proc.returncode, out.read_text(encoding="utf-8", errors="replace"),
                   time.monotonic() - start, measured)


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parent.parent),
                                         env.get("PYTHONPATH", "")])
    return env


# --- builders of hostile files -------------------------------------------------------------


def manifest_text() -> str:
    return (TINY / "manifest.csv").read_text(encoding="utf-8")


def parquet_of(csv_name: str, name: str, spoil: Callable[[bytes], bytes] = lambda b: b
               ) -> Callable[[Path], None]:
    """Write `name` as the Parquet form of the project's `csv_name`, then spoil its bytes."""
    def write(project: Path) -> None:
        frame = pl.read_csv(project / csv_name, infer_schema=False)
        frame.write_parquet(project / name)
        (project / name).write_bytes(spoil((project / name).read_bytes()))
    return write


def duckdb_of(name: str, spoil: Callable[[bytes], bytes] = lambda b: b) -> Callable[[Path], None]:
    """A DuckDB database holding the project's manifest and exams, then spoiled."""
    def write(project: Path) -> None:
        con = duckdb.connect(str(project / name))
        for table in ("manifest", "exams"):
            con.execute(f"CREATE TABLE {table} AS SELECT * FROM read_csv(?, all_varchar=true)",
                        [str(project / f"{table}.csv")])
        con.close()
        (project / name).write_bytes(spoil((project / name).read_bytes()))
    return write


def random_bytes(n: int, seed: int = 1) -> bytes:
    return hashlib.shake_256(str(seed).encode()).digest(n)


def gzipped(text: str) -> bytes:
    return gzip.compress(text.encode())


def alias_bomb(width: int, levels: int) -> str:
    """The 'billion laughs': each level is `width` aliases of the one before."""
    lines = ["id: Q-1", "kind: query", "title: bomb", 'port: "1111"']
    lines.append("l0: &l0 [" + ", ".join(["lol"] * width) + "]")
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]")
    lines.append(f"where: {{description: {{contains_any: *l{levels - 1}}}}}")
    return "\n".join(lines) + "\n"


def nested(levels: int, combinator: str = "not") -> str:
    inner = "{description: handbag}"
    for _ in range(levels):
        inner = f"{{not: {inner}}}" if combinator == "not" else f"{{all: [{inner}]}}"
    return f'id: Q-1\nkind: query\ntitle: deep\nport: "1111"\nwhere: {inner}\n'


def rule(where: str, **keys: str) -> str:
    """A query file with the given `where` (flow YAML) and top-level keys."""
    head = {"id": "Q-1", "kind": "query", "title": "t", "port": '"1111"', **keys}
    return "".join(f"{k}: {v}\n" for k, v in head.items()) + f"where: {where}\n"


def many(n: int, prefix: str = "v") -> str:
    return "[" + ", ".join(f"{prefix}{i}" for i in range(n)) + "]"
