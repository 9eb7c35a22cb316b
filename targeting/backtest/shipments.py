"""Run many rules over the window's shipments and keep who matched what.

The result lives in the DuckDB connection as temp tables the metrics read:
- `hits(rule, rid, port, arrival_date)`: one row per (rule, matched shipment in the window);
- `w_facts(rid, port, month, arrival_date, examined, discrepant, random_examined,
   random_discrepant, outcome, msrp, referred, selectors)`: one row per matched shipment;
- `w_exams`: the same columns, and shipment_id, for every examined shipment in the window
  (baselines, coverage).
`rid` is the manifest row's number in `manifest_f`.
"""
from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import duckdb

from targeting.backtest.window import Window
from targeting.compile.sql import compile_sql, folded_sql
from targeting.rules.model import All, AnyOf, Catalogue, Leaf, Node, Not, Rule, leaves

# One row per examined shipment. Outcome precedence makes outcomes a partition of discrepant
# shipments: seizure > refused entry > abandonment > other.
_EXAM_FACTS = """
SELECT shipment_id,
  TRUE AS examined,
  coalesce(bool_or(result = 'discrepant'), FALSE) AS discrepant,
  coalesce(bool_or(selection_method = 'random'), FALSE) AS random_examined,
  coalesce(bool_or(selection_method = 'random' AND result = 'discrepant'), FALSE) AS random_discrepant,
  CASE WHEN bool_or(result = 'discrepant' AND disposition = 'seizure') THEN 'seizure'
       WHEN bool_or(result = 'discrepant' AND disposition = 'refused_entry') THEN 'refused_entry'
       WHEN bool_or(result = 'discrepant' AND disposition = 'voluntary_abandonment') THEN 'abandonment'
       WHEN bool_or(result = 'discrepant') THEN 'other' END AS outcome,
  sum(msrp) FILTER (WHERE result = 'discrepant') AS msrp,
  coalesce(bool_or(result = 'discrepant') AND bool_or(referred_to_ice), FALSE) AS referred,
  list(DISTINCT selector_id) FILTER (WHERE selector_id IS NOT NULL) AS selectors
FROM exams GROUP BY shipment_id
"""


FOLD_PREFIX = "__folded__"
RID = "__rid"  # a stable row number in manifest_f, the key of hits and w_facts


def fold_fields(rules: Sequence[Rule], catalogue: Catalogue) -> set[str]:
    """The text fields the rules compare after folding (every text operator but matches)."""
    return {leaf.field for rule in rules for leaf in leaves(rule.where)
            if catalogue.get(leaf.field) == "text" and leaf.op not in ("matches", "is_null")}


def ensure_folded(con: duckdb.DuckDBPyConnection, fields: set[str], catalogue: Catalogue) -> dict[str, str]:
    """Keep `manifest_f`: the manifest plus a folded copy of each text field rules compare.

    Folding text once per connection, rather than in every leaf of every rule and every run,
    is what keeps many rules and repeated backtests (candidates, the gate) cheap.
    """
    present = {c[len(FOLD_PREFIX):] for c in _columns(con, "manifest_f") if c.startswith(FOLD_PREFIX)}
    if not present >= fields or not _exists(con, "manifest_f"):
        wanted = sorted(present | fields)
        # exam facts, window tables and cached hits are keyed by rows of the old manifest_f
        for table in ("exam_facts", "arrivals", "w_bounds", "hit_cache"):
            con.execute(f"DROP TABLE IF EXISTS {table}")
        extra = "".join(f', {folded_sql(name, catalogue)} AS "{FOLD_PREFIX}{name}"' for name in wanted)
        con.execute(f'CREATE OR REPLACE TEMP TABLE manifest_f AS SELECT row_number() OVER () AS "{RID}", '
                    f"*{extra} FROM manifest")
    return {name: f"{FOLD_PREFIX}{name}" for name in fields}


