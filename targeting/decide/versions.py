"""When each rule's current predicate first appeared: its evidence counts only after that.

A rule's **predicate** is its `where` as written (the parsed YAML, so comments, spacing, the
title or `created` do not count) and the content of every list file it names; its **predicate
hash** is the SHA-256 of both. A **source** says when the current hash first appeared and held
without a break up to now:

- `git`: the first-parent history of the checked-out commit (`git log --first-parent`, one
  pass, then the changed rule and list files read with one `git cat-file --batch`). A commit's
  date is the latest committer date of it and every commit before it on that chain, so a
  backdated commit counts from when it reached the chain, never earlier.
- `ledger`: the `register` entries of ledger.jsonl (`targeting register`).
- `created`: nothing beyond the rule's own `created` date.

`auto` picks one source for the whole project (git when the project lies in a git work tree
whose history holds a rule file, else the ledger when it holds `register` entries, else
`created`), so a rule cannot slip back to `created` by being left uncommitted: under git or the
ledger, a predicate the source has not seen is `unregistered` and has no evidence yet. See
docs/policy.md, "Versioned evidence".
"""
from __future__ import annotations

import datetime as dt
import posixpath
import subprocess
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

import yaml

from targeting.canonical import digest, sha256
from targeting.data.config import Config
from targeting.decide import ledger
from targeting.rules.limits import RuleLimits
from targeting.rules.model import NAMED_LIST_OPERATORS, Rule
from targeting.rules.yamlfile import parse_yaml

Reader = Callable[[str, str], "bytes | None"]  # (commit, path) -> its bytes there, or None
REGISTER = "register"  # the ledger action that records a predicate hash
RULE_SUFFIXES = (".yaml", ".yml")
LIST_SUFFIXES = (".txt", ".csv")
UNREGISTERED = "unregistered"


@dataclass(frozen=True)
class Appeared:
    """A predicate hash and where it first appeared: the day, and the commit or ledger entry."""

    hash: str
    day: dt.date
    ref: str


@dataclass(frozen=True)
class Seen:
    """What the source says of a rule's current predicate: `source` is git, ledger or created
    (the day is then None: only `created` limits the evidence), or unregistered."""

    source: str
    day: dt.date | None = None
    ref: str = ""


# ------------------------------------------------------------------------------- predicates

def read_predicate(raw: bytes, shown: str, limits: RuleLimits) -> tuple[str, Any] | None:
    """(id, `where` as written) of a rule file's bytes; None when it does not read as a rule."""
    if len(raw) > limits.max_file_bytes:
        return None
    found = parse_yaml(raw, shown, limits)
    if not isinstance(found, tuple):
        return None
    _, loader, root = found
    if not isinstance(root, yaml.MappingNode):
        return None
    keys = {k.value: v for k, v in root.value if isinstance(k, yaml.ScalarNode)}
    rule_id, where = keys.get("id"), keys.get("where")
    if not isinstance(rule_id, yaml.ScalarNode) or where is None:
        return None
    value = loader.construct_object(where, deep=True)
    try:
        digest(value)
    except (TypeError, ValueError):  # a set or NaN: not a predicate the loader accepts either
        return None
    return str(rule_id.value), value


def list_names(where: Any) -> set[str]:
    """The list files a predicate names (in_list, contains_list, startswith_list)."""
    if isinstance(where, dict):
        named = {v for k, v in where.items() if k in NAMED_LIST_OPERATORS and isinstance(v, str)}
        return named.union(*(list_names(v) for v in where.values()))
    if isinstance(where, list):
        return set().union(*(list_names(v) for v in where))
    return set()


def predicate_hash(where: Any, lists: Mapping[str, str]) -> str:
    """The predicate's identity: its `where` and the content of each list it names (`lists`:
    list file name, such as `vip.txt` -> SHA-256 of its bytes)."""
    names = list_names(where)
    named = {name: h for name, h in lists.items() if posixpath.splitext(name)[0] in names}
    return digest({"where": where, "lists": named})


def current_hash(rule: Rule, config: Config) -> str | None:
    """The predicate hash of the rule's file as it is now (None when it cannot be read)."""
    try:
        raw = Path(rule.path).read_bytes()
    except OSError:
        return None
    found = read_predicate(raw, rule.path, config.limits)
    if found is None:
        return None
    names = list_names(found[1])
    folder = config.lists_dir
    files = sorted(folder.iterdir()) if names and folder.is_dir() else []
    lists = {p.name: sha256(p.read_bytes()) for p in files
             if p.is_file() and _is_list_name(p.name) and p.stem in names}
    return predicate_hash(found[1], lists)


def _is_list_name(name: str) -> bool:
    return posixpath.splitext(name)[1].lower() in LIST_SUFFIXES


# ------------------------------------------------------------------------------- sources

