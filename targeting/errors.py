"""Errors that carry what a person needs to fix them, and the exit code they map to."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Location:
    """A 1-based position in a file."""

    path: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Problem:
    """One finding about a file: an error or a warning, with where and a stable code."""

    code: str
    message: str
    location: Location | None = None
    severity: str = "error"

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location else ""
        return f"{where}{self.severity}[{self.code}]: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        """The problem as plain JSON (see from_dict)."""
        loc = self.location
        return {"code": self.code, "message": self.message, "severity": self.severity,
                "location": [loc.path, loc.line, loc.column] if loc else None}

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Problem:
        loc = Location(*doc["location"]) if doc.get("location") else None
        return cls(doc["code"], doc["message"], loc, doc["severity"])


class TargetingWarning(UserWarning):
    """Something the user should know that does not stop the command: a window clipped to the
    data, arrivals left out as implausible. Its text is a complete line, such as
    `warning[window-clipped]: ...`; the CLI prints it on stderr and keeps the exit code."""


class TargetingError(Exception):
    """Base of every error the tool reports to a user."""

    exit_code = 2


class ConfigError(TargetingError):
    """The project configuration (targeting.yaml) is missing or invalid."""


class DataError(TargetingError):
    """The input data breaks the data contract; `problems` lists each finding when known."""

    def __init__(self, message: str, problems: Sequence[object] | None = None):
        super().__init__(message)
        self.problems = list(problems or [])


class RuleError(TargetingError):
    """One or more rule files are invalid; carries every problem found."""

    exit_code = 1

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class CompileError(TargetingError):
    """A predicate cannot be expressed by a backend (never silently approximated)."""

    exit_code = 1
