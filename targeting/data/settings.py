"""The `promotion:`, `gate:`, `ledger:`, `engine:` and `spark:` sections of targeting.yaml, parsed
into typed settings when the project is loaded, so a typo or a bad value fails every command the
same way (exit 2, naming the file and the key), not only the command that reads the section.

Each setting is a field of a frozen dataclass with its default and, in its metadata, what it
means and any bound beyond "a non-negative number". docs/policy.md and docs/gate.md document
them; a change to a default is a change to every project's policy or gate.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any, TypeVar

from targeting.canonical import digest
from targeting.dates import date_of
from targeting.errors import ConfigError
from targeting.rules.limits import RuleLimits
from targeting.rules.loader import did_you_mean

_PERIOD = re.compile(r"^\d+[dmy]$")
ESTIMATES = ("auto", "ipw", "random", "observed")  # see targeting/backtest/estimate.py
EVIDENCE_SOURCES = ("auto", "git", "ledger", "created")  # see targeting/decide/versions.py


def _setting(default: Any, meaning: str, at_most: float | None = None, **more: Any) -> Any:
    return field(default=default, metadata={"meaning": meaning, "at_most": at_most, **more})


@dataclass(frozen=True)
class PromotionSettings:
    """The promotion and retirement policy (docs/policy.md)."""

    min_examined: int = _setting(30, "evidence: examined shipments since the query was written")
    min_discrepant: int = _setting(10, "evidence: discrepant shipments since then")
    min_hit_rate: float = _setting(0.02, "effectiveness: the bar is at least this rate", 1)
    lift_factor: float = _setting(2.0, "effectiveness: the bar is this x the population's rate")
    prospective: bool = _setting(True, "count only shipments that arrived after `created`")
    min_ports: int = _setting(3, "transfer: ports where the national projection has hits")
    min_months: int = _setting(3, "persistence: months with a discrepant hit")
    recent_months: int = _setting(6, "persistence: not shown below the bar over this period")
    min_unique: int = _setting(5, "novelty: discrepant shipments no active UDR catches")
    max_overlap: float = _setting(0.5, "novelty: highest Jaccard index with an active UDR", 1)
    max_flags_per_day: float = _setting(150.0, "workload: flags per day at the scope it would run")
    retire_factor: float = _setting(
        2.0, "retire when recent precision is shown below this x the population rate (2 = the bar)")
    supersede_share: float = _setting(0.9, "retire when another UDR matches this share of its targets", 1)
    estimate: str = _setting("auto", "the precision estimate criteria use (docs/metrics.md)",
                             choices=ESTIMATES)
    fdr: float = _setting(0.10, "false discovery rate of each review's promotions (and "
                          "retirements for decay), by Benjamini-Hochberg", 1)
    evidence_source: str = _setting(
        "auto", "when a predicate first appeared: git, ledger, created, or auto (git in a git "
        "repository, else the ledger)", choices=EVIDENCE_SOURCES)

    @property
    def values(self) -> dict[str, Any]:
        """Every setting, defaults included."""
        return dataclasses.asdict(self)

    @property
    def hash(self) -> str:
        """SHA-256 of the canonical JSON of every setting: which policy decided."""
        return digest(self.values)


@dataclass(frozen=True)
class GateSettings:
    """Tolerances of `targeting gate` (docs/gate.md)."""

    max_lower_bound_drop: float = _setting(
        0.02, "absolute fall of the hit rate's lower bound allowed (0.02 = two points)", 1)
    max_workload_growth: float = _setting(0.25, "relative growth of flags per day allowed")
    fail_on_warnings: bool = _setting(False, "whether warnings fail the gate")
    last: str | None = _setting(None, "backtest only the last period of the data, e.g. 12m",
                                kind="period")

    @property
    def values(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @property
    def hash(self) -> str:
        return digest(self.values)


@dataclass(frozen=True)
class LedgerSettings:
    """Signatures on ledger entries (docs/ledger.md): with an allowed-signers file here, or an
    HMAC key in the environment, every entry from `signed_from` on must carry a valid one."""

    allowed_signers: str | None = _setting(
        None, "SSH allowed-signers file (git's format), relative to targeting.yaml", kind="text")
    signed_from: int = _setting(1, "the first entry (seq) that must be signed")

    @property
    def values(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class DataChecks:
    """How plausible the data's arrival dates must be: the `data:` keys extracted, earliest and
    implausible_arrivals (docs/data-contract.md)."""

    extracted: dt.date | None = field(default=None, metadata={
        "meaning": "the day the data was extracted; arrivals after it are implausible "
                   "(default: today)", "kind": "date"})
    earliest: dt.date = field(default=dt.date(1990, 1, 1), metadata={
        "meaning": "arrivals before it are implausible", "kind": "date"})
    implausible_arrivals: str = _setting(
        "error", "error: stop; warning: say so, and keep those shipments out of every window",
        choices=("error", "warning"))

    def last_day(self) -> dt.date:
        """The latest plausible arrival date."""
        return self.extracted or dt.date.today()


Settings = TypeVar("Settings", PromotionSettings, GateSettings, LedgerSettings, RuleLimits,
                    DataChecks)

# Backtest engines (backtest/run.py): `auto` (also spelled `duckdb`) picks one of the two DuckDB
# engines by the number of rules; `spark` reads and backtests the data on Apache Spark.
ENGINES = ("auto", "duckdb", "shipments", "grouped", "spark")
SPARK_KEYS = ("master", "connect", "conf")


@dataclass(frozen=True)
class SparkSettings:
    """Where the Spark engine runs (docs/spark.md): a master URL (`local[*]` by default: every
    core of this machine), or a Spark Connect URL (`sc://host:15002`), and extra Spark
    configuration (`spark.executor.memory: 8g`, ...)."""

    master: str = "local[*]"
    connect: str | None = None
    conf: dict[str, str] = field(default_factory=dict)


def parse_engine(value: Any, source: str) -> str:
    """The `engine:` key: one of ENGINES; `duckdb` means `auto`."""
    if value not in ENGINES:
        raise ConfigError(f"{source}: engine: {value!r} is not an engine; expected one of "
                          f"{', '.join(ENGINES)}{did_you_mean(str(value), ENGINES)}")
    return "auto" if value == "duckdb" else str(value)


def parse_spark(section: Any, source: str) -> SparkSettings:
    """The `spark:` section; ConfigError names the file and the key."""
    if section is None:
        return SparkSettings()
    if not isinstance(section, dict):
        raise ConfigError(f"{source}: spark: expected a mapping with {', '.join(SPARK_KEYS)}, "
                          f"got {type(section).__name__}.")
    for key in section:
        if key not in SPARK_KEYS:
            raise ConfigError(f"{source}: spark.{key} is not a spark setting; expected one of "
                              f"{', '.join(SPARK_KEYS)}{did_you_mean(str(key), SPARK_KEYS)}")
    if "master" in section and "connect" in section:
        raise ConfigError(f"{source}: spark: give either master (a Spark master URL) or connect "
                          "(a Spark Connect URL, sc://...), not both.")
    master = _spark_text(section.get("master", "local[*]"), f"{source}: spark.master")
    connect = section.get("connect")
    if connect is not None:
        connect = _spark_text(connect, f"{source}: spark.connect")
        if not connect.startswith("sc://"):
            raise ConfigError(f"{source}: spark.connect must be a Spark Connect URL such as "
                              f"sc://spark.example.org:15002; got {connect!r}")
    conf = section.get("conf") or {}
    if not isinstance(conf, dict):
        raise ConfigError(f"{source}: spark.conf: expected a mapping of Spark settings, such as "
                          f"spark.executor.memory: 8g; got {type(conf).__name__}.")
    return SparkSettings(master, connect, {str(k): _conf_value(v, f"{source}: spark.conf.{k}")
                                           for k, v in conf.items()})


def _spark_text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: expected a non-empty text value, got {value!r}.")
    return value.strip()


def _conf_value(value: Any, where: str) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (str, int, float)):
        return str(value)
    raise ConfigError(f"{where}: expected a text, number or true/false value, got {value!r}.")


def parse_settings(kind: type[Settings], section: Any, source: str, name: str) -> Settings:
    """Defaults overlaid with a config section; ConfigError names the file and the key."""
    if section is None:
        section = {}
    if not isinstance(section, dict):
        raise ConfigError(f"{source}: {name}: expected a mapping of settings, got "
                          f"{type(section).__name__}.")
    fields = {f.name: f for f in dataclasses.fields(kind)}
    values = {}
    for key, value in section.items():
        if key not in fields:
            raise ConfigError(f"{source}: {name}.{key} is not a {name} setting; expected one of "
                              f"{', '.join(fields)}{did_you_mean(str(key), fields)}")
        values[key] = _checked(fields[key], value, f"{source}: {name}.{key}")
    return kind(**values)


def _checked(spec: dataclasses.Field[Any], value: Any, where: str) -> Any:
    default = spec.default
    if spec.metadata.get("kind") == "date":
        return _date(value, where)
    choices = spec.metadata.get("choices")
    if choices is not None:
        if value not in choices:
            raise ConfigError(f"{where} must be one of {', '.join(choices)}; got {value!r}"
                              f"{did_you_mean(str(value), choices)}")
        return value
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false; got {value!r}")
        return value
    if spec.metadata.get("kind") == "period":
        if value is not None and not (isinstance(value, str) and _PERIOD.match(value.strip())):
            raise ConfigError(f"{where} must be a period such as 12m, 90d or 2y; got {value!r}")
        return value
    if spec.metadata.get("kind") == "text":
        if value is not None and not (isinstance(value, str) and value.strip()):
            raise ConfigError(f"{where} must be a non-empty text; got {value!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ConfigError(f"{where} must be a non-negative number; got {value!r}")
    if isinstance(default, int) and not float(value).is_integer():
        raise ConfigError(f"{where} must be a whole number; got {value!r}")
    at_least = spec.metadata.get("at_least")
    if at_least is not None and value < at_least:
        raise ConfigError(f"{where} must be at least {at_least}; got {value!r}")
    at_most = spec.metadata.get("at_most")
    if at_most is not None and value > at_most:
        raise ConfigError(f"{where} is a share between 0 and {at_most:g}; got {value!r}")
    return float(value) if isinstance(default, float) else int(value)


def _date(value: Any, where: str) -> dt.date:
    """A date from YAML: unquoted (2026-11-29) or quoted ('2026-11-29')."""
    found = date_of(value)
    if found is None:
        raise ConfigError(f"{where} must be a date such as 2026-11-29; got {value!r}")
    return found
