"""Large lists benchmark: a 1-million-line list file (`in_list`) and a 10,000-term
`contains_list`, against the naive forms the same values took when written inline.

A synthetic history (1,000,000 shipments over 24 months, 200,000 importers, descriptions of
two to four words from a 2,000-word vocabulary plus a model number, so nearly every
description is distinct: the worst case for text matching) is generated once and cached in
benchmarks/.data/. The list files hold 1,000,000 importer ids (100,000 of them in the data)
and 10,000 terms (200 vocabulary words, the rest random letters).

Each figure is one fresh child process (wall time, peak RSS from os.wait4), with the data
store already built:
  - *engine*: the rule's compiled predicate (compile.sql) counted over the store's manifest_f;
  - *naive*: the same values as the inline form compiled before issue 16: `IN (?, ?, ...)`
    with a million parameters, and an OR of 10,000 `strpos` tests;
  - the same two in Polars (`compile_polars` against an `any_horizontal` of `contains`);
  - `targeting test RULE` and `targeting validate` end to end (list loading included).
A naive child that runs past --limit seconds is stopped and reported as more than that.
The table replaces the "Large lists" section of docs/benchmarks.md.

Usage: python benchmarks/lists.py [--shipments 1000000] [--limit 300] [--no-output]
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from scale import DATA, code_label, machine, replace_section  # noqa: E402

SECTION = "## Large lists: in_list and contains_list"
SEED = 16
IDS, TERMS, VOCABULARY, KNOWN_TERMS = 1_000_000, 10_000, 2_000, 200
RULES = {
    "Q-1111-0001": ("importer_id: {in_list: importers}", "in_list, 1,000,000 ids"),
    "Q-1111-0002": ("description: {contains_list: terms}", "contains_list, 10,000 terms"),
}


# --- data ------------------------------------------------------------------------------------


def project(shipments: int) -> Path:
    """The cached synthetic project: data, lists, the two rules and targeting.yaml."""
    folder = DATA / f"lists-{shipments}-seed{SEED}"
    if (folder / "targeting.yaml").exists():
        return folder
    import polars as pl

    rng = random.Random(SEED)
    words = sorted({_word(rng) for _ in range(VOCABULARY * 2)})[:VOCABULARY]
    start = dt.date(2023, 1, 1)
    importers = [f"IMP{i:07d}" for i in range(200_000)]
    manifest = pl.DataFrame({
        "shipment_id": [f"S{i:08d}" for i in range(shipments)],
        "arrival_date": [start + dt.timedelta(days=rng.randrange(730)) for _ in range(shipments)],
        "port_code": [f"{1000 + rng.randrange(300)}" for _ in range(shipments)],
        "importer_id": [rng.choice(importers) for _ in range(shipments)],
        "description": [" ".join(rng.sample(words, rng.randint(2, 4))) + f" M{rng.getrandbits(24):06x}"
                        for _ in range(shipments)],
    })
    examined = manifest.sample(fraction=0.03, seed=SEED)
    exams = pl.DataFrame({
        "shipment_id": examined["shipment_id"],
        "result": ["discrepant" if rng.random() < 0.1 else "no_discrepancy"
                   for _ in range(examined.height)],
    })
    temp = folder.with_name(folder.name + ".tmp")
    (temp / "lists").mkdir(parents=True, exist_ok=True)
    (temp / "queries").mkdir(exist_ok=True)
    manifest.write_parquet(temp / "manifest.parquet")
    exams.write_parquet(temp / "exams.parquet")
    ids = rng.sample(importers, 100_000) + [f"X{i:09d}" for i in range(IDS - 100_000)]
    rng.shuffle(ids)
    (temp / "lists" / "importers.txt").write_text("\n".join(ids) + "\n", encoding="utf-8")
    terms = set(rng.sample(words, KNOWN_TERMS))
    while len(terms) < TERMS:
        terms.add(_word(rng))
    (temp / "lists" / "terms.txt").write_text("\n".join(sorted(terms)) + "\n", encoding="utf-8")
    for rule_id, (where, _) in RULES.items():
        (temp / "queries" / f"{rule_id.lower()}.yaml").write_text(
            f'id: {rule_id}\nkind: query\ntitle: {rule_id}\nport: "1111"\nwhere:\n  {where}\n',
            encoding="utf-8")
    (temp / "targeting.yaml").write_text(
        "data: {manifest: manifest.parquet, exams: exams.parquet}\nqueries: [queries]\n"
        "rules: []\n", encoding="utf-8")
    os.replace(temp, folder)
    return folder


def _word(rng: random.Random) -> str:
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(4, 10)))


# --- children --------------------------------------------------------------------------------


def child_sql(config: str, rule_id: str, mode: str) -> dict:
    """Count the rule's matches over manifest_f with the engine's SQL or the naive form."""
    from targeting.compile.sql import compile_sql
    from targeting.data.tables import FOLD_PREFIX
    from targeting.project import open_project

    project_ = open_project(config)
    dataset = project_.dataset
    rule = next(r for r in project_.rules() if r.id == rule_id)
    leaf = rule.where
    if mode == "engine":
        folded = {n: FOLD_PREFIX + n for n, k in dataset.catalogue.items() if k == "text"}
        sql, params = compile_sql(leaf, dataset.catalogue, folded=folded)
    else:
        values = sorted(dataset.lists[leaf.value])
        column = f'"{FOLD_PREFIX}{leaf.field}"'
        if leaf.op == "in_list":
            sql = f"{column} IN ({', '.join('?' for _ in values)})"
        else:
            sql = "(" + " OR ".join(f"strpos({column}, ?) > 0" for _ in values) + ")"
        params = values
    began = time.perf_counter()
    count = dataset.con.execute(f"SELECT count(*) FROM manifest_f WHERE {sql}", params).fetchall()
    return {"seconds": time.perf_counter() - began, "count": count[0][0]}


def child_polars(config: str, rule_id: str, mode: str) -> dict:
    """Count the rule's matches in the Parquet file with compile_polars or the naive form."""
    import polars as pl

    from targeting.compile.polars_expr import compile_polars, folded
    from targeting.data.catalogue import field_catalogue
    from targeting.data.config import load_config
    from targeting.data.lists import load_lists
    from targeting.rules.loader import load_rules

    loaded = load_config(Path(config))
    lists, catalogue = load_lists(loaded), field_catalogue(loaded)
    leaf = next(r for r in load_rules(loaded.query_dirs) if r.id == rule_id).where
    frame = pl.read_parquet(Path(config).parent / "manifest.parquet")
    if mode == "engine":
        expr = compile_polars(leaf, lists, catalogue)
    else:
        column, values = folded(pl.col(leaf.field)), sorted(lists[leaf.value])
        expr = (column.is_in(values) if leaf.op == "in_list" else
                pl.any_horizontal([column.str.contains(v, literal=True) for v in values]))
    began = time.perf_counter()
    count = frame.filter(expr.fill_null(False)).height
    return {"seconds": time.perf_counter() - began, "count": count}