def internal_columns(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The columns of `manifest_f` that are not the manifest's own (row id, folded text)."""
    return [c for c in _columns(con, "manifest_f") if c == RID or c.startswith(FOLD_PREFIX)]


def _exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Whether a table or view of that name is visible."""
    rows = con.execute("SELECT 1 FROM duckdb_tables() WHERE table_name = ? UNION ALL "
                       "SELECT 1 FROM duckdb_views() WHERE view_name = ? AND NOT internal",
                       [name, name]).fetchall()
    return bool(rows)


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    if not _exists(con, table):
        return []
    return [r[0] for r in con.execute(f'DESCRIBE "{table}"').fetchall()]


def prepare_window(con: duckdb.DuckDBPyConnection, window: Window) -> None:
    """Create the view `w` (the window's rows of `manifest_f` with a rid) and `w_exams` (exam
    facts of the window's examined shipments).

    `w` is a view, not a copy. Only examined shipments (a few percent) have exam facts; see
    `hit_facts` for the matched ones.
    """
    ensure_exam_facts(con)
    bounds = [window.since, window.until]
    if _exists(con, "w_bounds") and con.execute(
            "SELECT count(*) FROM w_bounds WHERE since = ? AND until = ?", bounds).fetchall()[0][0]:
        return  # the same window: `w` and `w_exams` are still right
    con.execute("CREATE OR REPLACE TEMP TABLE w_bounds AS SELECT ?::DATE AS since, ?::DATE AS until",
                bounds)
    con.execute(f"""CREATE OR REPLACE TEMP VIEW w AS SELECT m."{RID}" AS rid, m.* FROM manifest_f m
        WHERE m.arrival_date BETWEEN (SELECT since FROM w_bounds) AND (SELECT until FROM w_bounds)""")
    con.execute("""CREATE OR REPLACE TEMP TABLE w_exams AS SELECT * FROM exam_facts
        WHERE arrival_date BETWEEN (SELECT since FROM w_bounds) AND (SELECT until FROM w_bounds)""")


def exam_facts_sql() -> str:
    """`exam_facts`: one row per examined shipment with its rid, port, month and arrival date.

    Keyed by rid, so joining the facts to matched shipments is an integer join on a few
    percent of the rows, never a string join over the manifest. The store keeps a copy.
    """
    return f"""SELECT m."{RID}" AS rid, e.shipment_id, m.port_code AS port,
        strftime(m.arrival_date, '%Y-%m') AS month, m.arrival_date, e.* EXCLUDE (shipment_id)
        FROM ({_EXAM_FACTS}) e JOIN manifest_f m USING (shipment_id)"""


ARRIVALS_SQL = 'SELECT arrival_date, count(*) AS shipments FROM manifest_f GROUP BY arrival_date'


def ensure_exam_facts(con: duckdb.DuckDBPyConnection) -> None:
    """Per-shipment exam facts and shipments per arrival day, the same for every window:
    computed once per connection (views over the store's copies when the data is stored)."""
    if not _exists(con, "exam_facts"):
        con.execute(f"CREATE TEMP TABLE exam_facts AS {exam_facts_sql()}")
    if not _exists(con, "arrivals"):
        con.execute(f"CREATE TEMP TABLE arrivals AS {ARRIVALS_SQL}")


def hit_facts(con: duckdb.DuckDBPyConnection, requested: int) -> None:
    """`w_facts`: the facts of every shipment one of the first `requested` rules matched (the
    rules measured; the rest are reference UDRs, whose matches only count for overlap)."""
    con.execute("""CREATE OR REPLACE TEMP TABLE w_facts AS
        SELECT h.rid, h.port, strftime(h.arrival_date, '%Y-%m') AS month, h.arrival_date,
          coalesce(e.examined, FALSE) AS examined, coalesce(e.discrepant, FALSE) AS discrepant,
          coalesce(e.random_examined, FALSE) AS random_examined,
          coalesce(e.random_discrepant, FALSE) AS random_discrepant,
          e.outcome, e.msrp, coalesce(e.referred, FALSE) AS referred, e.selectors
        FROM (SELECT DISTINCT rid, port, arrival_date FROM hits WHERE rule < ?) h
        LEFT JOIN w_exams e USING (rid)""", [requested])


def match_rules(con: duckdb.DuckDBPyConnection, rules: Sequence[Rule], catalogue: Catalogue,
                folded: Mapping[str, str] | None = None, cache: HitCache | None = None,
                requested: int | None = None) -> None:
    """Create `hits(rule, rid, port, arrival_date)` for `rules` (rule = index in the sequence),
    the matches among the window's shipments, and `rule_sizes(rule, n)` for the reference ones.

    The first `requested` rules (default: all) get every match. The others are reference rules
    (the active UDRs a backtest compares with): they get only the matches they share with a
    requested rule, all that overlap and uniqueness need, and their match counts go to
    `rule_sizes` (`count_sizes` adds the requested rules' once their start dates are applied).

    Each distinct predicate is matched once over the whole history, one filtered scan (DuckDB
    evaluates a WHERE clause leaf by leaf on the rows still selected, which measured twice as
    fast as evaluating every rule on every row in one pass; many rules go to the grouped engine
    instead). Matches are kept per connection, and in `cache` on disk when given, so later
    windows, backtests and runs reuse them: an officer's repeated `test` scans only the query.
    A reference rule's kept matches are streamed from disk, never loaded whole (the active UDRs
    match ~10M of 100M shipments).
    """
    requested = len(rules) if requested is None else requested
    con.execute("CREATE OR REPLACE TEMP TABLE hits (rule INTEGER, rid BIGINT, port VARCHAR, arrival_date DATE)")
    con.execute("CREATE OR REPLACE TEMP TABLE rule_sizes (rule INTEGER, n BIGINT)")
    con.execute("CREATE TEMP TABLE IF NOT EXISTS hit_cache (key VARCHAR, rid BIGINT, port VARCHAR, arrival_date DATE)")
    keys = [predicate_key(rule.where) for rule in rules]
    loaded = {row[0] for row in con.execute("SELECT DISTINCT key FROM hit_cache").fetchall()}
    kept: set[str] = set()
    if cache is not None:
        loaded |= cache.load(con, sorted(set(keys[:requested]) - loaded))
        kept = cache.kept(set(keys[requested:]) - loaded)
    for rule, key in zip(rules, keys):
        if key not in loaded and key not in kept:
            _scan(con, rule, key, catalogue, folded, cache)
            loaded.add(key)
    _rule_keys(con, keys, requested)
    con.execute(f"""INSERT INTO hits SELECT r.rule, c.rid, c.port, c.arrival_date
        FROM rule_keys r JOIN hit_cache c USING (key) WHERE r.rule < ? AND {_IN_WINDOW}""", [requested])
    on_disk = sorted({k for k in keys[requested:] if k in kept})
    try:
        _reference_hits(con, _KEPT_SOURCE, [cache.files(on_disk)] if on_disk else None, on_disk, requested)
    except duckdb.Error:  # a kept file is unreadable: match those predicates again
        con.execute("DELETE FROM hits WHERE rule >= ?", [requested])
        con.execute("DELETE FROM rule_sizes")
        for rule, key in zip(rules, keys):
            if key in on_disk:
                _scan(con, rule, key, catalogue, folded, cache)
        on_disk = []
    in_memory = sorted({k for k in keys[requested:] if k not in on_disk})
    _reference_hits(con, "hit_cache", None, in_memory, requested)


_IN_WINDOW = "c.arrival_date BETWEEN (SELECT since FROM w_bounds) AND (SELECT until FROM w_bounds)"
_KEPT_SOURCE = "(SELECT parse_filename(filename, true) AS key, * EXCLUDE (filename) FROM read_parquet(?, filename = true))"


def _scan(con: duckdb.DuckDBPyConnection, rule: Rule, key: str, catalogue: Catalogue,
          folded: Mapping[str, str] | None, cache: HitCache | None) -> None:
    """Match one predicate over the whole history into `hit_cache` (and keep it on disk)."""
    predicate, params = compile_sql(rule.where, catalogue, folded=folded or {})
    con.execute(f"""INSERT INTO hit_cache SELECT ?, "{RID}", port_code, arrival_date
        FROM manifest_f WHERE {predicate}""", [key, *params])
    if cache is not None:
        cache.save(con, key)


def _rule_keys(con: duckdb.DuckDBPyConnection, keys: Sequence[str], requested: int) -> None:
    """`rule_keys(rule, key)`: which predicate each rule index is."""
    con.execute("""CREATE OR REPLACE TEMP TABLE rule_keys AS
        SELECT unnest(?::VARCHAR[]) AS key, (generate_subscripts(?::VARCHAR[], 1) - 1)::INTEGER AS rule""",
                [list(keys), list(keys)])


def _reference_hits(con: duckdb.DuckDBPyConnection, source: str, params: list | None,
                    keys: Sequence[str], requested: int) -> None:
    """Reference rules with predicates in `keys`: their matches shared with a requested rule
    into `hits`, their window match counts into `rule_sizes`, both read from `source`."""
    if not keys:
        return
    chosen = f"""FROM rule_keys r JOIN {source} c USING (key)
        WHERE r.rule >= ? AND list_contains(?::VARCHAR[], r.key) AND {_IN_WINDOW}"""
    args = (params or []) + [requested, list(keys)]
    con.execute(f"""INSERT INTO hits SELECT r.rule, c.rid, c.port, c.arrival_date {chosen}
        AND c.rid IN (SELECT rid FROM hits WHERE rule < ?)""", args + [requested])
    con.execute(f"INSERT INTO rule_sizes SELECT r.rule, count(*) {chosen} GROUP BY r.rule", args)


def count_sizes(con: duckdb.DuckDBPyConnection, requested: int) -> None:
    """Add the requested rules' match counts (after start dates) to `rule_sizes`."""
    con.execute("INSERT INTO rule_sizes SELECT rule, count(*) FROM hits WHERE rule < ? GROUP BY rule",
                [requested])


def predicate_key(where: Node) -> str:
    """A hash of the predicate without source locations: the same condition, the same key."""
    return hashlib.sha256(repr(_plain_tree(where)).encode()).hexdigest()


class HitCache:
    """Matches per predicate kept on disk for one stored dataset (rids are the store's own):
    one Parquet file per predicate under `folder`, written atomically. Unwritable: not kept."""

    def __init__(self, folder: Path):
        self.folder = folder

    def _file(self, key: str) -> Path:
        return self.folder / f"{key}.parquet"

    def load(self, con: duckdb.DuckDBPyConnection, keys: Sequence[str]) -> set[str]:
        """Add the kept matches of `keys` to `hit_cache`; return the keys found. All files are
        read in one query; should one be unreadable (truncated by hand?), each is read alone
        and the bad ones are left to be matched again and rewritten."""
        found = [key for key in keys if self._file(key).is_file()]
        try:
            self._read(con, found)
            return set(found)
        except duckdb.Error:
            pass
        loaded = set()
        for key in found:
            try:
                self._read(con, [key])
                loaded.add(key)
            except duckdb.Error:
                pass
        return loaded

    def kept(self, keys: set[str]) -> set[str]:
        """Those of `keys` whose matches are on disk."""
        return {key for key in keys if self._file(key).is_file()}

    def files(self, keys: Sequence[str]) -> list[str]:
        return [str(self._file(key)) for key in keys]

    def _read(self, con: duckdb.DuckDBPyConnection, keys: Sequence[str]) -> None:
        if keys:
            con.execute("""INSERT INTO hit_cache SELECT parse_filename(filename, true), rid, port,
                arrival_date FROM read_parquet(?, filename = true)""",
                        [[str(self._file(key)) for key in keys]])

    def save(self, con: duckdb.DuckDBPyConnection, key: str) -> None:
        path = self._file(key)
        tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            # COPY takes no bound parameter for its target; the path is ours (folder + hex key).
            con.execute(f"""COPY (SELECT rid, port, arrival_date FROM hit_cache WHERE key = ?
                ORDER BY rid) TO '{str(tmp).replace("'", "''")}' (FORMAT parquet)""", [key])
            os.replace(tmp, path)
        except (OSError, duckdb.Error):
            tmp.unlink(missing_ok=True)


def _plain_tree(node: Node) -> tuple:
    """The predicate without source locations, so the same condition has the same key."""
    match node:
        case Leaf(field=name, op=op, value=value):
            return ("leaf", name, op, value)
        case All(children) | AnyOf(children):
            return (type(node).__name__, tuple(_plain_tree(c) for c in children))
        case Not(child):
            return ("not", _plain_tree(child))
    raise TypeError(f"not a predicate node: {node!r}")


def drop_before(con: duckdb.DuckDBPyConnection, starts: Mapping[int, object]) -> None:
    """Delete each listed rule's hits on shipments that arrived before its own start date."""
    con.execute("CREATE OR REPLACE TEMP TABLE rule_starts (rule INTEGER, since DATE)")
    con.executemany("INSERT INTO rule_starts VALUES (?, ?)", [[i, d] for i, d in starts.items()])
    con.execute("""DELETE FROM hits WHERE EXISTS (SELECT 1 FROM rule_starts s
        WHERE s.rule = hits.rule AND hits.arrival_date < s.since)""")
