"""The data store and the on-disk match cache give the same numbers as reading the sources."""
from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import pytest
from polars.testing import assert_frame_equal

import targeting.backtest.shipments
from targeting.backtest.run import backtest
from targeting.backtest.window import Window
from targeting.data.store import HITS_DIR, STORE_DIR
from targeting.project import open_project

TINY = Path(__file__).parent / "data" / "tiny"
WINDOW = Window(dt.date(2025, 1, 1), dt.date(2025, 2, 28))


@pytest.fixture
def tiny(tmp_path) -> Path:
    shutil.copytree(TINY, tmp_path / "tiny", ignore=shutil.ignore_patterns(".targeting-cache"))
    return tmp_path / "tiny"


def board(folder: Path):
    project = open_project(folder / "targeting.yaml")
    rules = project.all_rules
    run = backtest(project, rules, WINDOW, [r for r in rules if r.kind == "udr"])
    return run.scoreboard(), project


def hit_files(folder: Path) -> list[Path]:
    return sorted((folder / HITS_DIR).rglob("*.parquet"))


def test_store_gives_the_numbers_of_the_sources(tiny, monkeypatch):
    stored, project = board(tiny)
    assert project.dataset.hits_folder is not None
    assert len(list((tiny / STORE_DIR).glob("*.duckdb"))) == 1
    monkeypatch.setenv("TARGETING_STORE", "0")
    read, project = board(tiny)
    assert project.dataset.hits_folder is None
    assert_frame_equal(stored, read)


def test_matches_are_reused_from_disk_by_a_later_run(tiny, monkeypatch):
    first, _ = board(tiny)
    files = hit_files(tiny)
    assert len(files) == 4  # one per distinct predicate of the four rules

    def no_scan(*args, **kwargs):
        raise AssertionError("a cached predicate was matched again")

    monkeypatch.setattr(targeting.backtest.shipments, "compile_sql", no_scan)
    again, _ = board(tiny)
    assert_frame_equal(first, again)


def test_an_unreadable_match_file_is_matched_again(tiny):
    first, _ = board(tiny)
    broken = hit_files(tiny)[0]
    broken.write_bytes(b"not parquet")
    again, _ = board(tiny)
    assert_frame_equal(first, again)
    assert broken.read_bytes()[:4] == b"PAR1"


def test_a_rebuilt_store_does_not_reuse_old_matches(tiny):
    first, _ = board(tiny)
    old = {p.parent for p in hit_files(tiny)}
    manifest = tiny / "manifest.csv"
    stat = manifest.stat()
    os.utime(manifest, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    again, _ = board(tiny)
    new = {p.parent for p in hit_files(tiny)} - old
    assert len(new) == 1 and len(list(new.pop().glob("*.parquet"))) == 4
    assert_frame_equal(first, again)


def one_query(folder: Path):
    """Q-1 measured against the UDRs as reference rules (not requested), as `test` does."""
    project = open_project(folder / "targeting.yaml")
    rules = project.all_rules
    query = next(r for r in rules if r.id == "Q-1")
    run = backtest(project, [query], WINDOW, [r for r in rules if r.kind == "udr"])
    return run.scoreboard()


def test_reference_rules_read_from_disk_count_the_same(tiny, monkeypatch):
    first = one_query(tiny)  # matches every predicate and keeps them
    assert len(hit_files(tiny)) == 3
    streamed = one_query(tiny)  # the UDRs' kept matches are streamed from disk
    for broken in hit_files(tiny):
        broken.write_bytes(b"not parquet")
    rematched = one_query(tiny)
    monkeypatch.setenv("TARGETING_STORE", "0")
    read = one_query(tiny)
    for other in (streamed, rematched, read):
        assert_frame_equal(first, other)
    assert first["max_overlap_id"].item() == "U-1" and first["max_overlap_jaccard"].item() > 0
