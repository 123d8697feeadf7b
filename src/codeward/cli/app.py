"""The click application: the top-level group, lazy subcommands and error-to-exit-code mapping."""

from __future__ import annotations

import os
import sys
from importlib import import_module
from typing import Any

import click

from codeward import __version__
from codeward.cli.catalog import COMMANDS, render_help
from codeward.cli.options import common_options, options_from_params
from codeward.errors import EXIT_FAILED, CodewardError, UsageError


def unknown_command(word: str) -> UsageError:
    """``codeward mcp``: a mistyped or missing subcommand must not become a prompt sent to the model."""
    import difflib  # only on this error path: it costs a third of the start-up

    close = difflib.get_close_matches(word, list(COMMANDS), n=1, cutoff=0.6)
    hint = f"did you mean 'codeward {close[0]}'? " if close else ""
    return UsageError(
        f"{word!r} is not a command; {hint}commands: {', '.join(COMMANDS)}. "
        f'To start a session with a prompt, quote it (codeward "{word} ...") or put it after -- (codeward -- {word})'
    )


def _after_dashes(args: list[str], word: str) -> bool:
    """Whether ``word`` first appears right after the first ``--`` of ``args``."""
    if "--" not in args:
        return False
    dash = args.index("--")
    return args[dash + 1 : dash + 2] == [word] and args.index(word) > dash


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use.

    A first word that is no command is a prompt only when it is clearly one: it contains whitespace
    (it was quoted) or it comes after ``--``. Otherwise it is refused with the closest command, so
    ``codeward mcp`` or ``codeward docter`` never sends the word to the model.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module_name, _, attr = COMMANDS[cmd_name][0].partition(":")
        cmd = getattr(import_module(module_name), attr or "command")
        assert isinstance(cmd, click.Command)
        return cmd

    def get_help(self, ctx: click.Context) -> str:
        return render_help().rstrip("\n")

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        original = list(args)  # click consumes the list
        rest = super().parse_args(ctx, args)
        protected = ctx._protected_args
        if protected and protected[0] not in COMMANDS:
            first = protected[0]
            quoted = any(c.isspace() for c in first)
            if not (quoted or _after_dashes(original, first) or ctx.resilient_parsing):
                raise unknown_command(first)
            ctx.meta["codeward.prompt"] = " ".join([*protected, *ctx.args])
            ctx._protected_args = []
            ctx.args = []
            return []
        return rest


@click.group(
    cls=LazyGroup,
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@common_options
@click.version_option(__version__, "-V", "--version", prog_name="codeward")
@click.pass_context
def cli(ctx: click.Context, **params: Any) -> None:
    """Interactive session, or a subcommand (see codeward --help)."""
    ctx.obj = options_from_params(params)
    if ctx.invoked_subcommand is None:
        from codeward.cli.session_cmd import run_session

        run_session(ctx.obj, ctx.meta.get("codeward.prompt"))


def run(args: list[str]) -> int:
    """Invoke the click app and turn every outcome into an exit code with at most one error line."""
    try:
        rv = cli.main(args=args, prog_name="codeward", standalone_mode=False)
    except CodewardError as e:
        click.echo(f"codeward: {e.message}", err=True)
        return e.exit_code
    except click.exceptions.Abort:
        click.echo("codeward: aborted", err=True)
        return 130
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.ClickException as e:
        e.show()
        return e.exit_code
    except KeyboardInterrupt:
        click.echo("codeward: interrupted", err=True)
        return 130
    except BrokenPipeError:
        # the reader went away (`codeward scan | head`): nothing more to say
        sys.stderr.close()
        return EXIT_FAILED
    except Exception as e:  # a bug: still one line, with a way to see more
        if os.environ.get("CODEWARD_DEBUG"):
            raise
        click.echo(
            f"codeward: internal error: {type(e).__name__}: {e} (set CODEWARD_DEBUG=1 for a traceback)",
            err=True,
        )
        return EXIT_FAILED
    return rv if isinstance(rv, int) else 0
