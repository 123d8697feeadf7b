"""``codeward policy check [--mode M] [-C DIR] [--json] -- COMMAND…``: what the policy would decide.

One COMMAND argument is shell text (run with ``bash -c``); several are an argv. The answer is a
query, so the exit code is 0 whatever the decision; 2 for usage or config errors.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from codeward.cli.options import existing_dir, workspace_option
from codeward.modes import APPROVAL_MODES


@click.group(name="policy", context_settings={"help_option_names": ["-h", "--help"]})
def command() -> None:
    """Check commands against the approval mode and the AGENTS.md / config policy."""


@command.command(
    name="check",
    context_settings={"help_option_names": ["-h", "--help"], "allow_interspersed_args": False},
)
@click.option("--mode", type=click.Choice(APPROVAL_MODES), help="Approval mode to judge under (default: configured).")
@click.option("-C", "--cd", "cd", callback=existing_dir, metavar="DIR", help="Judge as if run in DIR.")
@workspace_option
@click.option("--json", "as_json", is_flag=True, help='Print {"decision","reason","rule","source"} as JSON.')
@click.option(
    "--explain",
    is_flag=True,
    help="Also show every command found, what could not be read, and where text policy ends.",
)
@click.argument("words", nargs=-1, required=True, metavar="-- COMMAND…")
@click.pass_context
def check(
    ctx: click.Context, mode: str | None, cd: Path | None, as_json: bool, explain: bool, words: tuple[str, ...]
) -> int:
    """Print allow, ask or deny for COMMAND, the reason, the rule and where it was written.

    One COMMAND argument is shell text; several are an argv. Exit code 0 whatever the decision.
    With --explain, also what was found and the limits: allow_commands plus the sandbox is the
    boundary, disallow_commands a best-effort tripwire.
    """
    from codeward.cli.options import RunOptions, project_for
    from codeward.policy import decide_command

    project = project_for(ctx, RunOptions(cd=cd), load=False)  # the policy alone; no walk for ignore rules
    effective_mode = mode or project.mode
    target: str | list[str] = words[0] if len(words) == 1 else list(words)
    decision = decide_command(target, effective_mode, project.policy)
    explanation = None
    if explain:
        from codeward.policy.explain import explain as explain_command

        explanation = explain_command(target, project.policy)
    if as_json:
        out = decision.to_json()
        if explanation is not None:
            out["explain"] = explanation.to_json()
        click.echo(json.dumps(out, ensure_ascii=False))
    else:
        click.echo(f"decision: {decision.decision}")
        click.echo(f"reason:   {decision.reason}")
        click.echo(f"rule:     {decision.rule if decision.rule is not None else '-'}")
        click.echo(f"source:   {decision.source if decision.source is not None else '-'}")
        click.echo(f"mode:     {effective_mode}")
        if explanation is not None:
            click.echo("")
            for line in explanation.lines():
                click.echo(line)
    return 0
