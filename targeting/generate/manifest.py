"""One month of synthetic manifest lines, drawn column by column with numpy (no row loop)."""
from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl

from targeting.generate.catalogue import (
    CARRIER_HUB,
    CARRIERS,
    CATEGORIES,
    COUNTRIES,
    MODE_SHARE,
    MODES,
    PORTS,
    SHIPPER_SUFFIX,
    SHIPPER_WORDS,
    VAGUE_WORDS,
)
from targeting.generate.patterns import NETWORK_PORT, NETWORK_SHIPPERS, PEN_WORDS, emerge_month

VAGUE_SHARE = 0.04          # descriptions that say only GIFT, SAMPLE...
NETWORK_SHARE = 0.05        # of Miami express shipments sent by the shipper network
PEN_SHARE = 0.03            # of CN/HK express shipments that are weight-loss pens, once emerged


@dataclass(frozen=True)
class Parties:
    """The pools of importers, consignees and shippers for a whole history."""

    importers: int
    consignees: int
    shipper_ids: np.ndarray
    shipper_names: np.ndarray
    shipper_start: dict[str, int]     # export country -> first index in the pools
    shipper_count: dict[str, int]
    manufacturers: int
    repeat: np.ndarray                # importer indices that violate repeatedly
    trusted: np.ndarray               # large, clean importers


EXAMPLE_REPEAT_VIOLATOR = 999  # IMP0000999


