"""``codeward sandbox [--allow-network] [--writable DIR]… [-C DIR] [--dangerously-allow-unsandboxed] -- COMMAND…``

Runs COMMAND under exactly the sandbox agent commands get (same spec builder, same tier choice),
so a user can see what a model's command would be allowed to do. One COMMAND argument is shell
text run with ``bash -c``; several are an argv. Output streams through; the exit code is the
command's own (124 when it timed out), and 125 when no sandbox can be enforced here.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from codeward.cli.options import existing_dir, workspace_option
from codeward.errors import SandboxUnavailable

EXIT_TIMEOUT = 124


def _project_scan(project: Any) -> tuple[Any, Any]:
    """What the command must see redacted (the files in which the project's scanner finds a secret), and how.

    The same view an agent's commands get, without a session: placeholders carry this run's own key.
    """
    from codeward.privacy.learn import WorkspaceSecrets
    from codeward.privacy.redact import Redactor

    root = project.workspace.root
    learner = WorkspaceSecrets(root, project.scanner, cache_dir=project.home / "cache", prefetch=True)
    redactor = Redactor(project.scanner, learner=learner)

    def secret_paths() -> list[Path]:
        from codeward.privacy.learn import secret_paths_now

        try:
            found = secret_paths_now(redactor)
        except Exception as e:  # fail closed: no scan, no command
            raise SandboxUnavailable(
                f"sandbox: the secret scan of {root} failed ({type(e).__name__}: {e}); not run"
            ) from None
        base = root.resolve()
        return [base / Path(p).relative_to(root) for p in found]

    return (lambda text, rel: redactor.redact(text, path=rel).text), secret_paths


@click.command(
    name="sandbox",
    context_settings={"help_option_names": ["-h", "--help"], "allow_interspersed_args": False},
)
@click.option("--allow-network", is_flag=True, help="Let the command use the network.")
@click.option(
    "--writable",
    "writable",
    multiple=True,
    metavar="DIR",
    callback=lambda ctx, param, values: tuple(existing_dir(ctx, param, v) for v in values),
    help="Also let the command write in DIR. Repeatable.",
)
@click.option(
    "-C", "--cd", "cd", callback=existing_dir, metavar="DIR", help="Run in DIR (its repository is the workspace)."
)
@workspace_option
@click.option("-c", "--config", "config_flags", multiple=True, metavar="KEY=VALUE", help="Override a config key.")
@click.option("-p", "--profile", metavar="NAME", help="Use the [profiles.NAME] table of your config.toml.")
@click.option(
    "--dangerously-allow-unsandboxed",
    "unsandboxed",
    is_flag=True,
    help="If no sandbox can be enforced here, run the command unconfined anyway (limits and env allowlist still apply).",
)
@click.argument("words", nargs=-1, required=True, metavar="-- COMMAND…")
@click.pass_context
def command(
    ctx: click.Context,
    allow_network: bool,
    writable: tuple[Path, ...],
    cd: Path | None,
    config_flags: tuple[str, ...],
    profile: str | None,
    unsandboxed: bool,
    words: tuple[str, ...],
) -> int:
    """Run COMMAND in the OS sandbox agent commands get, and exit with its exit code.

    One COMMAND argument is shell text (run with bash -c); several are an argv.
    """
    from codeward.cli.options import RunOptions, project_for

    project = project_for(ctx, RunOptions(profile=profile, config=config_flags, cd=cd, allow_network=allow_network))
    for notice in project.config.notices:
        click.echo(f"codeward: {notice}", err=True)
    redact, secret_paths = _project_scan(project)  # first: its file walk runs while the spec is built
    spec = project.sandbox_spec(writable=writable, network=True if project.overrides.allow_network else None)
    sandbox = project.select_sandbox(allow_unsandboxed=unsandboxed)
    if sandbox.tier == "none":
        click.echo("codeward: WARNING: no sandbox can be enforced here; running the command unconfined", err=True)
    argv = ["bash", "-c", words[0]] if len(words) == 1 else list(words)

    def show(text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()

    def connection(c: Any) -> None:
        if c.refused:
            click.echo(f"codeward: the proxy refused {c.host}:{c.port}: {c.refused}", err=True)

    from codeward.sandbox.redacted_view import ViewError, view_for

    try:
        with view_for(spec, project.home, secret_paths, redact) as spec:
            result = sandbox.run(argv, spec, on_output=show, on_connection=connection)
    except ViewError as e:
        raise SandboxUnavailable(f"sandbox: cannot show the workspace redacted to the command ({e}); not run") from None
    if result.output and not result.output.endswith("\n"):
        sys.stdout.write("\n")
        sys.stdout.flush()
    if result.note:
        click.echo(f"codeward: {result.note}", err=True)
    if result.timed_out or result.exit_code is None:
        return EXIT_TIMEOUT
    return result.exit_code
