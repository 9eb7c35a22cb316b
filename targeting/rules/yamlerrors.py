"""A YAML syntax error in words, at the line that caused it.

PyYAML reports the token it stumbled on ("expected <block end>, but found '<block mapping
start>'"), which for an indentation slip or a key without ':' can be the line after the real
mistake. This reads the error's marks (and, for a stray ':', the token before it) and says what
is wrong and how to fix it, at the line to change.
"""
from __future__ import annotations

import yaml

from targeting.errors import Location, Problem

_BLOCKS = {"while parsing a block mapping": "mapping",
           "while parsing a block collection": "list", "while parsing a flow sequence": "[ list",
           "while parsing a flow mapping": "{ mapping"}


def syntax_problem(exc: yaml.YAMLError, text: str, shown: str) -> Problem:
    """The Problem for a YAML syntax error in `text` (the file `shown`)."""
    problem = str(getattr(exc, "problem", None) or exc)
    mark, context = getattr(exc, "problem_mark", None), getattr(exc, "context_mark", None)
    where = _at(shown, mark)
    if problem.startswith("expected <block end>") and mark is not None and context is not None:
        what = _BLOCKS.get(str(exc.context), "block")
        if what == "list" and mark.column == context.column:
            return Problem("yaml-indent", f"this line is in the list that starts at line "
                           f"{context.line + 1} but is not an item of it; start it with '- ', or "
                           "indent it like the key the list belongs to", where)
        return Problem("yaml-indent", f"this line is indented {_spaces(mark.column)}, which lines "
                       f"up with nothing above it: the {what} that starts at line "
                       f"{context.line + 1} is indented {_spaces(context.column)}. Indent it "
                       "exactly like the lines it belongs with (spaces only)", where)
    if problem == "mapping values are not allowed here" and mark is not None:
        return _stray_colon(text, mark, shown)
    if "'\\t'" in problem:
        return Problem("yaml-tab", "a tab character: YAML indents with spaces only; replace the "
                       "tab with spaces", where)
    if str(getattr(exc, "context", "")).startswith("while scanning a quoted scalar") and context:
        return Problem("yaml-syntax", "this quote is never closed; end the text with the same "
                       "quote character on this line", _at(shown, context))
    if str(getattr(exc, "context", "")) in ("while parsing a flow sequence",
                                             "while parsing a flow mapping") and context:
        closer = "]" if "sequence" in str(exc.context) else "}"
        return Problem("yaml-syntax", f"this '{text_at(text, context)}' is not closed before line "
                       f"{mark.line + 1 if mark else '?'}; close it with '{closer}' on the same "
                       "line", _at(shown, context))
    return Problem("yaml-syntax", f"invalid YAML: {problem}", where)


def _stray_colon(text: str, mark: yaml.Mark, shown: str) -> Problem:
    """A ':' the scanner cannot take as a key: a key without ':' on an earlier line (read with
    this one as one text), a line indented past its siblings, or ': ' inside a value."""
    before, scalar = _tokens_before(text, mark)
    if scalar is not None and scalar.start_mark.line < mark.line:
        if isinstance(before, yaml.ValueToken) and before.start_mark.line == scalar.start_mark.line:
            line = mark.line
            column = len(text.splitlines()[line]) - len(text.splitlines()[line].lstrip(" "))
            return Problem("yaml-indent", "this line is indented more than the line above it, "
                           "so YAML reads it as part of that line's value; indent it exactly like "
                           "the key above", Location(shown, line + 1, column + 1))
        first = text.splitlines()[scalar.start_mark.line][scalar.start_mark.column:].strip()
        return Problem("yaml-syntax", f"'{first}' has no ':' after its key, so YAML reads it "
                       "and the next line as one text; write it as key: value",
                       _at(shown, scalar.start_mark))
    return Problem("yaml-syntax", "a ': ' inside a value; put the value in quotes (such as "
                   "description: \"A: B\"), or if this is a key, put it on its own line",
                   _at(shown, mark))


def _tokens_before(text: str, mark: yaml.Mark) -> tuple[yaml.Token | None, yaml.ScalarToken | None]:
    """The last scalar token scanned before `mark`, and the token before that scalar."""
    previous: yaml.Token | None = None
    before: yaml.Token | None = None
    scalar: yaml.ScalarToken | None = None
    try:
        for token in yaml.scan(text, Loader=yaml.SafeLoader):
            if token.start_mark.index >= mark.index:
                break
            if isinstance(token, yaml.ScalarToken):
                before, scalar = previous, token
            previous = token
    except yaml.YAMLError:
        pass
    return before, scalar


def text_at(text: str, mark: yaml.Mark) -> str:
    line = text.splitlines()[mark.line] if mark.line < len(text.splitlines()) else ""
    return line[mark.column:mark.column + 1]


def _spaces(column: int) -> str:
    return "1 space" if column == 1 else f"{column} spaces"


def _at(shown: str, mark: yaml.Mark | None) -> Location:
    return Location(shown, mark.line + 1, mark.column + 1) if mark else Location(shown, 1, 1)
