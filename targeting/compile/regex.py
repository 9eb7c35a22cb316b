"""Whether a regular expression means the same in every backend that runs `matches`: DuckDB
(RE2), Polars (Rust regex) and Spark (java.util.regex).

All three must compile the pattern, and the pattern must keep to syntax they read alike. Java
differs from the other two in ways a pattern cannot spell around, so the rule language refuses
them (`regex_problem`), and in two ways `java_pattern` rewrites for Spark:
- `.` stops at \\r, \\u0085, \\u2028 and \\u2029 as well as \\n: the pattern runs with the
  UNIX_LINES flag `(?d)`, under which only \\n ends a line;
- `$` also matches before a final line terminator: it becomes `\\z`, the very end.
"""
from __future__ import annotations

import duckdb


def regex_problem(pattern: str) -> str | None:
    """Why `pattern` cannot be used by `matches` in every backend, or None."""
    failures = []
    try:
        duckdb.execute("SELECT regexp_matches('', ?)", [pattern]).fetchall()
    except duckdb.Error as exc:
        failures.append(f"DuckDB (RE2): {_first_line(exc)}")
    import polars as pl  # deferred: only rules with `matches` need it (see compile/check.py)

    try:
        pl.select(pl.lit("").str.contains(pattern))
    except Exception as exc:  # polars raises ComputeError; the type differs between versions
        failures.append(f"Polars (Rust regex): {_first_line(exc)}")
    if failures:
        return (f"the pattern {pattern!r} does not compile in " + "; in ".join(failures)
                + ". Use syntax both RE2 and Rust regex accept")
    return _divergent(pattern)


# Escapes all three accept but read differently, so a pattern using them could match different
# rows in each backend; the rule language refuses them and says what to write.
_CLASS_ADVICE = ("means different things in DuckDB (ASCII only) and Polars (Unicode); spell the "
                 "characters out, such as [0-9] for \\d, [A-Za-z0-9_] for \\w, [ \\t\\r\\n] for \\s")
_WORD_ADVICE = ("is a word boundary in Polars but a literal < or > in DuckDB; write [<] or [>] "
                "for the character")
_DIVERGENT = {**{f"\\{c}": _CLASS_ADVICE for c in "dDwWsSbB"},
              "\\<": _WORD_ADVICE, "\\>": _WORD_ADVICE}
# Letters that may follow a backslash: control characters, hex codes and the text anchors.
# Others are classes (\d, \p{L}, \v, \h ...) whose members differ between the libraries, or
# escapes one of them lacks; punctuation may always be escaped.
_ESCAPES = set("tnrfaxAz")
_FLAG_ADVICE = ("inline flags such as (?i) are read differently by RE2 and Rust regex (Unicode "
                "case folding) and by Java (ASCII only, or other Unicode rules); spell both "
                "cases out, such as [Hh]andbag, or use `contains`, which ignores case")


def _divergent(pattern: str) -> str | None:
    """The first construct RE2, Rust regex and Java read differently, with what to write."""
    i, in_class = 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            escape = pattern[i:i + 2]
            if escape in _DIVERGENT:
                return f"{escape} {_DIVERGENT[escape]}"
            if escape[1:].isalnum() and escape[1:] not in _ESCAPES:
                return (f"{escape} is not read alike by RE2, Rust regex and Java; escape only "
                        "punctuation, or write \\t, \\n, \\r, \\f, \\a, \\xHH, \\A or \\z")
            i += 2
            continue
        if in_class:
            problem = _class_problem(pattern, i)
            if problem:
                return problem
            in_class = c != "]"
        elif c == "[":
            in_class = True
            i += 1 + (pattern[i + 1:i + 2] == "^")
            if pattern[i:i + 1] == "]":
                return ("a ] first in a character class is a literal ] in RE2 and Rust regex "
                        "but closes an empty class in Java; write \\] instead")
            continue
        elif pattern.startswith("(?", i) and not pattern.startswith("(?:", i):
            if pattern[i + 2:i + 3].isalpha() and pattern[i + 2:i + 3] != "P":
                return f"{pattern[i:i + 4]}...: {_FLAG_ADVICE}"
            return (f"{pattern[i:i + 4]}...: only plain groups (...) and (?:...) are read alike "
                    "by RE2, Rust regex and Java; use one of those")
        i += 1
    return None


def _class_problem(pattern: str, i: int) -> str | None:
    """Inside a character class, Java reads [ as a nested class and && as an intersection."""
    if pattern[i] == "[":
        if pattern.startswith("[:", i):
            return ("a POSIX class such as [[:alpha:]] is a set of letters in RE2 and Rust regex "
                    "but the characters ':', 'a', 'l', ... in Java; spell the range out, such as "
                    "[A-Za-z]")
        return ("a [ inside a character class starts a nested class in Java but is a literal [ "
                "in RE2 and Rust regex; write \\[ instead")
    if pattern.startswith("&&", i):
        return ("&& inside a character class intersects classes in Java but means the character "
                "& in RE2; write a single & instead")
    return None


def java_pattern(pattern: str) -> str:
    """The pattern as java.util.regex must read it to match what RE2 and Rust regex match (for
    patterns `regex_problem` accepts): UNIX_LINES, and every `$` anchor as `\\z`."""
    out, i, in_class = ["(?d)"], 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            out.append(pattern[i:i + 2])
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
            step = 1 + (pattern[i + 1:i + 2] == "^")
            out.append(pattern[i:i + step])
            i += step
            continue
        elif c == "$":
            c = "\\z"
        out.append(c)
        i += 1
    return "".join(out)


def _first_line(exc: BaseException) -> str:
    """The engine's own reason, without the pattern echo and the expression context."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    reasons = [line[len("error:"):].strip() for line in lines if line.startswith("error:")]
    if reasons:  # Rust regex: "error: unclosed group"
        return reasons[0]
    text = lines[0] if lines else type(exc).__name__
    return text.removeprefix("Invalid Input Error:").strip()
