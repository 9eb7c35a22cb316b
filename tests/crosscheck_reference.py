"""A second, independent implementation of docs/metrics.md in plain Polars group-bys.

Written from the definitions in docs/metrics.md only, without reading the engine, so that
`tests/test_crosscheck.py` compares two implementations that could not share a mistake.
Only rule *matching* is borrowed (compile_polars); it is checked on its own by the
differential tests.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import polars as pl

from targeting.backtest.window import Window
from targeting.compile.polars_expr import compile_polars
from targeting.rules.model import Rule

Z = 1.959963984540054
OUTCOMES = {"seizure": "seizure", "refused_entry": "refused_entry",
            "voluntary_abandonment": "abandonment"}


def window_shipments(manifest: pl.DataFrame, window: Window) -> pl.DataFrame:
    """Manifest rows whose arrival_date lies in [since, until], both ends inclusive."""
    arrival = pl.col("arrival_date")
    return manifest.filter(arrival.is_between(window.since, window.until, closed="both"))


def shipment_facts(shipments: pl.DataFrame, exams: pl.DataFrame) -> pl.DataFrame:
    """One row per window shipment: port, month and the exam facts of docs/metrics.md."""
    ex = exams.join(shipments.select("shipment_id"), on="shipment_id", how="semi")
    disc = pl.col("result") == "discrepant"
    rand = pl.col("selection_method") == "random"
    disp = pl.col("disposition")
    per_ship = ex.group_by("shipment_id").agg(
        examined=pl.lit(True),
        discrepant=disc.any(),
        random_examined=rand.any(),
        random_discrepant=(rand & disc).any(),
        any_seizure=(disc & (disp == "seizure")).any(),
        any_refused=(disc & (disp == "refused_entry")).any(),
        any_abandon=(disc & (disp == "voluntary_abandonment")).any(),
        msrp=pl.when(disc).then(pl.col("msrp").fill_null(0.0)).otherwise(0.0).sum(),
        any_ice=pl.col("referred_to_ice").fill_null(False).any(),
        selectors=pl.col("selector_id").drop_nulls().unique(),
        # the propensity: the selection probability of the earliest exam that logged one
        propensity=pl.col("selection_probability").sort_by(["exam_date", "exam_id"])
        .drop_nulls().first(),
        any_accepted=pl.col("referral_accepted").fill_null(False).any(),
        any_outcome=pl.col("referral_outcome").is_not_null().any(),
    )
    facts = shipments.select(
        "shipment_id", port=pl.col("port_code"), month=pl.col("arrival_date").dt.strftime("%Y-%m"),
    ).join(per_ship, on="shipment_id", how="left")
    flags = ["examined", "discrepant", "random_examined", "random_discrepant",
             "any_seizure", "any_refused", "any_abandon", "any_ice", "any_accepted", "any_outcome"]
    facts = facts.with_columns([pl.col(c).fill_null(False) for c in flags])
    outcome = (pl.when(~pl.col("discrepant")).then(None)
               .when(pl.col("any_seizure")).then(pl.lit("seizure"))
               .when(pl.col("any_refused")).then(pl.lit("refused_entry"))
               .when(pl.col("any_abandon")).then(pl.lit("abandonment"))
               .otherwise(pl.lit("other")))
    return facts.with_columns(
        outcome=outcome,
        msrp=pl.when(pl.col("discrepant")).then(pl.col("msrp").fill_null(0.0)).otherwise(0.0),
        referred=pl.col("discrepant") & pl.col("any_ice"),
        accepted=pl.col("discrepant") & pl.col("any_accepted"),
        with_outcome=pl.col("discrepant") & pl.col("any_outcome"),
        selectors=pl.col("selectors").fill_null(pl.lit([], dtype=pl.List(pl.String))),
    )


def baseline(facts: pl.DataFrame) -> dict:
    """The window's totals, the same keys as Backtest.baseline, with the population estimate."""
    row = facts.select(
        shipments=pl.len(), examined=pl.col("examined").sum(),
        discrepant=pl.col("discrepant").sum(),
        random_examined=pl.col("random_examined").sum(),
        random_discrepant=pl.col("random_discrepant").sum(),
    ).row(0, named=True)
    row = {k: int(v) for k, v in row.items()}
    row["hit_rate"] = _ratio(row["discrepant"], row["examined"])
    row["random_hit_rate"] = _ratio(row["random_discrepant"], row["random_examined"])
    est = estimate(facts, row["shipments"], row["examined"], row["discrepant"],
                   row["random_examined"], row["random_discrepant"])
    return {**row, **est}


