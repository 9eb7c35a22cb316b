"""`targeting explain CODE`: what a problem code means and how to fix it."""
from __future__ import annotations

import click

from targeting.codes import CODES, explain
from targeting.rules.loader import did_you_mean


@click.command(name="explain")
@click.argument("code", required=False)
def command(code: str | None) -> None:
    """Explain a problem code such as unknown-value (from error[unknown-value]); without CODE,
    list every code."""
    if code is None:
        width = max(len(c) for c in CODES)
        for name, found in CODES.items():
            click.echo(f"{name:<{width}}  {found.meaning}")
        return
    name = code.strip().removeprefix("error[").removeprefix("warning[").removesuffix("]")
    known = explain(name)
    if known is None:
        raise click.UsageError(f"no problem code {code!r}{did_you_mean(name, CODES)}; "
                               "`targeting explain` lists them all")
    click.echo(f"{name} ({known.area})\n\n{known.meaning}\n\nHow to fix it: {known.fix}")
