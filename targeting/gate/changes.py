"""Which rule and query files a branch adds, changes and removes, read from git."""
from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from targeting.errors import TargetingError


class GateError(TargetingError):
    """The gate cannot run: no git, an unknown base, a broken setup (exit 2)."""


@dataclass(frozen=True)
class Changes:
    """Paths relative to the repository top, by what happened to them since `base`."""

    top: Path
    base: str          # the commit compared against
    base_ref: str      # what the user named (or the default)
    added: tuple[str, ...]
    modified: tuple[str, ...]
    deleted: tuple[str, ...]

    @property
    def touched(self) -> tuple[str, ...]:
        return self.added + self.modified + self.deleted


def git(top: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    try:
        result = subprocess.run(["git", "-C", str(top), *args], capture_output=True, text=True,
                                check=False)
    except FileNotFoundError as exc:
        raise GateError("git is not installed or not on PATH; the gate compares with git") from exc
    if check and result.returncode != 0:
        raise GateError(f"git {' '.join(args)} failed: {result.stderr.strip()}")
    return result


def repo_top(root: Path) -> Path:
    result = git(root, "rev-parse", "--show-toplevel", check=False)
    if result.returncode != 0:
        raise GateError(f"{root} is not inside a git repository; `targeting gate` compares the "
                        f"working tree with a base commit. Run it in a clone of the project.")
    return Path(result.stdout.strip())


def default_base(top: Path) -> str:
    """origin/main when it exists, else main."""
    for ref in ("origin/main", "main"):
        if git(top, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False).returncode == 0:
            return ref
    raise GateError("no branch 'main' or 'origin/main' to compare with; pass --base REF "
                    "(in CI, fetch the target branch first, e.g. `git fetch origin main`)")


def merge_base(top: Path, ref: str) -> str:
    if git(top, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False).returncode != 0:
        raise GateError(f"--base {ref!r} is not a commit or branch in this repository; check the "
                        f"name, or fetch it (shallow CI clones need `fetch-depth: 0`)")
    head = git(top, "rev-parse", "--verify", "--quiet", "HEAD", check=False)
    if head.returncode != 0:
        return str(git(top, "rev-parse", f"{ref}^{{commit}}").stdout).strip()
    result = git(top, "merge-base", ref, "HEAD", check=False)
    if result.returncode != 0:
        raise GateError(f"no common ancestor of {ref} and HEAD; pass a --base that the branch "
                        f"grew from (shallow clones need more history: `fetch-depth: 0`)")
    return str(result.stdout).strip()


def resolve_base(top: Path, base_ref: str | None) -> tuple[str, str]:
    """(the ref named or the default, the merge base commit of it and HEAD)."""
    ref = base_ref or default_base(top)
    return ref, merge_base(top, ref)


def find_changes(top: Path, folders: list[Path], ref: str, base: str) -> Changes:
    """Files under `folders` added, modified and deleted between the base and the working tree
    (uncommitted and untracked files count: the gate judges what would be committed). The
    folders are the base's and the working tree's, so a file moved out of a folder that the
    branch dropped from `rules:` is still seen as deleted."""
    specs = sorted({_pathspec(top, f) for f in folders})
    diff = git(top, "diff", "--name-status", "--no-renames", "-z", base, "--", *specs).stdout
    added: list[str] = []
    modified: list[str] = []
    deleted: list[str] = []
    parts = diff.split("\0")
    for status, path in zip(parts[0::2], parts[1::2]):
        if not _is_rule_file(path):
            continue
        {"A": added, "D": deleted}.get(status[:1], modified).append(path)
    untracked = git(top, "ls-files", "--others", "--exclude-standard", "-z", "--", *specs).stdout
    added += [p for p in untracked.split("\0") if p and _is_rule_file(p)]
    return Changes(top, base, ref, tuple(sorted(set(added))), tuple(sorted(modified)),
                   tuple(sorted(deleted)))


def show(top: Path, commit: str, rel: str) -> bytes | None:
    """A file's bytes at `commit` (git plumbing, no checkout); None when it is not there."""
    if git(top, "cat-file", "-e", f"{commit}:{rel}", check=False).returncode != 0:
        return None
    result = subprocess.run(["git", "-C", str(top), "cat-file", "blob", f"{commit}:{rel}"],
                            capture_output=True, check=False)
    if result.returncode != 0:
        raise GateError(f"cannot read {rel} at {commit[:12]}: "
                        f"{result.stderr.decode(errors='replace').strip()}")
    return result.stdout


def relative(top: Path, path: Path) -> str:
    """`path` relative to the repository top, as git names it; GateError when outside."""
    try:
        return Path(path).resolve().relative_to(top.resolve()).as_posix()
    except ValueError as exc:
        raise GateError(f"{path} lies outside the git repository {top}; the gate can only "
                        f"compare files that git tracks") from exc


def base_files(changes: Changes, paths: list[str], into: Path) -> dict[Path, str]:
    """Write the base version of each path under `into` (same relative layout); temp path -> path."""
    written = {}
    for rel in paths:
        result = subprocess.run(["git", "-C", str(changes.top), "show", f"{changes.base}:{rel}"],
                                capture_output=True, check=False)
        if result.returncode != 0:
            raise GateError(f"cannot read {rel} at {changes.base[:12]}: "
                            f"{result.stderr.decode(errors='replace').strip()}")
        target = into / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(result.stdout)
        written[target] = rel
    return written


def _pathspec(top: Path, folder: Path) -> str:
    try:
        return str(folder.resolve().relative_to(top.resolve())) or "."
    except ValueError as exc:
        raise GateError(f"rule folder {folder} lies outside the git repository {top}; the gate "
                        f"can only compare files that git tracks") from exc


def _is_rule_file(path: str) -> bool:
    return path.endswith((".yaml", ".yml"))
