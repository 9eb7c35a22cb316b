"""Findings about data files: a contract problem, an unreadable file, an implausible value."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from targeting.errors import DataError


@dataclass(frozen=True)
class DataProblem:
    """One way a data file breaks the contract: which file, a stable code, and the details.
    A warning is reported and does not stop the data being used."""

    code: str
    file: str
    message: str
    rows: int = 0
    severity: str = "error"

    def __str__(self) -> str:
        return f"{self.file}: {self.severity}[{self.code}]: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "file": self.file, "rows": self.rows,
                "severity": self.severity, "message": self.message}


def data_error(problems: list[DataProblem]) -> DataError:
    """The DataError (exit 2) that lists `problems`."""
    return DataError("\n".join(str(p) for p in problems), problems)


def unreadable(file: str, message: str, code: str = "unreadable") -> DataError:
    """A DataError for a file that cannot be read at all."""
    return data_error([DataProblem(code, file, message)])
