"""``codeward exec``: run one task headless, for scripts and CI (DESIGN §6, §7).

With no terminal to ask, "ask" means declined: the model is told and the event stream shows
``status: "declined"``. Exit codes: 0 the task completed, 1 it failed, 2 usage or config error.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from codeward.cli.options import RunOptions, common_options, options_from_params
from codeward.errors import EXIT_FAILED, EXIT_OK, UsageError


def read_prompt(prompt: str | None) -> str:
    """PROMPT, or stdin when PROMPT is "-" or absent and stdin is piped; both: stdin is appended."""
    piped = not sys.stdin.isatty()
    if prompt == "-":
        text = sys.stdin.read()
    elif prompt is None:
        if not piped:
            raise UsageError("no prompt: give it as an argument or on standard input (codeward exec - < task.txt)")
        text = sys.stdin.read()
    else:
        text = prompt
        if piped:
            extra = sys.stdin.read()
            if extra.strip():
                text = f"{prompt}\n\n<stdin>\n{extra}\n</stdin>"
    if not text.strip():
        raise UsageError("the prompt is empty")
    return text


@click.command("exec", context_settings={"help_option_names": ["-h", "--help"]})
@common_options
@click.option("--json", "as_json", is_flag=True, help="Print events as JSON lines on stdout.")
@click.option(
    "-o",
    "--output-last-message",
    "last_message",
    type=click.Path(dir_okay=False),
    help="Write the final message to FILE.",
)
@click.option("--audit-log", type=click.Path(dir_okay=False), help="Also write the audit records to FILE.")
@click.option("--dry-run", is_flag=True, help="Print the first request as it would be sent (after the gate) and exit.")
@click.option("--last", is_flag=True, help="With 'resume': continue the most recent saved session.")
@click.argument("words", nargs=-1, metavar="[PROMPT|-]")
@click.pass_context
def command(
    ctx: click.Context,
    as_json: bool,
    last_message: str | None,
    audit_log: str | None,
    dry_run: bool,
    last: bool,
    words: tuple[str, ...],
    **params: Any,
) -> int:
    """Run a task without a terminal UI (for scripts and CI).

    PROMPT "-" (or none, with piped input) reads it from standard input. To continue a saved
    session: codeward exec resume --last [PROMPT] or codeward exec resume ID [PROMPT].
    """
    from codeward.agent.history import find_session
    from codeward.agent.session import build_session
    from codeward.events import EventBus, JsonlSink, SessionEnded, ThreadStarted
    from codeward.fsutil import PinnedOutput
    from codeward.home import codeward_home
    from codeward.tools.asking import NoTerminalApprover
    from codeward.ui.progress import ProgressSink

    opts = options_from_params(params).over(ctx.obj if isinstance(ctx.obj, RunOptions) else None)
    saved = None
    if words and words[0] == "resume":
        rest = list(words[1:])
        ident = None if last else (rest.pop(0) if rest else None)
        if ident is None and not last:
            raise UsageError("exec resume: give a session ID or --last")
        saved = find_session(codeward_home(), ident, last=last)
        words = tuple(rest)
    elif last:
        raise UsageError("--last only goes with 'exec resume'")
    text = read_prompt(" ".join(words) if words else None)
    # both output files are pinned before the run: a missing directory is refused now, and nothing
    # a command does to the paths later can make codeward write through a link
    out_file = PinnedOutput(Path(last_message), "-o") if last_message and not dry_run else None
    events = EventBus()
    events.add(JsonlSink(sys.stdout) if as_json else ProgressSink(sys.stderr))
    audits: list[Any] = []

    def attach_audit(project: Any, session_id: str) -> None:
        """The audit log, and the CI copy opened now, before anything runs, outside the project's reach."""
        from codeward.audit import open_ci_copy, open_session_audit

        ws = project.workspace
        ci = open_ci_copy(Path(audit_log), [ws.root, ws.cwd]) if audit_log else (None, None)
        sink = open_session_audit(project.config, session_id, scan=project.scanner.scan, extra=ci[0], extra_fd=ci[1])
        if sink is not None:
            events.add(sink)
            audits.append(sink)

    session = build_session(
        opts.workdir(),
        opts.overrides(),
        events=events,
        approver=NoTerminalApprover(),
        need_key=not dry_run,
        on_project=attach_audit,
        resume=saved,
        persist=not dry_run,
    )
    for notice in session.notices:
        click.echo(f"codeward: note: {notice}", err=True)
    events.emit(ThreadStarted(session.session_id))
    status = "failed"
    try:
        if dry_run:
            return _dry_run(session, text)
        result = session.agent.run_turn(text)
        session.save()
        status = result.status
        if result.status == "completed":
            final, _ = session.gate.redact_text(result.final_message)
            if out_file is not None:
                out_file.write_or_fail(final + ("\n" if final and not final.endswith("\n") else ""))
            if not as_json and final:
                click.echo(final)
            return EXIT_OK
        return EXIT_FAILED
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        if not dry_run:
            session.close()
        events.emit(SessionEnded(status, session.agent.total_usage.to_json()))
        for sink in audits:
            sink.close()
            for warning in sink.warnings:
                click.echo(f"codeward: warning: {warning}", err=True)
        if out_file is not None:
            out_file.close()


def _dry_run(session: Any, text: str) -> int:
    from codeward.providers.types import Message

    session.agent.items.append(Message("user", text))
    payload = session.agent.prepare(record=False)
    entry = payload.entry
    click.echo(f"POST {entry.url}", err=True)
    click.echo(
        f"{entry.summary('would send')}; sha256 {entry.sha256}; files: {', '.join(entry.files) or 'none'}", err=True
    )
    click.echo("(dry run: nothing was sent)", err=True)
    sys.stdout.buffer.write(payload.body + b"\n")
    sys.stdout.flush()
    return EXIT_OK
