"""A small project over the differential tests' awkward table (NULLs, odd Unicode), with random
exams, lists and random predicate trees as rules: the ground on which engines must agree."""
from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import polars as pl
from rulegen import TreeMaker, random_table

from targeting.project import Project, open_project
from targeting.rules.model import Rule

PRIORITIES = ["health_safety", "repeat_violators", "automotive_parts"]


def make_random_project(folder: Path) -> tuple[Project, dict[str, frozenset[str]]]:
    """The differential tests' awkward table as a manifest, with random exams and lists."""
    frame, lists = random_table(seed=7, rows=400)
    rng = random.Random(11)
    start = dt.date(2025, 1, 1)
    manifest = frame.drop("rid").with_columns(
        shipment_id=pl.Series([f"S{i:04d}" for i in range(frame.height)]),
        arrival_date=pl.Series([start + dt.timedelta(days=rng.randint(0, 150)) for _ in range(frame.height)]),
        port_code=pl.Series([rng.choice(["1111", "2222", "3333", None]) or "4444"
                             for _ in range(frame.height)]),
    )
    manifest.write_parquet(folder / "manifest.parquet")
    _exams(manifest, rng).write_parquet(folder / "exams.parquet")
    (folder / "lists").mkdir()
    for name, values in lists.items():
        (folder / "lists" / f"{name}.txt").write_text("".join(v + "\n" for v in sorted(values)))
    (folder / "targeting.yaml").write_text(
        "data:\n  manifest: manifest.parquet\n  exams: exams.parquet\nlists: lists\n")
    return open_project(folder / "targeting.yaml"), lists


def _exams(manifest: pl.DataFrame, rng: random.Random) -> pl.DataFrame:
    rows = []
    for sid in manifest["shipment_id"]:
        for _ in range(rng.choice([0, 0, 0, 1, 1, 2])):
            discrepant = rng.random() < 0.4
            rows.append({
                "exam_id": f"E{len(rows):05d}", "shipment_id": sid,
                "result": "discrepant" if discrepant else "no_discrepancy",
                "disposition": rng.choice(["seizure", "voluntary_abandonment", "refused_entry",
                                           "other", None])
                if discrepant else None,
                "selection_method": rng.choice(["udr", "query", "random", "tip", None]),
                "selector_id": rng.choice(["R-0001", "R-0002", "R-0007", None]),
                "msrp": rng.choice([None, 10.0, 250.5]),
                "referred_to_ice": rng.random() < 0.2,
            })
    return pl.DataFrame(rows)


def random_rules(lists, count: int, seed: int) -> list[Rule]:
    """Random predicate trees as rules: every fourth a UDR, the others queries, with created
    dates inside the history and priority tags, so start dates and coverage vary too."""
    maker = TreeMaker(seed, lists)
    rng = random.Random(seed)
    return [Rule(id=f"R-{i:04d}", kind="udr" if i % 4 == 0 else "query", title="random",
                 where=maker.tree(), path="random", port="1111" if i % 4 else None,
                 created=dt.date(2025, 1, 1) + dt.timedelta(days=rng.randint(-20, 120)),
                 priorities=tuple(rng.sample(PRIORITIES, rng.randint(0, 2))))
            for i in range(count)]


