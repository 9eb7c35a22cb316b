"""Does the promotion policy keep its error rate? A study over seeds of the `marginal` scenario.

For every seed: generate the scenario (48 queries planted between 1x and 3x the population
rate, many within 20% of the bar), run the default policy's review, and score each query
against the truth: its true precision (the mean of `would_be_found` over every shipment it
matches in its evidence window) against the true bar (max(min_hit_rate, lift_factor x the true
rate of all shipments in the window)).

- **false discovery share**: of the queries promoted, the share whose true precision is below
  the true bar (0 when none is promoted), averaged over seeds: the policy's `fdr` bounds it.
- **power**: of the queries whose true precision is at least 1.5x the true bar, the share
  promoted, pooled over seeds.
- the same for the **uncorrected** test (each query alone at one-sided 2.5%, what a 95% lower
  bound at the bar amounts to, the policy before error control), and for **lower-bound
  persistence** (the policy with persistence asking the recent months' 95% lower bound to
  clear the bar, as it did before), for contrast;
- **repeated reviews**: the policy run at each of the last `--reviews` monthly cut-offs; a query
  counts once if any review promotes it (the false share of everything ever promoted);
- the **winner's curse**: over promoted queries, the mean raw estimate and the mean predicted
  (shrunk) rate, each over the mean true precision.

Usage: python benchmarks/marginal.py [--seeds 10] [--shipments 1200000] [--months 24]
       [--reviews 12] [--write docs/policy-study.md]
"""
from __future__ import annotations

import argparse
import datetime as dt
import platform
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from targeting.backtest.run import backtest, project_window
from targeting.decide.policy import decide, load_policy
from targeting.generate import generate_project
from targeting.project import Project, open_project

UNCORRECTED = 0.025  # one-sided: a Wilson 95% lower bound at the bar
STRONG = 1.5         # "truly above the bar by 50% or more"


@dataclass(frozen=True)
class Seeded:
    """One seed's scored queries."""

    seed: int
    rows: pl.DataFrame  # id, true, bar, promote, uncorrected, est, predicted


def score(project: Project, truth: pl.DataFrame, seed: int) -> Seeded:
    """Every active query's verdict against its true precision and the true bar."""
    window = project_window(project)
    policy = load_policy(project.config.promotion)
    verdicts = decide(project, window, policy)
    queries = [v.rule for v in verdicts]
    run = backtest(project, queries, window, [],
                   starts={i: v.evidence_window.since for i, v in enumerate(verdicts)})
    found = truth.select("shipment_id", "would_be_found")
    rows = []
    try:
        for i, v in enumerate(verdicts):
            ids = run.export(i).select("shipment_id")
            true = ids.join(found, on="shipment_id")["would_be_found"].mean()
            others_pass = all(c.passed for c in v.criteria if c.name != "effectiveness")
            persistence = next(c for c in v.criteria if c.name == "persistence")
            recent_low = v.metrics["recent_hit_rate_low"] or 0.0
            rows.append({"id": v.rule.id, "true": true, "promote": v.promote,
                         "uncorrected": others_pass and v.metrics["p_value"] <= UNCORRECTED,
                         "lower_bound_persistence": v.promote and recent_low
                         >= persistence.threshold["recent_hit_rate"],
                         "p": v.metrics["p_value"], "q": v.metrics["q_value"],
                         "est": v.metrics["est_hit_rate"],
                         "predicted": v.metrics.get("predicted_hit_rate")})
    finally:
        run.close()
    since = window.since
    population = (truth.join(pl.read_parquet(project.config.root / "manifest.parquet")
                             .select("shipment_id", "arrival_date"), on="shipment_id")
                  .filter(pl.col("arrival_date") >= since)["would_be_found"].mean())
    bar = max(policy.min_hit_rate, policy.lift_factor * float(population))
    return Seeded(seed, pl.DataFrame(rows).with_columns(bar=pl.lit(bar)))


def ever_promoted(project: Project, reviews: int) -> set[str]:
    """The queries the policy promotes at any of the last `reviews` monthly cut-offs."""
    window = project_window(project)
    policy = load_policy(project.config.promotion)
    found: set[str] = set()
    for back in range(reviews):
        cutoff = window.last_months(back).since - dt.timedelta(days=1) if back else window.until
        verdicts = decide(project, project_window(project, until=cutoff), policy)
        found |= {v.rule.id for v in verdicts if v.promote}
    return found


