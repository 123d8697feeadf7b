"""The interactive loop: read a prompt or a slash command, run a turn, repeat.

It drives the very same :class:`~codeward.agent.session.Session` that ``exec`` drives; the only
differences are who answers "ask" (the user, through :class:`~codeward.ui.approver.TerminalApprover`)
and who watches the events (the :class:`~codeward.ui.render.Renderer`). Every turn is saved when it
ends, including a turn the user cancelled.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from codeward.errors import CodewardError
from codeward.modes import MEANING as MODE_MEANING
from codeward.modes import parse_mode
from codeward.providers.types import Message
from codeward.ui.slash import Slash, SlashError, help_lines, is_slash, parse_slash
from codeward.ui.status import Status, status_line, status_report

if TYPE_CHECKING:
    from codeward.agent.session import Session
    from codeward.ui.interrupts import Interrupts
    from codeward.ui.render import Renderer

NOTE_PREFIX = "[The user "  # notes the session adds to the conversation (mode change, /undo, Ctrl-C)
INTERRUPT_NOTE = (
    "[The user interrupted the previous turn with Ctrl-C before it finished. Any command that was "
    "running was stopped and its work may be incomplete; no patch was half-applied. Do not resume "
    "that work unless the user asks; answer the user's next message.]"
)


class InteractiveSession:
    """One terminal session over one agent session."""

    def __init__(
        self,
        session: Session,
        renderer: Renderer,
        interrupts: Interrupts,
        read_prompt: Callable[[], str],
        *,
        audit_path: Callable[[], str | None] = lambda: None,
        pending_notes: list[str] | None = None,
        halt: Callable[[], str | None] = lambda: None,
    ) -> None:
        self.session = session
        self.r = renderer
        self.interrupts = interrupts
        self.read_prompt = read_prompt
        self.audit_path = audit_path
        self.pending_notes = pending_notes if pending_notes is not None else []
        self.halt = halt
        """Why the session must stop now (the audit log cannot be written), or None."""

    # -- status ---------------------------------------------------------------------------------

    def status(self) -> Status:
        from dataclasses import replace

        from codeward.ui.status import context_usage

        base = Status.of(self.session.project, self.session.sandbox_tier)
        tracker = getattr(self.session.agent, "context", None)
        return replace(base, context=context_usage(tracker.used, tracker.window)) if tracker else base

    def status_line(self) -> str:
        return status_line(self.status())

    # -- the loop ---------------------------------------------------------------------------------

    def run(self, first_prompt: str | None = None) -> None:
        """Until /quit, Ctrl-D, or Ctrl-C twice."""
        pending = first_prompt
        exit_armed = False
        while True:
            if pending is not None:
                text, pending = pending, None
                self.r.line(self.status_line(), "dim")
                self.r.line(f"› {text}", "bold")
            else:
                try:
                    if self.interrupts.take_pending():
                        raise KeyboardInterrupt  # pressed while no prompt was reading keys
                    text = self.read_prompt()
                except KeyboardInterrupt:
                    if exit_armed:
                        return
                    exit_armed = True
                    self.r.note("(press Ctrl-C again or Ctrl-D to exit)")
                    continue
                except EOFError:
                    return
                finally:
                    self._flush_notes()
            exit_armed = False
            if not text.strip():
                continue
            if is_slash(text):
                try:
                    command = parse_slash(text)
                except SlashError as e:
                    self.r.error(f"codeward: {e}")
                    continue
                if not self.slash(command) or self._halted():
                    return
                continue
            outcome = self.turn(text)
            if outcome == "exit" or self._halted():
                return
            exit_armed = outcome == "interrupted"

    def _halted(self) -> bool:
        reason = self.halt()
        if reason is None:
            return False
        self.r.error(f"codeward: {reason}; the session ends here")
        return True

    def _flush_notes(self) -> None:
        while self.pending_notes:
            self.r.line(f"codeward: {self.pending_notes.pop(0)}", "yellow")

    def turn(self, text: str) -> str:
        """Run one turn: ``completed``, ``failed``, ``interrupted`` or ``exit`` (Ctrl-C twice quickly)."""
        s = self.session
        self.interrupts.begin_turn()
        try:
            result = s.agent.run_turn(text, on_stream=self.r.on_stream)
            outcome = result.status
        except KeyboardInterrupt:
            self.r.interrupted(s.events.emit)
            s.agent.interrupt(INTERRUPT_NOTE)
            self.r.line("⏹ interrupted: the turn was cancelled; the model is told with your next message", "yellow")
            outcome = "exit" if self.interrupts.double_pressed() else "interrupted"
        except CodewardError as e:  # an audit log that cannot be written, for one: nothing may go unrecorded
            self.r.stop_activity()
            self.r.error(f"codeward: {e.message}")
            outcome = "exit"
        finally:
            self.r.end_turn()
            self.interrupts.end_turn()
        try:
            s.save()
        except OSError as e:
            self.r.error(f"codeward: the session could not be saved: {e.strerror or e}")
        return outcome

    # -- slash commands -----------------------------------------------------------------------------

    def slash(self, command: Slash) -> bool:
        """Run a slash command; False means leave the session."""
        handler: dict[str, Callable[[str], bool | None]] = {
            "mode": self._mode,
            "diff": self._diff,
            "undo": self._undo,
            "status": self._status,
            "sent": self._sent,
            "expand": self._expand,
            "new": self._new,
            "compact": self._compact,
            "model": self._model,
            "help": self._help,
        }
        if command.name == "quit":
            return False
        try:
            handler[command.name](command.arg)
        except CodewardError as e:
            self.r.error(f"codeward: {e.message}")
        except Exception as e:  # a bug in one command must not end the session (and lose nothing)
            if os.environ.get("CODEWARD_DEBUG"):
                raise
            self.r.error(f"codeward: internal error in /{command.name}: {type(e).__name__}: {e}")
        return True

    def _note_to_model(self, text: str) -> None:
        self.session.agent.items.append(Message("user", text))

    def _mode(self, arg: str) -> None:
        s = self.session
        if not arg:
            self.r.line(f"approval mode: {s.project.mode} ({MODE_MEANING[s.project.mode]})")
            self.r.note("change it with /mode suggest|auto-edit|full-auto")
            return
        mode = parse_mode(arg)  # /mode's parser already refused unknown names
        if mode == s.project.mode:
            self.r.line(f"approval mode is already {mode}")
            return
        s.set_mode(mode)
        self._note_to_model(f"[The user changed the approval mode to {mode}: {MODE_MEANING[mode]}.]")
        self.r.line(f"approval mode: {mode} ({MODE_MEANING[mode]})", "bold")

    def _diff(self, arg: str) -> None:
        from codeward.ui.changes import session_diff

        diff = session_diff(self.session.ctx.applied)
        if not diff:
            self.r.note("no file changes in this session")
            return
        self.r.show_diff(diff)

    def _undo(self, arg: str) -> None:
        from codeward.ui.changes import UndoRefused, describe, undo_last

        try:
            inverse = undo_last(self.session.ctx)
        except UndoRefused as e:
            self.r.error(f"codeward: {e}")
            return
        what = describe(inverse)
        self._note_to_model(f"[The user reverted the last patch with /undo ({what}); the files are as before it.]")
        self.r.line(f"↶ reverted the last patch: {what}", "bold green")

    def _status(self, arg: str) -> None:
        from codeward.privacy.config_secrets import redact_url
        from codeward.providers.client import endpoint_url
        from codeward.ui.render import render_lines

        s = self.session
        lines = status_report(
            self.status(),
            session_id=s.session_id,
            workspace=str(s.workspace.root),
            endpoint=redact_url(endpoint_url(s.config.provider_config)),
            key_source=s.key_source,
            requests=len(s.ledger.entries),
            sent_bytes=s.ledger.total_bytes,
            tokens=s.agent.total_usage.to_json(),
            changes=len(s.ctx.applied),
            audit_log=self.audit_path(),
        )
        render_lines(self.r.console, lines)

    def _sent(self, arg: str) -> None:
        from codeward.ui.privacy import sent_report
        from codeward.ui.render import render_lines

        render_lines(self.r.console, sent_report(self.r.sent))

    def _expand(self, arg: str) -> None:
        from codeward.ui.render import render_lines

        if self.r.last_output is None:
            self.r.note("no collapsed command output to expand")
            return
        render_lines(self.r.console, self.r.last_output.rstrip("\n").split("\n"), "dim")

    def _new(self, arg: str) -> None:
        self.session.clear()
        self.r.withheld.clear()
        self.r.line("new task: the conversation context is cleared", "bold")
        self.r.note("files, /undo, /sent and the approvals you gave with [a]lways stay as they were")

    def _compact(self, arg: str) -> None:
        agent = self.session.agent
        if len(agent.items) <= 2:
            self.r.note("nothing to compact yet")
            return
        agent.compact()  # the renderer shows its context.compacted event
        self.session.save()

    def _model(self, arg: str) -> None:
        from codeward.agent.window import context_tracker

        s = self.session
        tracker = s.agent.context
        if not arg:
            self.r.line(f"model: {s.agent.model} (context window {tracker.window} tokens, {tracker.window_source})")
            self.r.note("switch with /model NAME")
            return
        new = context_tracker(s.config, s.config.provider_config, probe=True, model=arg)
        new.used = tracker.used
        s.set_model(arg, new)
        self.r.line(f"model: {arg} (context window {new.window} tokens, {new.window_source})", "bold")

    def _help(self, arg: str) -> None:
        from codeward.ui.render import render_lines

        render_lines(self.r.console, help_lines())


def recap_lines(saved: Any, limit: int = 3) -> list[str]:
    """A short recap of a saved session for ``resume``: when, where, how much, and the last exchange."""
    import time

    from codeward.providers.types import AssistantTurn

    items = list(saved.items)
    prompts = [i for i in items if isinstance(i, Message) and i.role == "user" and not i.text.startswith(NOTE_PREFIX)]
    answers = [i for i in items if isinstance(i, AssistantTurn) and i.text.strip()]
    calls = sum(len(i.tool_calls) for i in items if isinstance(i, AssistantTurn))
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(saved.created))
    lines = [
        f"resuming session {saved.session_id} from {when}" + (f" in {saved.cwd}" if saved.cwd else ""),
        f"{len(prompts)} prompt{'s' if len(prompts) != 1 else ''}, {len(answers)} answer"
        f"{'s' if len(answers) != 1 else ''}, {calls} tool call{'s' if calls != 1 else ''}",
    ]

    def short(text: str) -> list[str]:
        body = [ln for ln in text.strip().splitlines() if ln.strip()]
        out = body[:limit]
        if len(body) > limit:
            out.append("…")
        return out

    if prompts:
        lines.append("last prompt:")
        lines += [f"  › {ln}" for ln in short(prompts[-1].text)]
    if answers:
        lines.append("last answer:")
        lines += [f"  {ln}" for ln in short(answers[-1].text)]
    return lines
