"""A project: its configuration, its data and its rules, opened once and shared by commands."""
from __future__ import annotations

import warnings
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path

from targeting.cache import Cache, cache_key
from targeting.data.catalogue import field_catalogue
from targeting.data.config import Config, load_config
from targeting.data.dataset import Dataset
from targeting.data.lists import load_lists
from targeting.data.open import open_dataset
from targeting.data.settings import parse_engine
from targeting.data.spark import SparkDataset, open_spark_dataset
from targeting.data.values import Vocabulary, vocabulary
from targeting.errors import ConfigError, Problem, RuleError, TargetingError, TargetingWarning
from targeting.rules.loader import did_you_mean, parse_rules, rule_files, rule_id
from targeting.rules.model import Rule
from targeting.rules.select import Selection


class Project:
    """Lazily opens the data and validates rules against its field catalogue."""

    def __init__(self, config: Config, engine: str | None = None):
        self.config = config
        # The backtest engine every command uses (auto, shipments, grouped or spark): given,
        # else the config's `engine:`.
        self.engine = parse_engine(engine, "--engine") if engine else config.engine

    @cached_property
    def dataset(self) -> Dataset | SparkDataset:
        """The data, read where the engine runs: DuckDB, or a Spark session for `spark`."""
        if self.engine == "spark":
            return open_spark_dataset(self.config)
        reason = self.config.data.spark_only
        if reason is not None:
            raise ConfigError(f"{reason}, which only the Spark engine reads; use --engine spark "
                              "(or engine: spark in targeting.yaml).")
        return open_dataset(self.config)

    @cached_property
    def vocabulary(self) -> Vocabulary:
        """Each categorical text field's values in the data (data/values.py), kept in the
        cache per data fingerprint."""
        return field_vocabulary(self.dataset, Cache(self.config.root))

    @property
    def rule_paths(self) -> list[Path]:
        """The configured UDR and query folders."""
        return list(self.config.rule_dirs) + list(self.config.query_dirs)

    def check(self, paths: Sequence[str | Path] | None = None,
              run_examples: bool = True) -> tuple[list[Rule], list[Problem]]:
        """Load and validate rules under `paths` (default: configured folders), keeping problems."""
        from targeting.compile.check import check_rules, outcome_problems

        chosen = [Path(p) for p in paths] if paths else self.rule_paths
        rules, problems = check_rules(chosen, self.dataset.catalogue, self.dataset.lists,
                                      self.config.priorities or None, run_examples,
                                      Cache(self.config.root), self.config.limits,
                                      self.vocabulary)
        return rules, problems + outcome_problems(rules, outcome_fields(self.config))

    def rules(self, paths: Sequence[str | Path] | None = None) -> list[Rule]:
        """Validated rules under `paths` (default: the configured folders, validated once per
        project); RuleError (exit 1) when any has an error."""
        return self._validated(paths) if paths else self.all_rules

    def select(self, refs: Sequence[str | Path] | None = None) -> list[Rule]:
        """Validated rules given as files, folders or ids (default: every configured rule)."""
        if not refs:
            return self.all_rules
        return self.rules([p if Path(p).exists() else self.find_rule(str(p)) for p in refs])

    @cached_property
    def all_rules(self) -> list[Rule]:
        return self._validated(None)

    @cached_property
    def reference_rules(self) -> list[Rule]:
        """The configured rules, validated without running their examples: enough to compare
        one rule with the UDRs (`validate`, `evaluate` and the gate run every example)."""
        return self.__dict__.get("all_rules") or self._validated(None, run_examples=False)

    def reload_rules(self) -> None:
        """Forget the rules read so far: a writing command reads them again under the project
        lock, so it decides on what is on disk now, not on what another command replaced."""
        for name in ("all_rules", "reference_rules"):
            self.__dict__.pop(name, None)

    def _validated(self, paths: Sequence[str | Path] | None, run_examples: bool = True) -> list[Rule]:
        rules, problems = self.check(paths, run_examples)
        if any(p.severity == "error" for p in problems):
            raise RuleError([p for p in problems if p.severity == "error"])
        return rules

    def active_udrs(self) -> list[Rule]:
        """The configured UDRs with status active: the reference set for overlap and uniqueness."""
        return [r for r in self.reference_rules if r.kind == "udr" and r.is_active]

    def find_rule(self, ref: str) -> Path:
        """The file of a rule given as a path or as an id in the configured folders."""
        if Path(ref).is_file():
            return Path(ref)
        files = rule_files(self.rule_paths)
        # A file named after the id is the usual case and needs no parsing.
        named = [p for p in files if p.stem.upper() == ref.upper()]
        if named:
            return named[0]
        for path in files:
            if rule_id(path, self.config.limits) == ref:
                return path
        known = [path.stem.upper() for path in files]
        raise TargetingError(f"no rule file or id {ref!r} in {', '.join(str(p) for p in self.rule_paths)}"
                             f"{did_you_mean(ref.upper(), known)}. Give a rule file's path or the id "
                             "of a rule in the configured folders.")


