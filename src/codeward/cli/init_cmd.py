"""``codeward init``: write the ignore-file template and an AGENTS.md policy skeleton (DESIGN §3, §6).

Files go to the workspace root (the repository root, or the directory itself outside a repository).
Existing files are never overwritten; ``--update`` appends what they lack (see
:mod:`codeward.init_templates.setup`).
"""

from __future__ import annotations

from pathlib import Path

import click

from codeward.cli.options import workspace_option
from codeward.errors import EXIT_OK


@click.command("init", context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "-C",
    "--cd",
    "cd",
    type=click.Path(file_okay=False, exists=True),
    help="Set up the workspace containing DIR instead of the current directory.",
)
@workspace_option
@click.option("--update", is_flag=True, help="Append what the templates have and existing files lack.")
@click.option("--dry-run", is_flag=True, help="Say what would be written, and write nothing.")
def command(cd: str | None, update: bool, dry_run: bool) -> int:
    """Write .codewardignore (full template) and an AGENTS.md policy skeleton, never overwriting."""
    from codeward.cli.options import run_options
    from codeward.init_templates.setup import apply, plan_init
    from codeward.workspace import Workspace

    chosen = run_options().workspace  # --workspace DIR (the command's or the group's)
    start = chosen or (Path(cd) if cd else Path.cwd())
    root = Workspace.discover(start, named=cd is not None, explicit=chosen is not None).root
    steps = plan_init(root, update=update)
    if not dry_run:
        apply(steps)
    verbs = {"create": "created", "append": "updated", "skip": "skipped"}
    if dry_run:
        verbs = {"create": "would create", "append": "would update", "skip": "would skip"}
    click.echo(f"workspace: {root}")
    for step in steps:
        click.echo(f"  {verbs[step.action]} {step.path.name}: {step.detail}")
    if any(s.action != "skip" for s in steps) and not dry_run:
        click.echo("Review both files, commit them, and run codeward doctor.")
    return EXIT_OK