CHILDREN = {"sql": child_sql, "polars": child_polars}


def run(argv: Sequence[str], cwd: Path, limit: float) -> dict:
    """A child's report with its wall time and peak RSS; stopped after `limit` seconds."""
    with tempfile.TemporaryFile() as out:
        began = time.perf_counter()
        proc = subprocess.Popen(list(argv), cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
        deadline = began + limit
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                os.killpg(proc.pid, signal.SIGKILL)
            time.sleep(0.05)
        wall = time.perf_counter() - began
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode("utf-8", "replace")
    lines = [line for line in text.splitlines() if line.startswith("{")]
    report = json.loads(lines[-1]) if lines and proc.returncode == 0 else {}
    return {**report, "wall": wall, "rss": usage.ru_maxrss / 1024, "rc": proc.returncode,
            "stopped": wall >= limit, "tail": text[-400:]}


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "targeting", *args]


def child(kind: str, *args: str) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "_child", kind, *args]


# --- the table -------------------------------------------------------------------------------


def measure(folder: Path, limit: float) -> list[dict]:
    config = str(folder / "targeting.yaml")
    built = run(cli("evaluate", "--config", config, "--format", "json", "--output",
                    str(folder / "first.json")), folder, 3600)
    rows = []
    for rule_id, (_, label) in RULES.items():
        row = {"rule": rule_id, "label": label, "first": built}
        for backend in ("sql", "polars"):
            for mode in ("engine", "naive"):
                print(f"{rule_id} {backend} {mode} ...", flush=True)
                row[f"{backend}_{mode}"] = run(child(backend, config, rule_id, mode), folder,
                                               limit)
        out = folder / f"{rule_id}.json"
        row["test"] = run(cli("test", rule_id, "--config", config, "--format", "json",
                              "--output", str(out)), folder, limit)
        row["targeted"] = json.loads(out.read_text())["targeted"] if out.exists() else None
        rows.append(row)
    rows.append({"validate": run(cli("validate", "--config", config), folder, limit)})
    return rows


