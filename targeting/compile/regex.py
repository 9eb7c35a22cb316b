"""Whether a regular expression means the same in every backend that runs `matches`."""
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
    escapes = [e for e in _DIVERGENT if e in pattern.replace("\\\\", "")]
    if escapes:
        return f"{', '.join(escapes)} {_DIVERGENT[escapes[0]]}"
    return None


# Escapes both engines accept but read differently, so a pattern using them could match
# different rows in each backend; the rule language refuses them and says what to write.
_CLASS_ADVICE = ("means different things in DuckDB (ASCII only) and Polars (Unicode); spell the "
                 "characters out, such as [0-9] for \\d, [A-Za-z0-9_] for \\w, [ \\t\\r\\n] for \\s")
_WORD_ADVICE = ("is a word boundary in Polars but a literal < or > in DuckDB; write [<] or [>] "
                "for the character")
_DIVERGENT = {**{f"\\{c}": _CLASS_ADVICE for c in "dDwWsSbB"},
              "\\<": _WORD_ADVICE, "\\>": _WORD_ADVICE}


def _first_line(exc: BaseException) -> str:
    """The engine's own reason, without the pattern echo and the expression context."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    reasons = [line[len("error:"):].strip() for line in lines if line.startswith("error:")]
    if reasons:  # Rust regex: "error: unclosed group"
        return reasons[0]
    text = lines[0] if lines else type(exc).__name__
    return text.removeprefix("Invalid Input Error:").strip()