def estimate(group: pl.DataFrame, targeted: int, examined: int, discrepant: int,
             random_examined: int, random_discrepant: int) -> dict:
    """docs/metrics.md, "Estimates", method `auto`, from one group's shipment facts."""
    exam = group.filter(pl.col("examined"))
    if examined == 0:
        return _est(None, None, None, "none", 0.0, 0.0)
    if examined == targeted:
        low, high = _wilson(discrepant, examined)
        return _est(discrepant / examined, low, high, "census", examined, discrepant)
    if exam["propensity"].null_count() == 0:
        return _hajek(exam["propensity"].to_list(), exam["discrepant"].to_list(), discrepant)
    if random_examined:
        low, high = _wilson(random_discrepant, random_examined)
        return _est(random_discrepant / random_examined, low, high, "random", random_examined,
                    random_discrepant)
    return _est(None, None, None, "none", 0.0, 0.0)


def _hajek(propensities: list[float], found: list[bool], discrepant: int) -> dict:
    """The Hajek ratio Σ y/p / Σ 1/p; with-replacement variance Σ (y - rate)²/p² / (Σ 1/p)²;
    Wilson at the sample size rate(1-rate)/variance (Kish's (Σ 1/p)²/Σ 1/p² at 0 or 1)."""
    total = sum(1 / p for p in propensities)
    rate = sum(1 / p for p, y in zip(propensities, found) if y) / total
    kish = total ** 2 / sum(1 / p ** 2 for p in propensities)
    variance = sum((y - rate) ** 2 / p ** 2 for p, y in zip(propensities, found)) / total ** 2
    n = rate * (1 - rate) / variance if variance > 0 and 0 < rate < 1 else kish
    low, high = _wilson_p(rate, n)
    return _est(rate, low, high, "ipw", kish, discrepant, n)


def _est(rate, low, high, method, examined, discrepant, n=None) -> dict:
    """`n`, the interval's sample size, is the effective sample unless the variance says else."""
    return {"est_hit_rate": rate, "est_hit_rate_low": low, "est_hit_rate_high": high,
            "est_method": method, "est_examined": float(examined),
            "est_discrepant": float(discrepant), "est_n": float(examined if n is None else n)}


def matches(shipments: pl.DataFrame, rules: Sequence[Rule], lists: Mapping[str, frozenset[str]],
            catalogue=None) -> pl.DataFrame:
    """Long frame (rule_id, shipment_id): which window shipments each rule targets."""
    frames = [
        shipments.filter(compile_polars(r.where, lists, catalogue))
        .select(pl.lit(r.id).alias("rule_id"), "shipment_id")
        for r in rules
    ]
    if not frames:
        return pl.DataFrame(schema={"rule_id": pl.String, "shipment_id": pl.String})
    return pl.concat(frames).unique()


def scoreboard(manifest: pl.DataFrame, exams: pl.DataFrame, rules: Sequence[Rule], window: Window,
               reference_udrs: Sequence[Rule], lists: Mapping[str, frozenset[str]],
               catalogue=None) -> tuple[pl.DataFrame, dict]:
    """(one row per rule with every scoreboard metric, the baseline dict)."""
    shipments = window_shipments(manifest, window)
    facts = shipment_facts(shipments, exams)
    base = baseline(facts)
    ref_ids = [u.id for u in reference_udrs]
    by_id = {r.id: r for r in list(rules) + list(reference_udrs)}
    hits = matches(shipments, list(by_id.values()), lists, catalogue)
    targeted = hits.join(facts, on="shipment_id", how="inner")

    counts = _counts(targeted, base, facts)
    estimates = pl.DataFrame([{"rule_id": rid, **estimate(group, *_totals(group))}
                              for (rid,), group in targeted.group_by("rule_id")],
                             schema={"rule_id": pl.String, "est_hit_rate": pl.Float64,
                                     "est_hit_rate_low": pl.Float64,
                                     "est_hit_rate_high": pl.Float64, "est_method": pl.String,
                                     "est_examined": pl.Float64, "est_discrepant": pl.Float64,
                                     "est_n": pl.Float64})
    extra = _self_selected(targeted).join(_uniqueness(targeted, hits, ref_ids), on="rule_id",
                                          how="full", coalesce=True)
    ids = pl.DataFrame({"rule_id": [r.id for r in rules]})
    board = ids.join(counts, on="rule_id", how="left").join(extra, on="rule_id", how="left")
    board = _fill_zero_counts(board)
    board = _rates(board, base, window)
    board = board.join(estimates, on="rule_id", how="left").join(_top_selector(targeted),
                                                                on="rule_id", how="left")
    board = board.with_columns(
        est_method=pl.col("est_method").fill_null("none"),
        est_examined=pl.col("est_examined").fill_null(0.0),
        est_discrepant=pl.col("est_discrepant").fill_null(0.0),
        est_n=pl.col("est_n").fill_null(0.0),
        est_lift=pl.col("est_hit_rate") / base["est_hit_rate"] if base["est_hit_rate"] else None,
        top_selector_share=pl.col("top_selector_n") / pl.col("examined"),
    )
    overlap = _overlap(hits, [r.id for r in rules], ref_ids)
    board = board.join(overlap, on="rule_id", how="left")
    meta = pl.DataFrame({
        "rule_id": [r.id for r in rules], "kind": [r.kind for r in rules],
        "port": [r.port for r in rules], "status": [r.status for r in rules],
    }, schema={"rule_id": pl.String, "kind": pl.String, "port": pl.String, "status": pl.String})
    board = meta.join(board, on="rule_id", how="left", maintain_order="left")
    return board.rename({"rule_id": "id"}), base


