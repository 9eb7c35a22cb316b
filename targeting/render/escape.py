"""One escaping helper per output kind, so text a user wrote (titles, names, reasons, field
names, values) can never change the shape of what is rendered: no terminal escape sequences or
rich markup, no fake Markdown headings or broken tables, no invalid XML.

Every renderer passes user text through the helper of its output kind.
"""
from __future__ import annotations

import html
import re

from rich.markup import escape as _rich_escape

# C0 and C1 control characters, DEL, the Unicode line/paragraph separators, and the
# bidirectional overrides and isolates that reorder how a line reads ("Trojan source"); tab and
# newline are handled per output kind.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
# Characters XML 1.0 forbids outright (tab, newline and carriage return are allowed).
_XML_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def plain(text: object) -> str:
    """Text without control characters (escape sequences cannot reach the terminal)."""
    return _CONTROL.sub("", str(text))


def terminal(text: object) -> str:
    """Text for rich output: no control characters, and `[...]` shown, not read as markup."""
    return str(_rich_escape(plain(text)))


def one_line(text: object) -> str:
    """Text folded onto one line (newlines and tabs become spaces)."""
    return re.sub(r"[\r\n\t]+", " ", plain(str(text).replace("\t", " ")))


def markdown(text: object) -> str:
    """Text for a Markdown paragraph or table cell: one line, HTML escaped, and the characters
    that start Markdown syntax (`|`, `*`, `_`, `` ` ``, `[`, `#`, `<`...) backslash-escaped."""
    folded = html.escape(one_line(text), quote=False)
    return re.sub(r"([\\`*_{}\[\]()#+!|~>])", r"\\\1", folded)


def markdown_code(text: object) -> str:
    """Text as a Markdown code span: one line, fenced with more backticks than it holds."""
    folded = one_line(text)
    longest = max((len(run) for run in re.findall(r"`+", folded)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if folded.startswith("`") or folded.endswith("`") else ""
    return f"{fence}{pad}{folded}{pad}{fence}"


def github(text: object) -> str:
    """The message of a GitHub Actions workflow command (`::error ...::message`)."""
    return plain(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def github_property(text: object) -> str:
    """A property value of a workflow command (`file=...,title=...`)."""
    return github(text).replace(":", "%3A").replace(",", "%2C")


def html_text(text: object) -> str:
    """Text for HTML content or attribute values."""
    return html.escape(plain(text), quote=True)


def xml(text: object) -> str:
    """Text XML 1.0 can hold (ElementTree escapes <, > and & itself)."""
    return _XML_FORBIDDEN.sub("", str(text))
