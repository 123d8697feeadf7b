"""``codeward config explain [-C DIR] [--json]``: each effective config value, where it came from,
its trust class, and what the repository tried to set and was refused (DESIGN §2).
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from codeward.cli.options import existing_dir, group_options

CONTEXT = {"help_option_names": ["-h", "--help"]}


@click.group(name="config", context_settings=CONTEXT)
def command() -> None:
    """Inspect the effective configuration."""


@command.command(name="explain", context_settings=CONTEXT)
@click.option("-C", "--cd", "cd", callback=existing_dir, metavar="DIR", help="Explain the config of a run in DIR.")
@click.option("--json", "as_json", is_flag=True, help='Print {"workspace","values","refused"} as JSON.')
def explain(cd: Path | None, as_json: bool) -> int:
    """Print each effective value, the file:line (or flag) it came from, and what a repository was refused."""
    from codeward.config.explain import refused, rows
    from codeward.config.load import load_config

    opts = group_options()
    workdir = cd or opts.workdir()
    config = load_config(workdir, opts.overrides())
    table = rows(config)
    refusals = refused(config)
    if as_json:
        doc = {"workspace": str(workdir), "values": [r.to_json() for r in table], "refused": refusals}
        click.echo(json.dumps(doc, indent=2, ensure_ascii=False))
        return 0
    shown = [(r.key, json.dumps(r.value, ensure_ascii=False), r.origin, r.trust) for r in table]
    widths = [max(len(row[i]) for row in shown) for i in range(2)]
    widths[1] = min(widths[1], 40)
    for key, value, origin, trust in shown:
        click.echo(f"{key.ljust(widths[0])}  {value.ljust(widths[1])}  {origin}  [{trust}]")
    if refusals:
        click.echo("\nrefused from the repository (it may only narrow; set these in your own config.toml):")
        for r in refusals:
            value = json.dumps(r["value"], ensure_ascii=False)
            click.echo(f"  {r['key']} = {value}  ({r['origin']}): {r['why']}")
    else:
        click.echo("\nnothing was refused from the repository")
    return 0
