"""The officer's loop stays light: once a query's backend checks are cached, `targeting test`
imports no Polars (about a third of the process's start-up), lists included."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_targeting_test_imports_no_polars_once_its_checks_are_cached():
    command = [sys.executable, "-X", "importtime", "-m", "targeting", "test", "Q-4701-0021",
               "--config", str(ROOT / "targeting.yaml")]
    env = {**os.environ, "COLUMNS": "120"}
    first = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT,
                           check=False)
    assert first.returncode == 0, first.stderr[-2000:]
    second = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT,
                           check=False)
    assert second.returncode == 0, second.stderr[-2000:]
    assert "Q-4701-0021" in second.stdout
    imported = [line.rsplit("|", 1)[-1].strip() for line in second.stderr.splitlines()
                if line.startswith("import time:")]
    assert "targeting.backtest.run" in imported  # the trace is real
    assert not [m for m in imported if m == "polars" or m.startswith("polars.")]