def make_parties(shipments: int, rng: np.random.Generator) -> Parties:
    """Draw the pools once per history so parties recur across months."""
    importers = max(2_000, shipments // 40)
    ids, names, start, count = [], [], {}, {}
    total = max(400, shipments // 200)
    for country, (share, _) in COUNTRIES.items():
        n = max(10, int(total * share))
        start[country], count[country] = len(ids), n
        for _ in range(n):
            ids.append(f"SHP{len(ids) + 1:06d}")
            names.append(f"{rng.choice(SHIPPER_WORDS)} {rng.choice(SHIPPER_WORDS)} "
                         f"{rng.choice(SHIPPER_SUFFIX)}")
    for i, sid in enumerate(NETWORK_SHIPPERS):
        ids.append(sid)
        names.append(f"{SHIPPER_WORDS[i]} SAMPLES {SHIPPER_SUFFIX[2]}")
    drawn = rng.choice(np.arange(200, importers), size=max(20, importers // 70), replace=False)
    # One fixed, listed repeat violator in every history, so rule examples can name a list member.
    repeat = np.union1d(drawn, [EXAMPLE_REPEAT_VIOLATOR])
    trusted = np.setdiff1d(np.arange(100), repeat)
    return Parties(importers, max(10_000, shipments // 4), np.array(ids), np.array(names), start,
                   count, max(500, shipments // 300), np.sort(repeat), trusted)


def _vocabulary() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Description strings, and per category the [plain, branded) index ranges."""
    words: list[str] = list(VAGUE_WORDS)
    plain = np.zeros((len(CATEGORIES), 2), dtype=np.int64)
    branded = np.zeros((len(CATEGORIES), 2), dtype=np.int64)
    for i, cat in enumerate(CATEGORIES):
        plain[i] = len(words), len(words) + len(cat.nouns)
        words += cat.nouns
        combos = [f"{b} {n}" for b in cat.brands for n in cat.nouns]
        branded[i] = len(words), len(words) + len(combos)
        words += combos
    hts = np.array([h for cat in CATEGORIES for h in cat.hts])
    return np.array(words), plain, branded, hts


WORDS, PLAIN, BRANDED, HTS = _vocabulary()
HTS_START = np.cumsum([0] + [len(c.hts) for c in CATEGORIES])[:-1]
HTS_COUNT = np.array([len(c.hts) for c in CATEGORIES])
PORT_CODES = np.array(list(PORTS))
COUNTRY_CODES = np.array(list(COUNTRIES))


def _pick(rng: np.random.Generator, weights: np.ndarray, n: int) -> np.ndarray:
    return rng.choice(len(weights), size=n, p=weights / weights.sum())


def _categories(rng: np.random.Generator, mode: np.ndarray) -> np.ndarray:
    cat = np.empty(len(mode), dtype=np.int64)
    for m in range(len(MODES)):
        rows = np.flatnonzero(mode == m)
        w = np.array([c.share * c.mode_weight[m] for c in CATEGORIES])
        cat[rows] = _pick(rng, w, len(rows))
    return cat


def _ports(rng: np.random.Generator, mode: np.ndarray) -> np.ndarray:
    port = np.empty(len(mode), dtype=np.int64)
    for m in range(len(MODES)):
        rows = np.flatnonzero(mode == m)
        port[rows] = _pick(rng, np.array([w[m] for _, w in PORTS.values()]), len(rows))
    return port


def _carriers(rng: np.random.Generator, mode: np.ndarray, port: np.ndarray) -> np.ndarray:
    carrier = np.empty(len(mode), dtype=object)
    for m, name in enumerate(MODES):
        rows = np.flatnonzero(mode == m)
        carrier[rows] = np.array(CARRIERS[name])[rng.integers(0, len(CARRIERS[name]), len(rows))]
    for code, hub in CARRIER_HUB.items():
        carrier[(mode == 0) & (PORT_CODES[port] == hub)] = code
    return carrier.astype(str)


def _descriptions(rng: np.random.Generator, cat: np.ndarray) -> np.ndarray:
    n = len(cat)
    share = np.array([c.brand_share for c in CATEGORIES])[cat]
    use_brand = (rng.random(n) < share) & (BRANDED[cat, 1] > BRANDED[cat, 0])
    lo = np.where(use_brand, BRANDED[cat, 0], PLAIN[cat, 0])
    hi = np.where(use_brand, BRANDED[cat, 1], PLAIN[cat, 1])
    idx = lo + (rng.random(n) * (hi - lo)).astype(np.int64)
    vague = rng.random(n) < VAGUE_SHARE
    idx[vague] = rng.integers(0, len(VAGUE_WORDS), vague.sum())
    return idx


def _shippers(rng: np.random.Generator, parties: Parties, export: np.ndarray) -> np.ndarray:
    start = np.array([parties.shipper_start[c] for c in COUNTRY_CODES])[export]
    count = np.array([parties.shipper_count[c] for c in COUNTRY_CODES])[export]
    return start + (rng.random(len(export)) ** 1.5 * count).astype(np.int64)


def month_frame(rng: np.random.Generator, parties: Parties, first: dt.date, month: int,
                months: int, n: int, id_offset: int) -> tuple[pl.DataFrame, np.ndarray]:
    """The manifest lines arriving in the month starting at `first`, and importer indices."""
    mode = _pick(rng, np.array(MODE_SHARE), n)
    cat = _categories(rng, mode)
    port = _ports(rng, mode)
    origin = _pick(rng, np.array([s for s, _ in COUNTRIES.values()]), n)
    cn, hk = (int(np.flatnonzero(c == COUNTRY_CODES)[0]) for c in ("CN", "HK"))
    export = np.where((origin == cn) & (rng.random(n) < 0.2), hk, origin)
    desc = WORDS[_descriptions(rng, cat)].astype(object)
    hts = HTS[HTS_START[cat] + rng.integers(0, 1 << 30, n) % HTS_COUNT[cat]].astype(object)
    shipper = _shippers(rng, parties, export)
    _inject_network(rng, mode, port, origin, export, cat, desc, hts, shipper, parties, cn, hk)
    if month >= emerge_month(months):
        _inject_pens(rng, mode, origin, cat, desc, hts, cn, hk)
    return _frame(rng, parties, first, n, id_offset, mode, cat, port, origin, export, desc, hts,
                  shipper)


def _inject_network(rng, mode, port, origin, export, cat, desc, hts, shipper, parties, cn, hk):
    rows = np.flatnonzero((mode == 0) & (PORT_CODES[port] == NETWORK_PORT)
                          & (rng.random(len(mode)) < NETWORK_SHARE))
    cosmetics = next(i for i, c in enumerate(CATEGORIES) if c.name == "cosmetics")
    tr = int(np.flatnonzero(COUNTRY_CODES == "TR")[0])
    origin[rows], export[rows], cat[rows] = tr, tr, cosmetics
    desc[rows] = np.array(["SAMPLE", "GIFT", "COSMETIC SAMPLE", "PERFUME SAMPLE"])[
        rng.integers(0, 4, len(rows))]
    hts[rows] = "3304990000"
    first_net = len(parties.shipper_ids) - len(NETWORK_SHIPPERS)
    shipper[rows] = first_net + rng.integers(0, len(NETWORK_SHIPPERS), len(rows))
    # The network never ships elsewhere: its shippers appear only at Miami.


def _inject_pens(rng, mode, origin, cat, desc, hts, cn, hk):
    rows = np.flatnonzero((mode == 0) & ((origin == cn) | (origin == hk))
                          & (rng.random(len(mode)) < PEN_SHARE))
    cat[rows] = next(i for i, c in enumerate(CATEGORIES) if c.name == "medicaments")
    desc[rows] = np.array(PEN_WORDS)[rng.integers(0, len(PEN_WORDS), len(rows))]
    hts[rows] = "3004900000"


def _frame(rng, parties, first, n, id_offset, mode, cat, port, origin, export, desc, hts,
           shipper) -> tuple[pl.DataFrame, np.ndarray]:
    days = calendar.monthrange(first.year, first.month)[1]
    unit_value = np.array([c.value_median for c in CATEGORIES])[cat]
    kg = np.array([c.kg_per_unit for c in CATEGORIES])[cat]
    quantity = 1 + rng.poisson(np.array([1.5, 0.7, 120.0])[mode])
    scale = np.where(mode == 2, np.sqrt(quantity), 1.0)
    value = np.round(unit_value * scale * rng.lognormal(0.0, 0.8, n), 2)
    weight = np.round(kg * quantity * rng.lognormal(0.0, 0.3, n), 2)
    importer = (parties.importers * rng.random(n) ** 2.0).astype(np.int64)
    ship_idx = shipper
    frame = pl.DataFrame({
        "shipment_id": pl.int_range(id_offset + 1, id_offset + n + 1, eager=True),
        "arrival_date": np.datetime64(first) + rng.integers(0, days, n).astype("timedelta64[D]"),
        "port_code": PORT_CODES[port],
        "mode": np.array(MODES)[mode],
        "importer_id": importer,
        "consignee_id": rng.integers(0, parties.consignees, n),
        "shipper_id": parties.shipper_ids[ship_idx],
        "shipper_name": parties.shipper_names[ship_idx],
        "shipper_country": COUNTRY_CODES[export],
        "manufacturer_id": (ship_idx * 31 + cat) % parties.manufacturers,
        "country_of_origin": COUNTRY_CODES[origin],
        "country_of_export": COUNTRY_CODES[export],
        "hts_code": hts.astype(str),
        "description": desc.astype(str),
        "quantity": quantity.astype(np.int64),
        "declared_value": value,
        "weight_kg": weight,
        "carrier_code": _carriers(rng, mode, port),
    })
    return frame.with_columns(
        ("SH" + pl.col("shipment_id").cast(pl.String).str.zfill(10)).alias("shipment_id"),
        pl.col("arrival_date").cast(pl.Date),
        ("IMP" + pl.col("importer_id").cast(pl.String).str.zfill(7)).alias("importer_id"),
        ("CNS" + pl.col("consignee_id").cast(pl.String).str.zfill(8)).alias("consignee_id"),
        ("MFR" + pl.col("manufacturer_id").cast(pl.String).str.zfill(6)).alias("manufacturer_id"),
    ), importer