class Versions:
    """For one project, when each rule's current predicate first appeared, by the source its
    `promotion.evidence_source` names (resolved once: see the module docstring). `rev` is the
    commit whose first-parent history counts (the gate passes its base)."""

    def __init__(self, config: Config, rev: str = "HEAD"):
        self.config = config
        setting = config.promotion.evidence_source
        self.repo = _repo(config.root, rev) if setting in ("auto", "git") else None
        self.source = setting
        if setting == "auto":
            self.source = "git" if self.repo and _git_holds_rules(config, self.repo) else \
                "ledger" if ledger_history(self.book) else "created"
        self._first: dict[str, Appeared] | None = None

    @property
    def book(self) -> Path:
        return self.config.root / ledger.LEDGER_NAME

    def describe(self) -> str:
        """The source in words, for every screen that shows evidence dates."""
        chosen = " (auto)" if self.config.promotion.evidence_source == "auto" else ""
        if self.source == "git":
            if self.repo is None:
                return "git: none here (not a git work tree, or no commit yet), so no query is dated"
            return f"git{chosen}: first-parent history of {self.repo[1][:12]}"
        if self.source == "ledger":
            return f"ledger{chosen}: register entries in {ledger.LEDGER_NAME}"
        return f"created{chosen}: each rule's own created date"

    def seen(self, rule: Rule) -> Seen:
        """When the rule's current predicate first appeared, continuously up to now."""
        if self.source == "created":
            return Seen("created")
        first = self.history().get(rule.id)
        if first is None or first.hash != current_hash(rule, self.config):
            return Seen(UNREGISTERED)
        return Seen(self.source, first.day, first.ref)

    def history(self) -> dict[str, Appeared]:
        """Rule id -> where its latest predicate hash first appeared, by the source."""
        if self._first is None:
            if self.source == "ledger":
                self._first = ledger_history(self.book)
            elif self.repo is None:
                self._first = {}
            else:
                top, commit = self.repo
                folders, lists = _pathspecs(self.config, top)
                self._first = git_history(str(top), commit, folders, lists, self.config.limits)
        return self._first


def ledger_history(book: Path) -> dict[str, Appeared]:
    """Rule id -> its latest registered hash and the first entry of the run that holds it."""
    return registrations(ledger.read(book))


def registrations(entries: list[ledger.Entry]) -> dict[str, Appeared]:
    """`ledger_history` of entries already read (the gate reads the base's from git)."""
    first: dict[str, Appeared] = {}
    for entry in entries:
        h, day = entry.details.get("hash"), _entry_day(entry.at)
        if entry.action != REGISTER or not isinstance(h, str) or day is None:
            continue
        if entry.subject not in first or first[entry.subject].hash != h:
            first[entry.subject] = Appeared(h, day, f"ledger entry {entry.seq}")
    return first


def _entry_day(stamp: str) -> dt.date | None:
    try:
        return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(dt.UTC).date()
    except ValueError:
        return None


# ------------------------------------------------------------------------------- git

def _git(top: Path | str, *args: str) -> subprocess.CompletedProcess[str] | None:
    """git with literal pathspecs; None when git is not installed."""
    try:
        return subprocess.run(["git", "--literal-pathspecs", "-C", str(top), *args],
                              capture_output=True, text=True, check=False)
    except FileNotFoundError:
        return None


