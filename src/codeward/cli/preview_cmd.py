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
@click.option("-C", "--cd", "cd", type=click.Path(exists=True, file_okay=False), help="Preview DIR instead of the cwd.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: readable files and blocked paths with rules.")
@click.option("--all", "show_all", is_flag=True, help="List every readable file, not only the counts.")
def command(cd: str | None, as_json: bool, show_all: bool) -> int:
    """Show what the agent may read, and for each blocked path the rule."""
    from codeward.cli.options import group_options
    from codeward.config.home import codeward_home
    from codeward.config.load import load_config
    from codeward.policy import load_policy
    from codeward.privacy.ignore import load_ignore
    from codeward.workspace import Workspace

    opts = group_options()
    cwd = Path(cd).resolve() if cd else opts.workdir()
    cfg = load_config(cwd, opts.overrides())
    ws = Workspace.discover(cwd)
    home = codeward_home()
    policy = load_policy(ws, cfg, home)
    matcher = load_ignore(ws, home, [(e.pattern, e.source, e.user_owned) for e in policy.disallow_directories])
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
        width = min(max(len(b["path"]) for b in blocked), 50)
        for b in blocked:
            where = (
                "built-in" if b["source"] == "built-in" else f"{b['source']}" + (f":{b['line']}" if b["line"] else "")
            )
            click.echo(f"  {b['path']:<{width}}  {b['rule']}  ({where})")
    for notice in cfg.notices:
        click.echo(f"note: {notice}", err=True)
    return EXIT_OK