def _time(r: dict, key: str = "seconds") -> str:
    if r.get("stopped"):
        return f"> {r['wall']:.0f} s (stopped)"
    if r.get("rc"):
        return f"failed (exit {r['rc']})"
    return f"{r[key]:.2f} s"


def _ratio(naive: dict, engine: dict) -> str:
    if engine.get("rc") or "seconds" not in engine:
        return "–"
    value = (naive["wall"] if naive.get("stopped") or "seconds" not in naive else naive["seconds"])
    return f"{'> ' if naive.get('stopped') else ''}{value / engine['seconds']:,.0f}x"


def render(rows: list[dict], shipments: int, limit: float, command: str) -> str:
    out = [SECTION, "", f"`{command}` on {dt.date.today()} ({code_label(None)}); machine: "
           f"{machine()}.", "", __doc__.split("\n\n")[1].replace("\n", " "), "",
           "| rule | SQL engine | SQL naive | naive / engine | Polars engine | Polars naive | "
           "naive / engine | counts agree (of those that finished) | `targeting test` | "
           "peak RSS (SQL engine, SQL naive, test) |",
           "|---|---:|---:|---:|---:|---:|---:|---|---:|---|"]
    for row in rows[:-1]:
        counts = {row[k].get("count") for k in ("sql_engine", "sql_naive", "polars_engine",
                                                 "polars_naive") if "count" in row[k]}
        agree = "yes" if len(counts) == 1 else f"no: {sorted(counts)}"
        out.append(
            f"| {row['rule']} ({row['label']}) | {_time(row['sql_engine'])} | "
            f"{_time(row['sql_naive'])} | {_ratio(row['sql_naive'], row['sql_engine'])} | "
            f"{_time(row['polars_engine'])} | {_time(row['polars_naive'])} | "
            f"{_ratio(row['polars_naive'], row['polars_engine'])} | {agree} | "
            f"{_time(row['test'], 'wall')} | {row['sql_engine']['rss']:,.0f} / "
            f"{row['sql_naive']['rss']:,.0f} / {row['test']['rss']:,.0f} MiB |")
    validate, first = rows[-1]["validate"], rows[0]["first"]
    out += ["", f"{shipments:,} shipments; naive children stopped after {limit:.0f} s. SQL and "
            "Polars columns time the match alone (the data already open); `targeting test` is "
            "the whole command, process start and list loading included. `targeting validate` "
            f"of both rules: {_time(validate, 'wall')}, peak {validate['rss']:,.0f} MiB. First "
            f"run (store built): {_time(first, 'wall')}, peak {first['rss']:,.0f} MiB. Load "
            f"average after the run: {os.getloadavg()[0]:.1f} on {len(os.sched_getaffinity(0))} "
            "CPUs (above that, other work was competing)."]
    return "\n".join(out) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["_child"]:
        print(json.dumps(CHILDREN[argv[1]](*argv[2:])))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shipments", type=int, default=1_000_000)
    parser.add_argument("--limit", type=float, default=300, help="seconds before a child stops")
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--no-output", action="store_true")
    args = parser.parse_args(argv)
    folder = project(args.shipments)
    rows = measure(folder, args.limit)
    section = render(rows, args.shipments, args.limit, "python benchmarks/lists.py "
                     + " ".join(argv))
    print(section)
    if not args.no_output:
        replace_section(args.output, section, SECTION)


if __name__ == "__main__":
    main()
