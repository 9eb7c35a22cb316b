"""The README's library examples run as written, on the bundled project, and return data."""
from __future__ import annotations

import re
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parents[1]


def library_examples() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Library"):]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def test_readme_library_examples_run(monkeypatch, capsys):
    monkeypatch.chdir(ROOT)  # the examples find targeting.yaml from the working folder
    blocks = library_examples()
    assert blocks, "the README's Library section has no python example"
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)
    board, report, review = namespace["board"], namespace["report"], namespace["review"]
    assert isinstance(board, pl.DataFrame) and sorted(board["id"]) == ["Q-4701-0012", "UDR-0001"]
    assert report.rule.id == "Q-4701-0012" and report.window.until.isoformat() == "2026-09-30"
    assert report.verdict is not None and report.metrics["targeted"] > 0
    assert review.window.until.isoformat() == "2026-06-30" and namespace["promotable"]
    assert isinstance(namespace["cov"].table, pl.DataFrame)
    assert "Q-4701-0012" in capsys.readouterr().out
