"""The data store and the on-disk match cache give the same numbers as reading the sources."""
from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import targeting.backtest.shipments
from targeting.backtest.run import backtest
from targeting.backtest.window import Window
from targeting.data.store import HITS_DIR, KEEP_STORES, STORE_DIR
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


def same_size_same_time_edit(path: Path, old: str, new: str) -> None:
    """Replace text by text of the same length and give the file back its modification time:
    what an editor, a copy with `cp -p` or a restore from backup can do."""
    assert len(old) == len(new)
    stat = path.stat()
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_size == stat.st_size


def test_touching_a_file_keeps_its_store(tiny):
    board(tiny)
    stores = sorted((tiny / STORE_DIR).glob("*.duckdb"))
    manifest = tiny / "manifest.csv"
    stat = manifest.stat()
    os.utime(manifest, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    board(tiny)
    assert sorted((tiny / STORE_DIR).glob("*.duckdb")) == stores  # same content, same store


def test_a_same_size_same_time_edit_is_read_again(tiny):
    """The store was keyed by path, size and mtime: this edit used to be served from the old
    store. Shipment s1 moves a year back, out of the window."""
    first, _ = board(tiny)
    same_size_same_time_edit(tiny / "manifest.csv", "s1,2025-01-05", "s1,2024-01-05")
    again, _ = board(tiny)
    before, after = (dict(zip(b["id"], b["targeted"])) for b in (first, again))
    assert after["U-1"] == before["U-1"] - 1


def test_a_rebuilt_store_does_not_reuse_old_matches(tiny):
    first, _ = board(tiny)
    old = {p.parent for p in hit_files(tiny)}
    same_size_same_time_edit(tiny / "manifest.csv", "s4,2025-02-03,2222,express,CN,Handbag ,80,",
                             "s4,2025-02-03,2222,express,CN,Handbag ,81,")
    again, _ = board(tiny)
    new = {p.parent for p in hit_files(tiny)} - old
    assert len(new) == 1 and len(list(new.pop().glob("*.parquet"))) == 4
    assert_frame_equal(first, again)  # the value changed is not one the rules test


def test_old_stores_and_their_matches_are_removed(tiny):
    builds = []
    for value in ("81", "82", "83"):  # three versions of the data, each read into a store
        same_size_same_time_edit(tiny / "manifest.csv", f"Handbag ,{int(value) - 1}",
                                 f"Handbag ,{value}")
        board(tiny)
        builds.append({p.parent.name for p in hit_files(tiny)} - set().union(*builds))
    assert len(list((tiny / STORE_DIR).glob("*.duckdb"))) == KEEP_STORES
    kept = {p.name for p in (tiny / HITS_DIR).iterdir()}
    assert kept == builds[1] | builds[2]  # the first build's matches went with its store


def test_a_match_file_copied_over_another_rules_is_matched_again(tiny):
    """A valid Parquet file of another predicate's matches was trusted: its metadata now names
    its build and predicate, and one in the wrong place is matched again and rewritten."""
    first, _ = board(tiny)
    files = hit_files(tiny)
    sizes = {p: len(pl.read_parquet(p)) for p in files}
    small, big = min(files, key=sizes.get), max(files, key=sizes.get)
    assert sizes[small] != sizes[big]
    shutil.copy(big, small)
    again, _ = board(tiny)
    assert_frame_equal(first, again)
    assert len(pl.read_parquet(small)) == sizes[small]  # rewritten with its own matches


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


def test_a_later_process_reuses_a_files_content_hash_until_it_is_written(tiny, monkeypatch):
    """The content hashes are kept in the project's cache by file version (inode, size, mtime,
    ctime): a later process does not read the history again, and an edit that restores size
    and mtime still changes ctime, so it is hashed again."""
    import targeting.data.dataset as dataset
    from targeting.data.store import data_fingerprint

    monkeypatch.setattr(dataset, "_RACY_NS", -10**12)  # the copied files count as settled
    config = open_project(tiny / "targeting.yaml").config
    before = data_fingerprint(config)
    monkeypatch.setattr(dataset, "_HASHED", {})  # a new process
    real_digest = dataset.hashlib.file_digest

    def no_reading(*args, **kwargs):
        raise AssertionError("a settled file was hashed again")

    monkeypatch.setattr(dataset.hashlib, "file_digest", no_reading)
    assert data_fingerprint(config) == before
    same_size_same_time_edit(tiny / "manifest.csv", "s1,2025-01-05", "s1,2024-01-05")
    with pytest.raises(AssertionError, match="hashed again"):
        data_fingerprint(config)
    monkeypatch.setattr(dataset.hashlib, "file_digest", real_digest)
    assert data_fingerprint(config) != before
