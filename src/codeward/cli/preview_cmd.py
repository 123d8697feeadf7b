"""``codeward preview``: what the agent may read here, and for each blocked path the rule that blocks it.

It answers the security team's first question before any model is involved: run it on a repository
and see exactly which files could ever reach a provider.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

from codeward.cli.options import existing_dir, workspace_option
from codeward.errors import EXIT_OK


def _readable(matcher: Any, root: Path) -> tuple[list[str], list[str]]:
    """(readable files, files hidden from listings by .gitignore but still readable)."""
    readable: list[str] = []
    listed_hidden: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        d = Path(dirpath)
        rel_dir = d.relative_to(root).as_posix()
        rel_dir = "" if rel_dir == "." else rel_dir
        keep = []
        for name in sorted(dirnames):
            rel = f"{rel_dir}/{name}" if rel_dir else name
            if name == ".git" or matcher.match(rel, is_dir=True) is not None:
                continue
            keep.append(name)
        dirnames[:] = keep
        for name in sorted(filenames):
            rel = f"{rel_dir}/{name}" if rel_dir else name
            if matcher.match(rel, is_dir=False) is not None:
                continue
            (listed_hidden if matcher.hidden_from_listing(rel, False) else readable).append(rel)
    return readable, listed_hidden


@click.command("preview", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-C", "--cd", "cd", callback=existing_dir, metavar="DIR", help="Preview DIR instead of the cwd.")
@workspace_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON: readable files and blocked paths with rules.")
@click.option("--all", "show_all", is_flag=True, help="List every readable file, not only the counts.")
@click.pass_context
def command(ctx: click.Context, cd: Path | None, as_json: bool, show_all: bool) -> int:
    """Show what the agent may read, and for each blocked path the rule."""
    from codeward.cli.options import RunOptions, project_for

    project = project_for(ctx, RunOptions(cd=cd))
    ws, matcher, cfg = project.workspace, project.ignore, project.config
    blocked = [
        {
            "path": p.relative_to(ws.root).as_posix() + ("/" if p.is_dir() else ""),
            "rule": r.pattern,
            "source": r.source,
            "line": r.line,
            "how_to_allow": r.how_to_allow(),
        }
        for p, r in matcher.blocked_paths()
    ]
    readable, listing_hidden = _readable(matcher, ws.root)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "workspace": str(ws.root),
                    "readable": readable,
                    "hidden_from_listings": listing_hidden,
                    "blocked": blocked,
                },
                indent=2,
            )
        )
        return EXIT_OK
    click.echo(f"workspace: {ws.root}")
    click.echo(f"readable by the agent: {len(readable)} files (secrets in them are redacted before sending)")
    if listing_hidden:
        click.echo(f"  plus {len(listing_hidden)} files in .gitignore: not listed or searched, still readable")
    if show_all:
        for rel in readable:
            click.echo(f"  {rel}")
    if not blocked:
        click.echo("blocked: nothing here matches an ignore rule (the built-in rules still apply to new files)")
    else:
        click.echo(f"blocked ({len(blocked)}): never read, listed, searched, patched or visible to commands")
        width = min(max(len(str(b["path"])) for b in blocked), 50)
        for b in blocked:
            where = (
                "built-in" if b["source"] == "built-in" else f"{b['source']}" + (f":{b['line']}" if b["line"] else "")
            )
            click.echo(f"  {b['path']:<{width}}  {b['rule']}  ({where})")
    for notice in cfg.notices:
        click.echo(f"note: {notice}", err=True)
    return EXIT_OK