def default_paths(config: Config) -> list[Path]:
    """The configured rule and query folders that exist."""
    return [p for p in (*config.rule_dirs, *config.query_dirs) if p.exists()]


def check_files(config: Config, paths: Sequence[Path] | None = None
                ) -> tuple[list[Rule], list[Problem]]:
    """Validate rule files (default: the configured folders) against the manifest's fields and
    the lists, without reading the data's rows: a broken exams file does not stop anyone
    checking rules."""
    from targeting.compile.check import check_rules, outcome_problems

    catalogue, lists = field_catalogue(config), load_lists(config)
    rules, problems = check_rules(list(paths or default_paths(config)), catalogue, lists,
                                  config.priorities or None, limits=config.limits,
                                  values=data_vocabulary(config))
    return rules, problems + outcome_problems(rules, outcome_fields(config))


def selected_files(config: Config, paths: Sequence[Path], selection: Selection) -> list[Path]:
    """The rule files under `paths` (default: the configured folders) whose rule `selection`
    picks; a file that does not parse is kept, so its errors are never hidden by a filter."""
    if selection.empty:
        return list(paths)
    rules, _ = parse_rules(list(paths) or default_paths(config), config.limits)
    parsed = {Path(r.path).resolve(): r for r in rules}
    return [p for p in rule_files(list(paths) or default_paths(config))
            if p.resolve() not in parsed or selection.matches(parsed[p.resolve()])]


def field_vocabulary(dataset: Dataset | SparkDataset, cache: Cache) -> Vocabulary:
    """The dataset's vocabulary, from the cache when the data is unchanged."""
    key = cache_key(vocabulary=dataset.fingerprint)
    cached = cache.get("vocabulary", key)
    if isinstance(cached, dict):
        return {str(k): [str(v) for v in values] for k, values in cached.items()}
    found = vocabulary(dataset.executor, dataset.catalogue)
    cache.put("vocabulary", key, found)
    return found


def data_vocabulary(config: Config) -> Vocabulary | None:
    """The data's vocabulary for `validate`, or None when the data cannot be opened: a broken
    data file must not stop anyone checking rules (the value check is then skipped). The data's
    own warnings are `data check`'s to report, not validate's."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", TargetingWarning)
            dataset = open_dataset(config)
    except TargetingError:
        return None
    try:
        return field_vocabulary(dataset, Cache(config.root))
    finally:
        dataset.close()


def outcome_fields(config: Config) -> list[str]:
    """Manifest fields that hold the exam outcome (the label column in labelled-manifest mode)."""
    return [config.data.labelled.column] if config.data.labelled is not None else []


def open_project(config: str | Path | None = None, engine: str | None = None) -> Project:
    """The project whose targeting.yaml is `config`, or found from the working directory up;
    `engine` overrides the config's `engine:`."""
    return Project(load_config(Path(config) if config else None), engine)
