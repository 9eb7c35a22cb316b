"""`targeting new query|udr`: write a new rule file to start from, with examples."""
from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import click

from targeting.cli.common import config_option, reports_errors
from targeting.data.config import load_config
from targeting.decide.promotion import check_text
from targeting.errors import TargetingError
from targeting.files import write_atomic
from targeting.render.escape import one_line, plain
from targeting.rules.loader import ID_PATTERN, rule_files, rule_id
from targeting.rules.scaffold import next_id, scaffold

_PORT = re.compile(r"^[A-Za-z0-9]+$")


@click.command(name="new")
@click.argument("kind", type=click.Choice(["query", "udr"]))
@click.option("--port", help="The query's port code (queries only; required for them).")
@click.option("--owner", default="owner-to-fill-in", show_default=True, help="Who owns the rule.")
@click.option("--id", "new_id", help="The rule's id (default: the next free Q-<port>-NNNN or UDR-NNNN).")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path),
              help="File to write (default: <id>.yaml in the configured query or rule folder).")
@config_option
@reports_errors
def command(kind: str, port: str | None, owner: str, new_id: str | None, output: Path | None,
            config_path: Path | None) -> None:
    """Write a new query or UDR file to edit: every key with a placeholder, and examples."""
    if kind == "query" and not port:
        raise click.UsageError("a query belongs to a port: give --port CODE")
    if kind == "udr" and port:
        raise click.UsageError("UDRs are national: leave out --port")
    if port and not _PORT.match(port):
        raise click.BadParameter(f"{port!r}: a port code is letters and digits", param_hint="--port")
    config = load_config(config_path)
    folders = config.query_dirs if kind == "query" else config.rule_dirs
    used = {i for i in (rule_id(p, config.limits) for p in rule_files(
        [d for d in (*config.rule_dirs, *config.query_dirs) if d.is_dir()])) if i}
    chosen = new_id or next_id(kind, port, used)
    if not ID_PATTERN.match(chosen) or chosen in used:
        raise click.BadParameter(f"{chosen!r} is {'taken' if chosen in used else 'not an id'}: "
                                 "use capitals, digits and single dashes, not an id in use",
                                 param_hint="--id")
    path = output or Path(folders[0]) / f"{chosen.lower()}.yaml"
    if path.exists():
        raise TargetingError(f"{path} exists; give another --id or --output")
    # The owner goes into YAML as a double-quoted string (JSON's form is valid YAML), so a ':' or
    # '#' in it cannot change the file's shape; the path only into a comment, on one line.
    write_atomic(path, scaffold(kind, chosen, json.dumps(check_text("--owner", owner)), port,
                                one_line(path), dt.date.today()))
    click.echo(f"wrote {plain(path)}: edit it, then `targeting validate {plain(path)}`"
               + (f" and `targeting test {plain(chosen)}`" if kind == "query" else ""), err=True)