def _repo(root: Path, rev: str) -> tuple[Path, str] | None:
    """(the work tree's top, the commit `rev` names), or None outside a git work tree or
    before its first commit."""
    top = _git(root, "rev-parse", "--show-toplevel")
    if top is None or top.returncode != 0:
        return None
    commit = _git(root, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    if commit is None or commit.returncode != 0:
        return None
    return Path(top.stdout.strip()), commit.stdout.strip()


def _pathspecs(config: Config, top: Path) -> tuple[tuple[str, ...], str | None]:
    """The rule folders and the lists folder relative to the top (those inside it)."""
    def rel(folder: Path) -> str | None:  # "" for the top itself, as git names paths
        full = folder.resolve()
        if not full.is_relative_to(top.resolve()):
            return None
        found = full.relative_to(top.resolve()).as_posix()
        return "" if found == "." else found
    folders = [rel(f) for f in (*config.rule_dirs, *config.query_dirs)]
    return tuple(sorted({f for f in folders if f is not None})), rel(config.lists_dir)


def _git_holds_rules(config: Config, repo: tuple[Path, str]) -> bool:
    """Whether any commit on the first-parent history touched a rule folder."""
    folders, _ = _pathspecs(config, repo[0])
    found = _git(repo[0], "log", "--first-parent", "-1", "--format=%H", repo[1], "--",
                 *(f or "." for f in folders)) if folders else None
    return bool(found and found.returncode == 0 and found.stdout.strip())


@lru_cache(maxsize=32)
def git_history(top: str, commit: str, folders: tuple[str, ...], lists: str | None,
                limits: RuleLimits) -> dict[str, Appeared]:
    """Rule id -> where its predicate at `commit` first appeared on the first-parent chain and
    held without a break (an edit restarts it; changing it back starts again). Cached per
    process: the key names the commit, so a new commit is a new entry."""
    dates = _monotone_dates(top, commit)
    walk = _Walk(folders, lists, limits)
    with _blobs(top) as read:
        for sha, paths in _touching(top, commit, [*folders, *([lists] if lists is not None else [])]):
            walk.apply(sha, dates[sha], paths, read)
    return walk.first


def commit_day(top: Path, commit: str) -> dt.date | None:
    """The monotone date of `commit` on its own first-parent chain (see _monotone_dates)."""
    return _monotone_dates(str(top), commit).get(commit)


def _monotone_dates(top: str, commit: str) -> dict[str, dt.date]:
    """Each first-parent commit's date: the latest committer date of it and every commit before
    it on the chain (UTC), so no commit dates earlier than the chain it joined."""
    out = _git(top, "log", "--first-parent", "--format=%H %ct", commit)
    latest, dates = 0, {}
    for line in reversed(out.stdout.split("\n") if out and out.returncode == 0 else []):
        if line:
            sha, stamp = line.split(" ")
            latest = max(latest, int(stamp))
            dates[sha] = dt.datetime.fromtimestamp(latest, dt.UTC).date()
    return dates


def _touching(top: str, commit: str, specs: list[str]) -> list[tuple[str, list[str]]]:
    """(commit, the paths it changed against its first parent) under `specs`, oldest first."""
    if not specs:
        return []
    out = _git(top, "log", "--first-parent", "--diff-merges=first-parent", "--no-renames",
               "--name-only", "-z", "--format=%x01%H", commit, "--", *(s or "." for s in specs))
    found = []
    for chunk in (out.stdout.split("\x01")[1:] if out and out.returncode == 0 else []):
        sha, _, names = chunk.partition("\0")
        found.append((sha, [n.removeprefix("\n") for n in names.split("\0") if n.strip("\n")]))
    return found[::-1]


class _Walk:
    """The rule and list files as the commits change them, and each id's first appearance."""

    def __init__(self, folders: tuple[str, ...], lists: str | None, limits: RuleLimits):
        self.folders, self.lists_folder, self.limits = folders, lists, limits
        self.files: dict[str, tuple[str, Any]] = {}  # rule file -> (id, where)
        self.lists: dict[str, str] = {}              # list file name -> sha256
        self.first: dict[str, Appeared] = {}

    def apply(self, sha: str, day: dt.date, paths: list[str], read: Reader) -> None:
        ids: set[str] = set()
        changed_lists: set[str] = set()
        for path in paths:
            if self._is_list(path):
                raw, name = read(sha, path), posixpath.basename(path)
                if raw is None:
                    self.lists.pop(name, None)
                else:
                    self.lists[name] = sha256(raw)
                changed_lists.add(posixpath.splitext(name)[0])
            elif self._is_rule(path):
                old = self.files.pop(path, None)
                raw = read(sha, path)
                new = read_predicate(raw, path, self.limits) if raw is not None else None
                if new is not None:
                    self.files[path] = new
                ids |= {found[0] for found in (old, new) if found is not None}
        if changed_lists:
            ids |= {i for i, where in self.files.values() if list_names(where) & changed_lists}
        for rule_id in ids:
            held = self._hash(rule_id)
            if held is None:
                self.first.pop(rule_id, None)
            elif rule_id not in self.first or self.first[rule_id].hash != held:
                self.first[rule_id] = Appeared(held, day, sha)

    def _hash(self, rule_id: str) -> str | None:
        """The id's predicate hash (from the first file by path that holds it), or None."""
        where = next((w for _, (i, w) in sorted(self.files.items()) if i == rule_id), None)
        return None if where is None else predicate_hash(where, self.lists)

    def _is_rule(self, path: str) -> bool:
        return path.endswith(RULE_SUFFIXES) and any(
            not f or path.startswith(f + "/") for f in self.folders)

    def _is_list(self, path: str) -> bool:
        return (self.lists_folder is not None and _is_list_name(path)
                and posixpath.dirname(path) == self.lists_folder)




@contextmanager
def _blobs(top: str) -> Iterator[Reader]:
    """A reader of files at commits through one `git cat-file --batch` process."""
    process = subprocess.Popen(["git", "-C", top, "cat-file", "--batch"], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE)
    assert process.stdin is not None and process.stdout is not None
    stdin, stdout = process.stdin, process.stdout

    def read(sha: str, path: str) -> bytes | None:
        if "\n" in path:
            return None  # cannot be asked for on one line; such a file never counts
        stdin.write(f"{sha}:{path}\n".encode())
        stdin.flush()
        return _answer(stdout)

    try:
        yield read
    finally:
        stdin.close()
        process.wait()


def _answer(stdout: IO[bytes]) -> bytes | None:
    """One answer of `git cat-file --batch`: the blob's bytes, or None ("<spec> missing": the
    file is not there at that commit; or not a file)."""
    header = stdout.readline().split()
    if len(header) != 3:
        return None
    data = stdout.read(int(header[2]))
    stdout.read(1)  # the newline after the content
    return data if header[1] == b"blob" else None
