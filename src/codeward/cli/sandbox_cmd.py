"""``codeward sandbox [--allow-network] [--writable DIR]… [-C DIR] [--dangerously-allow-unsandboxed] -- COMMAND…``

Runs COMMAND under exactly the sandbox agent commands get (same spec builder, same tier choice),
so a user can see what a model's command would be allowed to do. One COMMAND argument is shell
text run with ``bash -c``; several are an argv. Output streams through; the exit code is the
command's own (124 when it timed out), and 125 when no sandbox can be enforced here.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from codeward.cli.options import existing_dir, workspace_option
from codeward.errors import SandboxUnavailable

EXIT_TIMEOUT = 124


@dataclass(frozen=True)
class Ran:
    code: int  # the command's exit code (124: timed out)
    entries: int  # how many entries the workspace has (the learner's walk)
    keep_warm_s: int  # ``sandbox.keep_warm_s``: how long a warm server may wait for the next command


def opened(opts: Any) -> Any:
    """The project a ``codeward sandbox`` with these options runs in (as every command opens it)."""
    from codeward.project import open_project

    return open_project(opts.workdir(), opts.overrides())


def _learner(project: Any, keeper: Any) -> Any:
    """The secret learner: a new one (its walk started at once, beside the spec's building), or the
    warm server's, kept with an inotify watch between requests (:mod:`codeward.cli.sandbox_server`)."""
    from codeward.privacy.learn import WorkspaceSecrets, cache_file_for
    from codeward.privacy.redact import Redactor

    root = project.workspace.root
    cache = project.home / "cache"
    if keeper is None:
        learner = WorkspaceSecrets(root, project.scanner, cache_dir=cache, prefetch=True)
        return Redactor(project.scanner, learner=learner)
    key = ("learner", str(root), cache_file_for(cache, root, project.scanner).name)
    redactor = keeper.state.get(key)
    if redactor is None:
        for old in [k for k in keeper.state if k[0] == "learner"]:
            keeper.state.pop(old).learner.stop()
        learner = WorkspaceSecrets(root, project.scanner, cache_dir=cache, watch=True)
        redactor = keeper.state[key] = Redactor(project.scanner, learner=learner)
    return redactor


def _sandbox(project: Any, unsandboxed: bool, keeper: Any) -> Any:
    """The tier's sandbox; the warm server keeps one per choice."""
    if keeper is None:
        return project.select_sandbox(allow_unsandboxed=unsandboxed)
    key = ("sandbox", project.config.sandbox.tier, unsandboxed or project.config.sandbox.unsafe_allow_unsandboxed)
    sandbox = keeper.state.get(key)
    if sandbox is None:
        # no view holder: its /tmp, /var/tmp and /dev/shm would carry one command's files to the next
        # one, which a one-shot codeward sandbox never does (red team rt14); the mounts cost ~0.15 s
        # at 200 000 files with 5 000 scattered hidden ones
        sandbox = keeper.state[key] = project.select_sandbox(allow_unsandboxed=unsandboxed, hold_view=False)
    return sandbox


def execute(
    keeper: Any,
    opts: Any,
    argv: list[str],
    writable: tuple[Path, ...],
    unsandboxed: bool,
    *,
    out: Callable[[str], None],
    err: Callable[[str], None],
    project: Any = None,
) -> Ran:
    """Run ``argv`` as ``codeward sandbox`` does.

    One body for this process and the warm server (``keeper``, which keeps the learner and the
    sandbox between requests). What the command must see redacted is brought up to date first (the
    files in which the project's scanner finds a secret), with placeholders of this run's own key;
    anything that cannot be scanned or confined refuses the command (a CodewardError).
    """
    from codeward.privacy.link_names import host_temp
    from codeward.privacy.redacted_paths import LinkedOutside, secret_paths_now
    from codeward.sandbox.redacted_view import ViewError, view_for

    project = project if project is not None else opened(opts)
    for notice in project.config.notices:
        err(f"codeward: {notice}\n")
    redactor = _learner(project, keeper)  # first: a new learner's walk runs while the spec is built
    root = project.workspace.root

    def secret_paths() -> list[Path]:
        try:
            found = secret_paths_now(redactor, places)
        except LinkedOutside as e:
            raise SandboxUnavailable(f"sandbox: {e}; not run") from None
        except Exception as e:  # fail closed: no scan, no command
            raise SandboxUnavailable(
                f"sandbox: the secret scan of {root} failed ({type(e).__name__}: {e}); not run"
            ) from None
        base = root.resolve()
        return [base / Path(p).relative_to(root) for p in found]

    spec = project.sandbox_spec(writable=writable, network=True if project.overrides.allow_network else None)
    sandbox = _sandbox(project, unsandboxed, keeper)
    # where a command could have linked a file, besides the workspace (see privacy/link_names.py)
    places: list[str | os.PathLike[str]] = [*spec.writable, *(host_temp() if sandbox.shares_host_tmp else ())]
    if sandbox.tier == "none":
        err("codeward: WARNING: no sandbox can be enforced here; running the command unconfined\n")

    def connection(c: Any) -> None:
        if c.refused:
            err(f"codeward: the proxy refused {c.host}:{c.port}: {c.refused}\n")

    try:
        with view_for(spec, project.home, secret_paths, lambda t, rel: redactor.redact(t, path=rel).text) as spec:
            result = sandbox.run(argv, spec, on_output=out, on_connection=connection)
    except ViewError as e:
        raise SandboxUnavailable(f"sandbox: cannot show the workspace redacted to the command ({e}); not run") from None
    if result.output and not result.output.endswith("\n"):
        out("\n")
    if result.note:
        err(f"codeward: {result.note}\n")
    code = EXIT_TIMEOUT if result.timed_out or result.exit_code is None else result.exit_code
    return Ran(code, redactor.learner.entries, project.config.sandbox.keep_warm_s)


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
@click.option(
    "--stop-warm",
    is_flag=True,
    help="End this directory's warm sandbox server (kept for large workspaces) instead of running a command.",
)
@click.argument("words", nargs=-1, metavar="-- COMMAND…")
@click.pass_context
def command(
    ctx: click.Context,
    allow_network: bool,
    writable: tuple[Path, ...],
    cd: Path | None,
    config_flags: tuple[str, ...],
    profile: str | None,
    unsandboxed: bool,
    stop_warm: bool,
    words: tuple[str, ...],
) -> int:
    """Run COMMAND in the OS sandbox agent commands get, and exit with its exit code.

    One COMMAND argument is shell text (run with bash -c); several are an argv.
    """
    from codeward.cli import sandbox_warm as warm
    from codeward.cli.options import RunOptions, run_options
    from codeward.home import codeward_home

    opts = run_options(ctx, RunOptions(profile=profile, config=config_flags, cd=cd, allow_network=allow_network))
    workdir = str(opts.workdir())
    home = codeward_home()
    if stop_warm:
        if words:
            raise click.UsageError("--stop-warm takes no COMMAND")
        stopped = warm.stop_server(home, workdir)
        click.echo(f"codeward: {'stopped the' if stopped else 'no'} warm sandbox server for {workdir}", err=True)
        return 0
    if not words:
        raise click.UsageError("missing COMMAND (codeward sandbox -- COMMAND…)")
    argv = ["bash", "-c", words[0]] if len(words) == 1 else list(words)

    def show(text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()

    def say(text: str) -> None:
        sys.stderr.write(text)
        sys.stderr.flush()

    served = warm.usable()
    debug = bool(os.environ.get("CODEWARD_DEBUG"))
    if served:
        req = warm.request(warm.encode_options(opts), argv, [str(w) for w in writable], unsandboxed)
        try:
            code = warm.ask(home, workdir, req, show, say)
            if debug:
                say("codeward: debug: served by the warm sandbox server\n")
            return code
        except warm.Fallback as e:
            if debug:
                say(f"codeward: debug: run here, not by a warm server ({e})\n")
    ran = execute(None, opts, argv, writable, unsandboxed, out=show, err=say)
    if served and ran.keep_warm_s > 0 and ran.entries >= warm.WARM_AFTER_ENTRIES and not os.environ.get("CI"):
        warm.start_server(home, workdir, req)  # a one-shot job (CI) leaves nothing running
    return ran.code
