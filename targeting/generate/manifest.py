"""One month of synthetic manifest lines, drawn column by column with numpy (no row loop).

The columns are drawn into an editable `Columns` record first, so a scenario's injections (a
shipper network, a new product, a ring of violators that moves) can rewrite some rows before
the frame is built.
"""
from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Callable
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
HK_TRANSSHIPPED = 0.25      # of CN-made goods exported through Hong Kong
EXAMPLE_REPEAT_VIOLATOR = 999  # IMP0000999


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


def make_parties(shipments: int, rng: np.random.Generator) -> Parties:
    """Draw the pools once per history so parties recur across months."""
    importers = max(2_000, shipments // 40)
    ids: list[str] = []
    names: list[str] = []
    start: dict[str, int] = {}
    count: dict[str, int] = {}
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
CATEGORY_INDEX = {c.name: i for i, c in enumerate(CATEGORIES)}


def port_shares() -> dict[str, float]:
    """Each port's expected share of all shipments (mode share x the port's weight in the mode)."""
    shares = dict.fromkeys(PORTS, 0.0)
    for m, mode_share in enumerate(MODE_SHARE):
        total = sum(w[m] for _, w in PORTS.values())
        for code, (_, w) in PORTS.items():
            shares[code] += mode_share * w[m] / total
    return shares


@dataclass
class Columns:
    """One month's manifest as index arrays, before it becomes a frame; injections edit it."""

    mode: np.ndarray        # index into MODES
    cat: np.ndarray         # index into CATEGORIES
    port: np.ndarray        # index into PORT_CODES
    origin: np.ndarray      # index into COUNTRY_CODES
    export: np.ndarray
    desc: np.ndarray        # description text (object)
    hts: np.ndarray         # HTS code text (object)
    shipper: np.ndarray     # index into the parties' shipper pool
    importer: np.ndarray    # importer number (IMP + 7 digits)

    def __len__(self) -> int:
        return len(self.mode)


@dataclass(frozen=True)
class Month:
    """Where a month stands in the history, for injections and dynamics."""

    index: int
    months: int
    first: dt.date
    parties: Parties


Injection = Callable[[np.random.Generator, Columns, Month], None]


def _pick(rng: np.random.Generator, weights: np.ndarray, n: int) -> np.ndarray:
    picked: np.ndarray = rng.choice(len(weights), size=n, p=weights / weights.sum())
    return picked


def _by_mode(rng: np.random.Generator, mode: np.ndarray,
             weights: Callable[[int], np.ndarray]) -> np.ndarray:
    out = np.empty(len(mode), dtype=np.int64)
    for m in range(len(MODES)):
        rows = np.flatnonzero(mode == m)
        out[rows] = _pick(rng, weights(m), len(rows))
    return out


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
    idx: np.ndarray = lo + (rng.random(n) * (hi - lo)).astype(np.int64)
    vague = rng.random(n) < VAGUE_SHARE
    idx[vague] = rng.integers(0, len(VAGUE_WORDS), vague.sum())
    return idx


def _shippers(rng: np.random.Generator, parties: Parties, export: np.ndarray) -> np.ndarray:
    start = np.array([parties.shipper_start[c] for c in COUNTRY_CODES])[export]
    count = np.array([parties.shipper_count[c] for c in COUNTRY_CODES])[export]
    shipper: np.ndarray = start + (rng.random(len(export)) ** 1.5 * count).astype(np.int64)
    return shipper


def country(code: str) -> int:
    """The index of a country code in COUNTRY_CODES."""
    return list(COUNTRIES).index(code)


def port(code: str) -> int:
    """The index of a port code in PORT_CODES."""
    return list(PORTS).index(code)


def draw_columns(rng: np.random.Generator, parties: Parties, n: int) -> Columns:
    """The base manifest's columns for `n` shipments."""
    mode = _pick(rng, np.array(MODE_SHARE), n)
    cat = _by_mode(rng, mode, lambda m: np.array([c.share * c.mode_weight[m] for c in CATEGORIES]))
    port = _by_mode(rng, mode, lambda m: np.array([w[m] for _, w in PORTS.values()]))
    origin = _pick(rng, np.array([s for s, _ in COUNTRIES.values()]), n)
    export = np.where((origin == country("CN")) & (rng.random(n) < HK_TRANSSHIPPED), country("HK"), origin)
    desc = WORDS[_descriptions(rng, cat)].astype(object)
    hts = HTS[HTS_START[cat] + rng.integers(0, 1 << 30, n) % HTS_COUNT[cat]].astype(object)
    shipper = _shippers(rng, parties, export)
    importer = (parties.importers * rng.random(n) ** 2.0).astype(np.int64)
    return Columns(mode, cat, port, origin, export, desc, hts, shipper, importer)


def inject_network(rng: np.random.Generator, cols: Columns, month: Month) -> None:
    """The Miami shipper network: Turkish perfume 'samples' by express, only at 5206."""
    rows = np.flatnonzero((cols.mode == 0) & (cols.port == port(NETWORK_PORT))
                          & (rng.random(len(cols)) < NETWORK_SHARE))
    tr = country("TR")
    cols.origin[rows], cols.export[rows] = tr, tr
    cols.cat[rows] = CATEGORY_INDEX["cosmetics"]
    cols.desc[rows] = np.array(["SAMPLE", "GIFT", "COSMETIC SAMPLE", "PERFUME SAMPLE"])[
        rng.integers(0, 4, len(rows))]
    cols.hts[rows] = "3304990000"
    first_net = len(month.parties.shipper_ids) - len(NETWORK_SHIPPERS)
    cols.shipper[rows] = first_net + rng.integers(0, len(NETWORK_SHIPPERS), len(rows))


def inject_pens(rng: np.random.Generator, cols: Columns, month: Month) -> None:
    """Weight-loss pens by express from CN/HK, from mid-history on."""
    if month.index < emerge_month(month.months):
        return
    cn_hk = (cols.origin == country("CN")) | (cols.origin == country("HK"))
    rows = np.flatnonzero((cols.mode == 0) & cn_hk & (rng.random(len(cols)) < PEN_SHARE))
    cols.cat[rows] = CATEGORY_INDEX["medicaments"]
    cols.desc[rows] = np.array(PEN_WORDS)[rng.integers(0, len(PEN_WORDS), len(rows))]
    cols.hts[rows] = "3004900000"


def to_frame(rng: np.random.Generator, cols: Columns, parties: Parties, first: dt.date,
             id_offset: int) -> pl.DataFrame:
    """The manifest frame of drawn (and injected) columns; amounts and dates drawn here."""
    n = len(cols)
    days = calendar.monthrange(first.year, first.month)[1]
    unit_value = np.array([c.value_median for c in CATEGORIES])[cols.cat]
    kg = np.array([c.kg_per_unit for c in CATEGORIES])[cols.cat]
    quantity = 1 + rng.poisson(np.array([1.5, 0.7, 120.0])[cols.mode])
    scale = np.where(cols.mode == 2, np.sqrt(quantity), 1.0)
    frame = pl.DataFrame({
        "shipment_id": pl.int_range(id_offset + 1, id_offset + n + 1, eager=True),
        "arrival_date": np.datetime64(first) + rng.integers(0, days, n).astype("timedelta64[D]"),
        "port_code": PORT_CODES[cols.port],
        "mode": np.array(MODES)[cols.mode],
        "importer_id": cols.importer,
        "consignee_id": rng.integers(0, parties.consignees, n),
        "shipper_id": parties.shipper_ids[cols.shipper],
        "shipper_name": parties.shipper_names[cols.shipper],
        "shipper_country": COUNTRY_CODES[cols.export],
        "manufacturer_id": (cols.shipper * 31 + cols.cat) % parties.manufacturers,
        "country_of_origin": COUNTRY_CODES[cols.origin],
        "country_of_export": COUNTRY_CODES[cols.export],
        "hts_code": cols.hts.astype(str),
        "description": cols.desc.astype(str),
        "quantity": quantity.astype(np.int64),
        "declared_value": np.round(unit_value * scale * rng.lognormal(0.0, 0.8, n), 2),
        "weight_kg": np.round(kg * quantity * rng.lognormal(0.0, 0.3, n), 2),
        "carrier_code": _carriers(rng, cols.mode, cols.port),
    })
    return frame.with_columns(
        ("SH" + pl.col("shipment_id").cast(pl.String).str.zfill(10)).alias("shipment_id"),
        pl.col("arrival_date").cast(pl.Date),
        ("IMP" + pl.col("importer_id").cast(pl.String).str.zfill(7)).alias("importer_id"),
        ("CNS" + pl.col("consignee_id").cast(pl.String).str.zfill(8)).alias("consignee_id"),
        ("MFR" + pl.col("manufacturer_id").cast(pl.String).str.zfill(6)).alias("manufacturer_id"),
    )
