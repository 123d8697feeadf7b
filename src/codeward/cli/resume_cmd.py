"""``codeward resume [--last | ID] [PROMPT]``: continue a saved interactive session.

The saved conversation (stored redacted) is sent again behind today's preamble, so the model picks
up where it left off; the run gets a fresh audit log, as ``exec resume`` does. A short recap of the
session is printed first.
"""

from __future__ import annotations

from typing import Any

import click

from codeward.cli.options import RunOptions, common_options, options_from_params
from codeward.errors import UsageError


@click.command("resume", context_settings={"help_option_names": ["-h", "--help"]})
@common_options
@click.option("--last", is_flag=True, help="Continue the most recent saved session.")
@click.argument("words", nargs=-1, metavar="[ID] [PROMPT]")
@click.pass_context
def command(ctx: click.Context, last: bool, words: tuple[str, ...], **params: Any) -> int:
    """Continue a saved session: codeward resume --last [PROMPT] or codeward resume ID [PROMPT].

    ID may be any unique prefix of a session id (codeward prints it when a session ends).
    """
    from codeward.agent.history import find_session
    from codeward.cli.session_cmd import require_terminal, run_session
    from codeward.home import codeward_home
    from codeward.ui.session_loop import recap_lines

    opts = options_from_params(params).over(ctx.obj if isinstance(ctx.obj, RunOptions) else None)
    rest = list(words)
    ident = None if last else (rest.pop(0) if rest else None)
    if ident is None and not last:
        raise UsageError("resume: give a session ID or --last (codeward resume --last)")
    require_terminal()
    saved = find_session(codeward_home(), ident, last=last)
    recap = recap_lines(saved)
    here = str(opts.workdir())
    if saved.cwd and saved.cwd != here:
        recap.append(f"note: the session was started in {saved.cwd}; it continues here, in {here}")
    return run_session(opts, " ".join(rest) if rest else None, resume=saved, recap=recap)