def _totals(group: pl.DataFrame) -> tuple[int, int, int, int, int]:
    return (group.height, int(group["examined"].sum()), int(group["discrepant"].sum()),
            int(group["random_examined"].sum()), int(group["random_discrepant"].sum()))


def _top_selector(targeted: pl.DataFrame) -> pl.DataFrame:
    """The selector id on most of a rule's examined shipments (ties: smallest id)."""
    return (targeted.filter("examined").select("rule_id", "shipment_id", "selectors")
            .explode("selectors").drop_nulls("selectors")
            .group_by("rule_id", "selectors").agg(n=pl.len())
            .sort(["rule_id", "n", "selectors"], descending=[False, True, False])
            .group_by("rule_id", maintain_order=True).first()
            .select("rule_id", top_selector_id="selectors", top_selector_n="n"))


def _counts(targeted: pl.DataFrame, base: dict, facts: pl.DataFrame) -> pl.DataFrame:
    port_base = facts.group_by("port").agg(
        port_disc=pl.col("discrepant").sum(), port_exam=pl.col("examined").sum())
    # expected rate: Σ n_p·b'_p / Σ n_p over the rule's examined shipments (n_p per port), where
    # b'_p is the port's hit rate without the rule's own exams; ports where the rule selected
    # every exam are left out.
    own = pl.col("selectors").list.contains(pl.col("rule_id"))
    n_p = (targeted.filter("examined").group_by("rule_id", "port")
           .agg(n_p=pl.len(), own_e=own.sum(), own_d=(own & pl.col("discrepant")).sum())
           .join(port_base, on="port", how="left")
           .filter(pl.col("port_exam") > pl.col("own_e"))
           .with_columns(b_p=(pl.col("port_disc") - pl.col("own_d"))
                         / (pl.col("port_exam") - pl.col("own_e")))
           .group_by("rule_id").agg(expected_num=(pl.col("n_p") * pl.col("b_p")).sum(),
                                    expected_den=pl.col("n_p").sum()))
    disc = pl.col("discrepant")
    main = targeted.group_by("rule_id").agg(
        targeted=pl.len(),
        examined=pl.col("examined").sum(),
        discrepant=disc.sum(),
        random_examined=pl.col("random_examined").sum(),
        random_discrepant=pl.col("random_discrepant").sum(),
        ports_targeted=pl.col("port").n_unique(),
        ports_with_hits=pl.col("port").filter(disc).n_unique(),
        months_with_hits=pl.col("month").filter(disc).n_unique(),
        seizures=(pl.col("outcome") == "seizure").sum(),
        abandonments=(pl.col("outcome") == "abandonment").sum(),
        refused_entries=(pl.col("outcome") == "refused_entry").sum(),
        other_outcomes=(pl.col("outcome") == "other").sum(),
        msrp_total=pl.col("msrp").filter(disc).sum(),
        referrals=pl.col("referred").sum(),
        referrals_accepted=pl.col("accepted").sum(),
        referrals_with_outcome=pl.col("with_outcome").sum(),
        own_discrepant=(pl.col("discrepant")
                        & pl.col("selectors").list.contains(pl.col("rule_id"))).sum(),
    )
    return main.join(n_p, on="rule_id", how="left")


def _self_selected(targeted: pl.DataFrame) -> pl.DataFrame:
    return (targeted.filter("examined")
            .with_columns(own=pl.col("selectors").list.contains(pl.col("rule_id")))
            .group_by("rule_id").agg(self_selected=pl.col("own").sum()))


