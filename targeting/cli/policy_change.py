"""`targeting policy-change`: record an approved change of targeting.yaml's settings."""
from __future__ import annotations

from pathlib import Path

import click

from targeting.cli.common import config_option, report_change, reports_errors
from targeting.gate.policy_change import record_policy_change
from targeting.project import open_project


@click.command(name="policy-change")
@click.option("--reviewer", required=True, help="Who approves the change of settings (recorded).")
@click.option("--reason", required=True, help="Why the settings change (recorded).")
@click.option("--base", "base_ref", metavar="REF",
              help="The branch the change will merge into (default: origin/main, else main).")
@config_option
@reports_errors
def command(reviewer: str, reason: str, base_ref: str | None, config_path: Path | None) -> None:
    """Record in the ledger that targeting.yaml's thresholds, folders or data settings change.

    The gate fails a branch that changes them without this record, and judges every branch by
    the base's settings until the change is merged. See docs/gate.md.
    """
    project = open_project(config_path)
    change = record_policy_change(project, reviewer, reason, base_ref)
    report_change(change, f"recorded the policy change of {change.entry.subject}")
