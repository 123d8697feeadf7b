"""``codeward doctor [--json]``: the security checklist (DESIGN §6).

Exit 0 when no check fails (warnings allowed), 1 when any fails. ``--json`` prints an array of
``{"check", "status", "detail", "fix"}`` objects, ``fix`` null on a pass.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from codeward.cli.options import existing_dir, workspace_option
from codeward.errors import EXIT_FAILED, EXIT_OK

MARKS = {"pass": "✓ pass", "warn": "! warn", "fail": "✗ FAIL"}


@click.command("doctor", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of checks.")
@click.option("-C", "--cd", "cd", callback=existing_dir, metavar="DIR", help="Check the workspace containing DIR.")
@click.option(
    "--history-budget",
    type=click.FloatRange(min=1),
    default=60.0,
    show_default=True,
    metavar="SECONDS",
    help="Stop scanning the git history after this long (the check then fails as unfinished).",
)
@click.option("--full-history", is_flag=True, help="Scan the whole git history, however long it takes.")
@workspace_option
@click.pass_context
def command(ctx: click.Context, as_json: bool, cd: Path | None, history_budget: float, full_history: bool) -> int:
    """Check this machine and workspace against the security checklist; each item pass / warn / fail + fix."""
    from codeward.cli.options import RunOptions, run_options
    from codeward.doctor import diagnose

    opts = run_options(ctx, RunOptions(cd=cd))
    results = diagnose(opts.workdir(), opts.overrides(), history_budget_s=None if full_history else history_budget)
    if as_json:
        click.echo(json.dumps([r.to_json() for r in results], indent=2, ensure_ascii=False))
    else:
        width = max(len(r.check) for r in results) + 2
        for r in results:
            click.echo(f"{MARKS[r.status]}  {r.check.ljust(width)}{r.detail}")
            if r.fix and r.status != "pass":
                click.echo(f"{'':8}{'':{width}}fix: {r.fix}")
        fails = sum(r.status == "fail" for r in results)
        warns = sum(r.status == "warn" for r in results)
        click.echo(f"\n{len(results)} checks: {fails} failed, {warns} warnings")
    return EXIT_FAILED if any(r.status == "fail" for r in results) else EXIT_OK