def study(seeds: int, shipments: int, months: int, reviews: int) -> list[Seeded]:
    found = []
    for seed in range(1, seeds + 1):
        with tempfile.TemporaryDirectory() as tmp:
            generate_project("marginal", Path(tmp), shipments, months, seed)
            project = open_project(Path(tmp) / "targeting.yaml")
            truth = pl.read_parquet(Path(tmp) / "truth.parquet")
            scored = score(project, truth, seed)
            ever = ever_promoted(project, reviews) if reviews else set()
            rows = scored.rows.with_columns(ever=pl.col("id").is_in(sorted(ever)) | pl.col("promote"))
            found.append(Seeded(seed, rows))
    return found


def summary(seeded: list[Seeded], rule: str) -> dict[str, float]:
    """False discovery share (mean over seeds) and power (pooled) of one decision rule."""
    shares, strong, strong_promoted, promoted = [], 0, 0, 0
    for s in seeded:
        chosen = s.rows.filter(pl.col(rule))
        false = chosen.filter(pl.col("true") < pl.col("bar")).height
        shares.append(false / chosen.height if chosen.height else 0.0)
        promoted += chosen.height
        good = s.rows.filter(pl.col("true") >= STRONG * pl.col("bar"))
        strong += good.height
        strong_promoted += good.filter(pl.col(rule)).height
    return {"fdr": sum(shares) / len(shares), "power": strong_promoted / strong if strong else 0.0,
            "promoted": promoted / len(seeded), "strong": strong / len(seeded)}


def curse(seeded: list[Seeded]) -> dict[str, float]:
    promoted = pl.concat([s.rows for s in seeded]).filter(pl.col("promote"))
    if promoted.is_empty():
        return {"raw": float("nan"), "predicted": float("nan")}
    true = promoted["true"].mean()
    return {"raw": promoted["est"].mean() / true,
            "predicted": promoted["predicted"].drop_nulls().mean() / true}


def report(seeded: list[Seeded], shipments: int, months: int, reviews: int,
           seconds: float) -> str:
    policy = load_policy(None)
    rows = [("BH at fdr " + f"{policy.fdr:g} (the policy)", summary(seeded, "promote")),
            (f"uncorrected, one-sided {UNCORRECTED:g} each", summary(seeded, "uncorrected")),
            ("the policy with lower-bound persistence", summary(seeded, "lower_bound_persistence")),
            (f"the policy, promoted at any of {reviews} monthly reviews", summary(seeded, "ever"))]
    lines = [
        "# The promotion policy against the truth: the `marginal` scenario",
        "",
        f"Measured {dt.date.today()} by `python benchmarks/marginal.py --seeds {len(seeded)} "
        f"--shipments {shipments} --months {months} --reviews {reviews}` ({seconds / 60:.0f} min on "
        f"{platform.machine()}, Python {platform.python_version()}). Seeds 1-{len(seeded)}; the "
        "default policy (docs/policy.md).",
        "",
        "| decision rule | promoted per seed | false discovery share (mean over seeds) | "
        f"queries ≥ {STRONG:g}x the bar per seed | power (pooled) |",
        "|---|---|---|---|---|",
    ]
    for name, s in rows:
        lines.append(f"| {name} | {s['promoted']:.1f} | {s['fdr']:.1%} | {s['strong']:.1f} | "
                     f"{s['power']:.0%} |")
    c = curse(seeded)
    lines += ["", "Winner's curse, over the queries the policy promoted: the mean raw estimate is "
              f"{c['raw']:.2f}x their mean true precision; the mean predicted (shrunk) rate "
              f"{c['predicted']:.2f}x.", "",
              "Per seed (promoted / false / strong promoted of strong):", ""]
    for s in seeded:
        chosen = s.rows.filter(pl.col("promote"))
        false = chosen.filter(pl.col("true") < pl.col("bar")).height
        good = s.rows.filter(pl.col("true") >= STRONG * pl.col("bar"))
        lines.append(f"- seed {s.seed}: bar {s.rows['bar'][0]:.2%}; {chosen.height} promoted, "
                     f"{false} false; {good.filter(pl.col('promote')).height} of {good.height}")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--shipments", type=int, default=1_200_000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--reviews", type=int, default=12)
    parser.add_argument("--write", type=Path)
    args = parser.parse_args()
    started = time.perf_counter()
    seeded = study(args.seeds, args.shipments, args.months, args.reviews)
    text = report(seeded, args.shipments, args.months, args.reviews, time.perf_counter() - started)
    print(text)
    if args.write:
        args.write.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
