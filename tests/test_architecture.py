"""The package's import graph: no cycles, and no stage imports a later stage.

Every `import` counts, including those deferred into functions for start-up time: a deferred
import still makes the lower module depend on the higher one.
"""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "targeting"

# Stages from the bottom up; a module may import its own stage and the ones before it.
STAGES = [
    ("base", ["targeting._version", "targeting.errors", "targeting.files", "targeting.text",
              "targeting.canonical", "targeting.db", "targeting.units", "targeting.cache",
              "targeting.dates", "targeting.codes", "targeting.dialect", "targeting.executor"]),
    ("rules", ["targeting.rules"]),
    ("compile", ["targeting.compile"]),
    ("data", ["targeting.data"]),
    ("project", ["targeting.project"]),
    ("generate", ["targeting.generate"]),
    ("backtest", ["targeting.backtest"]),
    ("decide", ["targeting.decide"]),
    ("render", ["targeting.render"]),
    ("gate", ["targeting.gate"]),
    ("api", ["targeting.api", "targeting"]),
    ("cli", ["targeting.cli", "targeting.__main__"]),
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imports(path: Path, name: str, known: set[str]) -> set[str]:
    """The package's modules that `path` imports (a name imported from a package counts as
    its submodule when there is one)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            names = {f"{base}.{alias.name}" for alias in node.names}
            submodules = names & known
            found |= submodules or {base}
            found |= {base} if names - submodules else set()
    return {m for m in found if m in known and m != name}


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(path, name, set(known)) for name, path in known.items()}


def stage(module: str) -> int:
    best, rank = -1, None
    for index, (_, prefixes) in enumerate(STAGES):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, rank = len(prefix), index
    assert rank is not None, f"{module} belongs to no stage; add it to STAGES"
    return rank


def test_every_module_has_a_stage():
    for module in modules():
        stage(module)


def test_no_stage_imports_a_later_one():
    upward = [f"{a} ({STAGES[stage(a)][0]}) imports {b} ({STAGES[stage(b)][0]})"
              for a, targets in graph().items() for b in targets if stage(b) > stage(a)]
    assert not upward, "\n".join(sorted(upward))


def test_import_graph_has_no_cycle():
    edges = graph()
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for target in sorted(edges[node]):
            if state.get(target) == 1:
                cycles.append(path[path.index(target):] + [target] if target in path else [node, target])
            elif target not in state:
                visit(target, path + [target])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)


def test_the_checker_sees_a_planted_upward_import(tmp_path):
    """The graph reader finds deferred and relative imports (a check that cannot fail proves
    nothing)."""
    source = tmp_path / "mod.py"
    source.write_text("def f():\n    from ..decide import policy\n    import targeting.cli\n")
    found = imports(source, "targeting.rules.mod", {"targeting.decide.policy", "targeting.cli",
                                                    "targeting.decide"})
    assert found == {"targeting.decide.policy", "targeting.cli"}
    assert stage("targeting.rules.mod") < stage("targeting.decide.policy")