def _uniqueness(targeted: pl.DataFrame, hits: pl.DataFrame, ref_ids: list[str]) -> pl.DataFrame:
    """Discrepant targeted shipments matched by no reference UDR other than the rule itself."""
    by_udr = hits.filter(pl.col("rule_id").is_in(ref_ids)).rename({"rule_id": "udr_id"})
    other = (targeted.filter("discrepant").select("rule_id", "shipment_id")
             .join(by_udr, on="shipment_id", how="inner")
             .filter(pl.col("udr_id") != pl.col("rule_id"))
             .select("rule_id", "shipment_id").unique())
    return (targeted.filter("discrepant").select("rule_id", "shipment_id")
            .join(other, on=["rule_id", "shipment_id"], how="anti")
            .group_by("rule_id").agg(unique_discrepant=pl.len()))


def _fill_zero_counts(board: pl.DataFrame) -> pl.DataFrame:
    ints = ["targeted", "examined", "discrepant", "random_examined", "random_discrepant",
            "ports_targeted", "ports_with_hits", "months_with_hits", "seizures", "abandonments",
            "refused_entries", "other_outcomes", "referrals", "self_selected", "unique_discrepant",
            "referrals_accepted", "referrals_with_outcome", "own_discrepant"]
    return board.with_columns([pl.col(c).fill_null(0).cast(pl.Int64) for c in ints]
                              + [pl.col("msrp_total").fill_null(0.0).cast(pl.Float64)])


def _rates(board: pl.DataFrame, base: dict, window: Window) -> pl.DataFrame:
    rows = []
    for r in board.iter_rows(named=True):
        n, k = r["examined"], r["discrepant"]
        p = _ratio(k, n)
        low, high = _wilson(k, n)
        expected = _ratio(r["expected_num"], r["expected_den"]) if r["expected_den"] else None
        rows.append({
            "rule_id": r["rule_id"], "hit_rate": p, "hit_rate_low": low, "hit_rate_high": high,
            "lift": _ratio(p, base["hit_rate"]) if p is not None and base["hit_rate"] else None,
            "lift_within_ports": _ratio(p, expected) if p is not None and expected else None,
            "random_hit_rate": _ratio(r["random_discrepant"], r["random_examined"]),
            "random_hit_rate_low": _wilson(r["random_discrepant"], r["random_examined"])[0],
            "random_hit_rate_high": _wilson(r["random_discrepant"], r["random_examined"])[1],
            "own_examined": r["self_selected"], "other_examined": n - r["self_selected"],
            "other_discrepant": k - r["own_discrepant"],
            "self_selected_share": _ratio(r["self_selected"], n),
            "exam_rate": _ratio(n, r["targeted"]),
            "flags_per_day": r["targeted"] / window.days if window.days else None,
        })
    ints = ("own_examined", "other_examined", "other_discrepant")
    schema = ({k: pl.String if k == "rule_id" else pl.Int64 if k in ints else pl.Float64
               for k in rows[0]} if rows else None)
    return board.join(pl.DataFrame(rows, schema=schema), on="rule_id", how="left")


def _overlap(hits: pl.DataFrame, rule_ids: list[str], ref_ids: list[str]) -> pl.DataFrame:
    """Highest Jaccard with another reference UDR; ties to the smallest id."""
    sizes = hits.group_by("rule_id").agg(size=pl.len())
    udr_hits = hits.filter(pl.col("rule_id").is_in(ref_ids)).rename({"rule_id": "udr_id"})
    pairs = (hits.filter(pl.col("rule_id").is_in(rule_ids))
             .join(udr_hits, on="shipment_id", how="inner")
             .filter(pl.col("udr_id") != pl.col("rule_id"))
             .group_by("rule_id", "udr_id").agg(both=pl.len())
             .join(sizes, on="rule_id", how="left")
             .join(sizes.rename({"rule_id": "udr_id", "size": "udr_size"}), on="udr_id", how="left")
             .with_columns(jaccard=pl.col("both")
                           / (pl.col("size") + pl.col("udr_size") - pl.col("both")))
             .sort(["rule_id", "jaccard", "udr_id"], descending=[False, True, False])
             .group_by("rule_id", maintain_order=True).first()
             .select("rule_id", max_overlap_id="udr_id", max_overlap_jaccard="jaccard"))
    out = pl.DataFrame({"rule_id": rule_ids}).join(pairs, on="rule_id", how="left")
    if not ref_ids:  # no reference UDRs at all: both null
        return out.with_columns(max_overlap_jaccard=pl.lit(None, dtype=pl.Float64))
    return out.with_columns(pl.col("max_overlap_jaccard").fill_null(0.0))


def _ratio(num, den) -> float | None:
    return None if num is None or not den else num / den


def _wilson(k: int, n: int) -> tuple[float | None, float | None]:
    if n == 0:
        return None, None
    return _wilson_p(k / n, n)


def _wilson_p(p: float, n: float) -> tuple[float, float]:
    denom = 1 + Z * Z / n
    centre = (p + Z * Z / (2 * n)) / denom
    half = Z * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)
