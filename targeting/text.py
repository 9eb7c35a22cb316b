"""Text normalisation shared by every backend, so "ignore case and spaces" means one thing."""
from __future__ import annotations

import re

# Only these count as surrounding space: DuckDB's trim() and Polars' strip_chars() agree on them.
SPACE_CHARS = " \t\n\r"

# Characters the backends lowercase differently, mapped before lowercasing so that every backend
# folds case identically (tests/test_folding.py compares every code point):
# - U+0130 (İ) and U+03A3 (Σ): Python, Polars and Java lowercase them by the full Unicode mapping
#   (i + combining dot; ς at the end of a word), DuckDB by the simple one-character mapping;
# - capitals new in Unicode 16 (Garay, Kirat Rai, Latin additions): Polars and Spark (ICU)
#   lowercase them, DuckDB and Python 3.11 (older Unicode tables) leave them as they are.
# (first, last, lowercase of first): each range maps onto consecutive lowercase letters.
_FOLD_RANGES = (
    (0x0130, 0x0130, 0x0069), (0x03A3, 0x03A3, 0x03C3), (0x1C89, 0x1C89, 0x1C8A),
    (0xA7CB, 0xA7CB, 0x0264), (0xA7CC, 0xA7CC, 0xA7CD), (0xA7CE, 0xA7CE, 0xA7CF),
    (0xA7D2, 0xA7D2, 0xA7D3), (0xA7D4, 0xA7D4, 0xA7D5), (0xA7DA, 0xA7DA, 0xA7DB),
    (0xA7DC, 0xA7DC, 0x019B), (0x10D50, 0x10D65, 0x10D70), (0x16EA0, 0x16EB8, 0x16EBB),
)
_SIMPLE_FOLD = {chr(first + k): chr(lower + k)
                for first, last, lower in _FOLD_RANGES for k in range(last - first + 1)}
_TABLE = str.maketrans(_SIMPLE_FOLD)
_FULL_MAPPING = ("\u0130", "\u03a3")  # the two whose full and simple mappings differ


def normalise(value: str) -> str:
    """Strip surrounding spaces and lowercase, the way compiled rules compare text."""
    return value.strip(SPACE_CHARS).translate(_TABLE).lower()


def decode_position(raw: bytes, exc: UnicodeDecodeError) -> tuple[int, int]:
    """The 1-based line and column of the byte a decoder stopped at, for messages."""
    line = raw.count(b"\n", 0, exc.start) + 1
    return line, exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1


def simple_folds() -> dict[str, str]:
    """The characters a backend must map before lowercasing (see `normalise`)."""
    return dict(_SIMPLE_FOLD)


def rare_folds() -> dict[str, str]:
    """Those of `simple_folds` no text outside the newest scripts contains (the Unicode 16
    capitals): SQL maps them only in values that hold one (compile.sql.folded_sql)."""
    return {k: v for k, v in _SIMPLE_FOLD.items() if k not in _FULL_MAPPING}


# Control characters (C0 with tab and newline, DEL, C1), the Unicode line and paragraph
# separators, and the bidirectional controls: in a name or a reason they could start a new line
# of a YAML file, drive a terminal, or make text read otherwise than it is stored.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def unsafe_characters(value: str) -> list[str]:
    """The control and direction characters in `value`, as escapes ('\\n', '\\x1b')."""
    return sorted({ascii(c)[1:-1] for c in _UNSAFE.findall(value)})
