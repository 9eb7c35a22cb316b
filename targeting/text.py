"""Text normalisation shared by every backend, so "ignore case and spaces" means one thing."""
from __future__ import annotations

import re

# Only these count as surrounding space: DuckDB's trim() and Polars' strip_chars() agree on them.
SPACE_CHARS = " \t\n\r"

# Characters whose full Unicode lowercase (Python, Polars) differs from the simple per-character
# mapping DuckDB uses; mapping them first makes every backend fold case identically.
_SIMPLE_FOLD = {"\u0130": "i", "\u03a3": "\u03c3"}


def normalise(value: str) -> str:
    """Strip surrounding spaces and lowercase, the way compiled rules compare text."""
    text = value.strip(SPACE_CHARS)
    for upper, lower in _SIMPLE_FOLD.items():
        text = text.replace(upper, lower)
    return text.lower()


def decode_position(raw: bytes, exc: UnicodeDecodeError) -> tuple[int, int]:
    """The 1-based line and column of the byte a decoder stopped at, for messages."""
    line = raw.count(b"\n", 0, exc.start) + 1
    return line, exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1


def simple_folds() -> dict[str, str]:
    """The characters a backend must map before lowercasing (see `normalise`)."""
    return dict(_SIMPLE_FOLD)


# Control characters (C0 with tab and newline, DEL, C1), the Unicode line and paragraph
# separators, and the bidirectional controls: in a name or a reason they could start a new line
# of a YAML file, drive a terminal, or make text read otherwise than it is stored.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def unsafe_characters(value: str) -> list[str]:
    """The control and direction characters in `value`, as escapes ('\\n', '\\x1b')."""
    return sorted({ascii(c)[1:-1] for c in _UNSAFE.findall(value)})
