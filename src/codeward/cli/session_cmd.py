"""``codeward [PROMPT]``: the interactive session in the terminal (DESIGN §6).

Built exactly like ``exec`` builds its run (same ``build_session``, same audit log attached before
the first event, same saving), with a person to answer "ask" and a terminal UI watching the events.
rich and prompt_toolkit are imported here, not at start-up, so ``codeward --help`` stays fast.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from codeward.cli.options import RunOptions
from codeward.errors import UsageError

if TYPE_CHECKING:
    from codeward.agent.history import SavedSession
    from codeward.events import Event

NO_TERMINAL = (
    "the interactive session needs a terminal ({what} is not one); "
    'for scripts and CI use: codeward exec "PROMPT" (or pipe the task: codeward exec - < task.txt)'
)


def require_terminal() -> None:
    """A one-line refusal (exit 2) when standard input or output is not a terminal."""
    if not sys.stdin.isatty():
        raise UsageError(NO_TERMINAL.format(what="standard input"))
    if not sys.stdout.isatty():
        raise UsageError(NO_TERMINAL.format(what="standard output"))


def confirm_workspace(opts: RunOptions, ask: Callable[[str], bool]) -> RunOptions:
    """``opts``, or, when its directory is not a workspace codeward may take unasked, the user's answer.

    Outside a repository the session asks (default no) before it makes the directory the workspace;
    ``$HOME`` and ``/`` are refused without asking (only ``--workspace`` allows them). A "no" is a
    one-line usage error saying what to pass instead.
    """
    from codeward.workspace import WorkspaceNotChosen, choose_root

    ov = opts.overrides()
    try:
        choose_root(opts.workdir(), named=ov.workspace_named, explicit=ov.workspace_explicit)
    except WorkspaceNotChosen as e:
        if not e.askable:
            raise
        question = (
            f"{e.candidate} is not in a git repository. Use it as the workspace (the agent may read and edit it)?"
        )
        if not ask(question):
            raise UsageError(
                f"no workspace: {e.candidate} was not accepted; run codeward in a repository or pass -C DIR"
            ) from None
        return opts.confirmed(e.candidate)
    return opts


def _ask_yes_no(question: str) -> bool:
    """A y/N question on the terminal; anything but y/yes (or end of input) is no."""
    try:
        answer = input(f"{question} [y/N] ")
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


def run_session(
    opts: RunOptions, prompt: str | None, *, resume: SavedSession | None = None, recap: list[str] | None = None
) -> int:
    """Open the session in ``opts.workdir()``, optionally starting with ``prompt``; returns the exit code."""
    require_terminal()
    opts = confirm_workspace(opts, _ask_yes_no)
    from rich.console import Console

    from codeward import __version__
    from codeward.agent.session import build_session
    from codeward.events import EventBus, SessionEnded
    from codeward.ui.approver import TerminalApprover
    from codeward.ui.input_history import history_path, make_history
    from codeward.ui.interrupts import InterruptibleClient, InterruptibleSandbox, Interrupts
    from codeward.ui.prompt import make_prompt
    from codeward.ui.render import Renderer, render_lines
    from codeward.ui.session_loop import InteractiveSession

    console = Console(highlight=False)
    renderer = Renderer(console)
    events = EventBus()
    audits: list[Any] = []

    failures: list[str] = []

    def attach_audit(project: Any, run_id: str) -> None:
        from codeward.audit import open_session_audit

        sink = open_session_audit(project.config, run_id, scan=project.scanner.scan)
        if sink is not None:
            events.add(_Watched(sink, failures))
            audits.append(sink)

    events.add(renderer)  # first, so a sink that fails later cannot hide what happens from the user
    try:
        session = build_session(
            opts.workdir(),
            opts.overrides(),
            events=events,
            approver=TerminalApprover(renderer),
            on_project=attach_audit,
            resume=resume,
        )
    except BaseException:  # no key, a bad config...: the audit log opened for this run is sealed, not left open
        for sink in audits:
            sink.close()
        raise
    interrupts = Interrupts()
    if session.agent.client is not None:
        session.agent.client = InterruptibleClient(session.agent.client, interrupts)  # type: ignore[assignment]
    session.ctx.sandbox_factory = lambda: InterruptibleSandbox(session.project.select_sandbox(), interrupts)

    def applied_diff() -> str | None:
        from codeward.patch import unified_diff

        applied = session.ctx.applied
        return "".join(unified_diff(c) for c in applied[-1]) if applied else None

    renderer.diff_source = applied_diff
    notes: list[str] = []
    hist_file = None
    if session.config.history.persistence != "none":
        hist_file = history_path(session.home, session.workspace.root)
    history = make_history(hist_file, session.workspace.root, lambda t: session.gate.redact_text(t)[0], notes.append)

    loop = InteractiveSession(
        session,
        renderer,
        interrupts,
        read_prompt=lambda: "",
        audit_path=lambda: str(audits[0].path) if audits and audits[0].path else None,
        pending_notes=notes,
        halt=lambda: failures[0] if failures else None,
    )
    loop.read_prompt = make_prompt(history, loop.status_line)

    status = "completed"
    interrupts.install()
    try:
        console.print(f"codeward {__version__}", style="bold", highlight=False, end="")
        console.print(
            f" · session {session.session_id} · workspace {session.workspace.root}", style="dim", markup=False
        )
        for notice in session.notices:
            renderer.line(f"note: {notice}", "yellow")
        if session.sandbox_tier.startswith("unavailable"):
            renderer.line(f"warning: commands will be refused, no sandbox: {session.sandbox_tier}", "bold yellow")
        if recap:
            render_lines(console, recap, "dim")
        renderer.note("Enter sends · Alt-Enter new line · /help lists commands · Ctrl-C cancels · Ctrl-D exits")
        loop.run(prompt)
    except BaseException:
        status = "interrupted"
        raise
    finally:
        interrupts.uninstall()
        renderer.stop_activity()
        try:
            session.close()
        finally:
            events.emit(SessionEnded(status, session.agent.total_usage.to_json()))
            for sink in audits:
                sink.close()
    _goodbye(console, session)
    return 0


def _goodbye(console: Any, session: Any) -> None:
    from codeward.ui.status import format_bytes

    ledger = session.ledger
    hosts = sorted({e.host for e in ledger.entries})
    redacted = sum(e.redaction_total for e in ledger.entries)
    sent = (
        f"{len(ledger.entries)} request{'s' if len(ledger.entries) != 1 else ''} "
        f"({format_bytes(ledger.total_bytes)}) to {', '.join(hosts) or 'nobody'}; "
        f"{redacted} secret{'s' if redacted != 1 else ''} redacted"
    )
    console.print(f"session ended: {sent}", style="dim", markup=False, highlight=False)
    if session.config.history.persistence != "none":
        console.print(f"continue it with: codeward resume {session.session_id}", style="dim", markup=False)


class _Watched:
    """An audit sink whose failure ends the session: once a record cannot be written, nothing more may happen."""

    def __init__(self, sink: Any, failures: list[str]) -> None:
        self.sink = sink
        self.failures = failures

    def emit(self, event: Event) -> None:
        from codeward.errors import CodewardError

        try:
            self.sink.emit(event)
        except CodewardError as e:
            if not self.failures:
                self.failures.append(e.message)
            raise
