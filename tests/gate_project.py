"""A small git project for the gate tests: 2,000 shipments with planted signals, two UDRs, a query."""
from __future__ import annotations

import datetime as dt
import os
import random
import subprocess
from pathlib import Path

import polars as pl

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
