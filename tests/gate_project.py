"""Small git projects for the gate, promotion and ledger tests: 2,000 shipments with planted
signals, two UDRs and a query (`make_project`); the twelve-shipment policy project with a
lenient policy that its Q-1 meets (`make_policy_project`); and the helpers they share."""
from __future__ import annotations

import datetime as dt
import os
import random
import shutil
import subprocess
from pathlib import Path
from typing import Any

import polars as pl
from click.testing import CliRunner, Result

from targeting.cli import main

REPO = Path(__file__).resolve().parents[1]

POLICY_DATA = Path(__file__).parent / "data" / "policy"
# Q-1 of tests/data/policy meets this policy (see test_policy.py); it fails the defaults.
LENIENT = {"min_examined": 3, "min_discrepant": 2, "min_hit_rate": 0.1, "lift_factor": 0.0,
           "min_ports": 3, "min_months": 2, "recent_months": 2, "min_unique": 2,
           "max_flags_per_day": 1}

GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.org", "GIT_CONFIG_GLOBAL": os.devnull,
           "GIT_CONFIG_NOSYSTEM": "1"}

# (hts prefix, country, share of shipments, discrepancy rate when examined, exam rate)
PROFILES = [("8708", "CN", 0.08, 0.60, 0.35), ("8708", "DE", 0.06, 0.03, 0.35),
            ("8512", "CN", 0.05, 0.60, 0.35), ("8512", "VN", 0.05, 0.60, 0.35),
            ("0101", "MX", 0.36, 0.03, 0.35), ("9503", "US", 0.40, 0.03, 0.35)]

UDR_1 = """\
id: UDR-0001
kind: udr
title: Auto parts from CN
owner: ntc
status: active
created: 2023-01-01
rationale: Counterfeit brake parts.
where:
  all:
    - hts_code: {startswith: "8708"}
    - country_of_origin: CN
tests:
  match:
    - {hts_code: "8708300000", country_of_origin: CN}
  no_match:
    - {hts_code: "8708300000", country_of_origin: DE}
"""
UDR_2 = """\
id: UDR-0002
kind: udr
title: Lamps from CN
owner: ntc
status: active
created: 2023-01-01
rationale: Unsafe lamps.
where:
  all:
    - hts_code: {startswith: "8512"}
    - country_of_origin: CN
tests:
  match:
    - {hts_code: "8512200000", country_of_origin: CN}
  no_match:
    - {hts_code: "8512200000", country_of_origin: US}
"""
QUERY = """\
id: Q-0001-0001
kind: query
title: Lamps at P1
owner: officer
port: P1
status: active
created: 2023-01-01
where:
  all:
    - port_code: P1
    - hts_code: {startswith: "8512"}
tests:
  match:
    - {port_code: P1, hts_code: "8512200000"}
  no_match:
    - {port_code: P2, hts_code: "8512200000"}
"""


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True,
                          env={**os.environ, **GIT_ENV}).stdout


def write_data(folder: Path, n: int = 2000, seed: int = 7, csv: bool = False) -> None:
    rng = random.Random(seed)
    start = dt.date(2024, 1, 1)
    manifest, exams = [], []
    weights = [p[2] for p in PROFILES]
    for i in range(n):
        hts, country, _, rate, exam_rate = rng.choices(PROFILES, weights)[0]
        sid = f"S{i:05d}"
        day = start + dt.timedelta(days=rng.randrange(100))
        manifest.append({"shipment_id": sid, "arrival_date": day, "port_code": f"P{rng.randrange(4) + 1}",
                         "importer_id": f"IMP{rng.randrange(50):03d}",
                         "hts_code": f"{hts}{rng.randrange(10**6):06d}",
                         "country_of_origin": country, "quantity": float(rng.randrange(1, 100)),
                         "declared_value": float(rng.randrange(100, 10000))})
        if rng.random() < exam_rate:
            bad = rng.random() < rate
            exams.append({"exam_id": f"E{i:05d}", "shipment_id": sid, "exam_date": day,
                          "result": "discrepant" if bad else "no_discrepancy",
                          "disposition": "seizure" if bad else None,
                          "selection_method": "random"})
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in (("manifest", manifest), ("exams", exams)):
        frame = pl.DataFrame(rows)
        if csv:
            frame.write_csv(folder / f"{name}.csv")
        else:
            frame.write_parquet(folder / f"{name}.parquet")


