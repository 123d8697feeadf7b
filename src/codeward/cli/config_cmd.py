"""``codeward config explain [-C DIR] [--json]``: each effective config value, where it came from,
its trust class, the policy entries (config and AGENTS.md) with their sources, and what the
repository tried to set and was refused (DESIGN §2).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from codeward.cli.options import existing_dir, workspace_option

if TYPE_CHECKING:
    from codeward.project import Project

CONTEXT = {"help_option_names": ["-h", "--help"]}


@click.group(name="config", context_settings=CONTEXT)
def command() -> None:
    """Inspect the effective configuration."""


@command.command(name="explain", context_settings=CONTEXT)
@click.option("-C", "--cd", "cd", callback=existing_dir, metavar="DIR", help="Explain the config of a run in DIR.")
@workspace_option
@click.option("--json", "as_json", is_flag=True, help='Print {"workspace","values","policy","refused"} as JSON.')
@click.pass_context
def explain(ctx: click.Context, cd: Path | None, as_json: bool) -> int:
    """Print each effective value, the file:line (or flag) it came from, and what a repository was refused."""
    from codeward.cli.options import RunOptions, project_for
    from codeward.config.explain import refused, rows

    project = project_for(ctx, RunOptions(cd=cd), load=False)
    workdir = project.workspace.cwd
    config = project.config
    table = [_masked(r) for r in rows(config)]
    refusals = refused(config)
    policy = _policy_entries(project)
    if as_json:
        doc = {
            "workspace": str(workdir),
            "values": [r.to_json() for r in table],
            "policy": policy,
            "refused": refusals,
        }
        click.echo(json.dumps(doc, indent=2, ensure_ascii=False))
        return 0
    shown = [(r.key, json.dumps(r.value, ensure_ascii=False), r.origin, r.trust) for r in table]
    widths = [max(len(row[i]) for row in shown) for i in range(2)]
    widths[1] = min(widths[1], 40)
    for key, value, origin, trust in shown:
        click.echo(f"{key.ljust(widths[0])}  {value.ljust(widths[1])}  {origin}  [{trust}]")
    click.echo("\npolicy entries (config and AGENTS.md; a repository's entries can only narrow):")
    for key, entries in policy.items():
        for e in entries:
            owner = "yours" if e["user_owned"] else "repository"
            click.echo(f"  {key}: {json.dumps(e['pattern'], ensure_ascii=False)}  ({e['source']}, {owner})")
    if not any(policy.values()):
        click.echo("  none")
    if refusals:
        click.echo("\nrefused from the repository (it may only narrow; set these in your own config.toml):")
        for r in refusals:
            value = json.dumps(r["value"], ensure_ascii=False)
            click.echo(f"  {r['key']} = {value}  ({r['origin']}): {r['why']}")
    else:
        click.echo("\nnothing was refused from the repository")
    return 0


def _masked(row: Any) -> Any:
    """A sink URL with a token in it is shown without the token (as ``logs`` and the session show it)."""
    from dataclasses import replace

    if row.key == "audit.sink" and isinstance(row.value, str):
        from codeward.audit.sinks import shown

        return replace(row, value=shown(row.value))
    return row


def _policy_entries(project: Project) -> dict[str, list[dict[str, Any]]]:
    """The project's merged policy lists with each entry's source, AGENTS.md blocks included (AGENTS.md
    keys have the same classes as ``[policy]``: ``AGENTS_MD_KEYS`` in :mod:`codeward.config.keys`)."""
    from codeward.config.keys import AGENTS_MD_KEYS

    policy = project.policy
    return {
        key: [{"pattern": e.pattern, "source": e.source, "user_owned": e.user_owned} for e in getattr(policy, key)]
        for key in AGENTS_MD_KEYS
    }
