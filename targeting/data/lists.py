"""Named value lists (the `lists/` folder) that rules test with `in_list`."""
from __future__ import annotations

import csv
from pathlib import Path

from targeting.data.config import Config, display_path
from targeting.data.problems import unreadable
from targeting.errors import ConfigError, DataError
from targeting.text import decode_position, normalise

Lists = dict[str, frozenset[str]]
# Lists up to this long are folded in Python; longer ones by Polars (a million lines in 0.2 s,
# where value by value took 5 s).
SMALL_LIST = 20_000


def load_lists(config: Config) -> Lists:
    """Named value lists from the lists folder, normalised: {file stem: values}."""
    folder = config.lists_dir
    if not folder.is_dir():
        if config.lists_explicit:
            raise ConfigError(
                f"{display_path(config.path)}: lists: folder {display_path(folder)} does not "
                f"exist. Create it or remove the 'lists' key."
            )
        return {}
    lists: Lists = {}
    for path in list_files(config):
        if path.stem in lists:
            raise DataError(
                f"{display_path(path)}: list {path.stem!r} is defined twice (.txt and .csv); "
                f"keep one file per list name."
            )
        lists[path.stem] = normalised(_read_list(path))
    return lists


def normalised(values: list[str]) -> frozenset[str]:
    """The values folded as rules compare text, empty ones dropped.

    Short lists by text.normalise, long ones by Polars (compile.polars_expr.folded):
    test_differential holds the two equal.
    """
    if len(values) <= SMALL_LIST:
        # Value by value: no Polars import, which the officer's `test` would otherwise pay for.
        return frozenset(v for v in map(normalise, values) if v)
    import polars as pl

    from targeting.compile.polars_expr import folded  # the rules' folding, so matching agrees

    series = pl.Series("value", values, dtype=pl.String)
    unique = series.to_frame().select(folded(pl.col("value")).unique())["value"]
    return frozenset(unique.filter(unique != "").to_list())


def list_files(config: Config) -> list[Path]:
    """The .txt and .csv files in the lists folder, sorted."""
    if not config.lists_dir.is_dir():
        return []
    return sorted(p for p in config.lists_dir.iterdir()
                  if p.is_file() and p.suffix.lower() in (".txt", ".csv"))


def _read_list(path: Path) -> list[str]:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-16" if raw.startswith((b"\xff\xfe", b"\xfe\xff")) else "utf-8-sig")
    except UnicodeDecodeError as exc:
        line, column = decode_position(raw, exc)
        raise unreadable(display_path(path), f"line {line:,}, column {column}: byte "
                         f"0x{raw[exc.start]:02X} is not UTF-8. Save the list as UTF-8.",
                         "encoding") from None
    if path.suffix.lower() == ".txt":
        lines = (line.strip() for line in text.splitlines())
        return [line for line in lines if line and not line.startswith("#")]
    rows = [row for row in csv.reader(text.splitlines()) if row]
    if rows and rows[0][0].strip().lower() == "value":
        rows = rows[1:]
    return [row[0] for row in rows]