def make_project(root: Path, gate: str = "", csv: bool = False) -> Path:
    """A committed project on branch main, with a branch `change` checked out."""
    write_data(root / "data", csv=csv)
    kind = "csv" if csv else "parquet"
    (root / "targeting.yaml").write_text(
        f"data:\n  manifest: data/manifest.{kind}\n  exams: data/exams.{kind}\n"
        "rules: [rules]\nqueries: [queries]\n" + gate, encoding="utf-8")
    (root / "rules").mkdir()
    (root / "queries").mkdir()
    (root / "rules" / "udr-0001.yaml").write_text(UDR_1, encoding="utf-8")
    (root / "rules" / "udr-0002.yaml").write_text(UDR_2, encoding="utf-8")
    (root / "queries" / "q-0001-0001.yaml").write_text(QUERY, encoding="utf-8")
    (root / ".gitignore").write_text(".targeting-cache/\nledger.jsonl.lock\n", encoding="utf-8")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "initial rules")
    git(root, "checkout", "-q", "-b", "change")
    return root


def merge_to_main(root: Path, message: str = "merged") -> None:
    """Commit everything on the branch and make main point at it, as a merged pull request
    would: the next gate run judges against this state."""
    git(root, "add", "-A")
    git(root, "commit", "-q", "--allow-empty", "-m", message)
    git(root, "branch", "-f", "main", "HEAD")


def make_policy_project(root: Path, extra: str = "") -> Path:
    """tests/data/policy copied to `root`, with the LENIENT promotion settings (and `extra`)."""
    root.mkdir()
    for name in ("rules", "queries"):
        shutil.copytree(POLICY_DATA / name, root / name)
    for name in ("manifest.csv", "exams.csv"):
        shutil.copy(POLICY_DATA / name, root / name)
    settings = "".join(f"  {k}: {v}\n" for k, v in LENIENT.items())
    # tests/data/policy/targeting.yaml ends with its promotion: section (evidence_source)
    (root / "targeting.yaml").write_text((POLICY_DATA / "targeting.yaml").read_text(encoding="utf-8")
                                         + settings + extra, encoding="utf-8")
    return root


def commit_base(root: Path) -> None:
    """Commit everything on main and check out a branch `change`."""
    (root / ".gitignore").write_text(".targeting-cache/\nledger.jsonl.lock\n", encoding="utf-8")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "base")
    git(root, "checkout", "-q", "-b", "change")


def cli(root: Path, *args: str) -> Result:
    """`targeting ARGS --config root/targeting.yaml` in this process."""
    result = CliRunner().invoke(main, [*args, "--config", str(root / "targeting.yaml")])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def outcome(doc: dict[str, Any], rule: str, name: str) -> str:
    """The outcome of the gate's (last) check `name` of `rule` in its JSON output."""
    found = [c for c in doc["checks"] if c["rule"] == rule and c["name"] == name]
    assert found, f"no check {rule}/{name} in {doc['checks']}"
    return str(found[-1]["outcome"])


def bundled_repo(root: Path) -> Path:
    """A git repository at `root` holding the bundled project (rules, queries, fixtures/default
    and targeting.yaml), committed as the base."""
    root.mkdir()
    for name in ("rules", "queries"):
        shutil.copytree(REPO / name, root / name)
    shutil.copytree(REPO / "fixtures" / "default", root / "fixtures" / "default")
    shutil.copy(REPO / "targeting.yaml", root / "targeting.yaml")
    commit_base(root)
    return root
