"""What the user sees during a turn: an event sink plus the stream callback, drawn with rich.

The agent never prints; it emits events (``codeward.events``) and this renderer turns them into
terminal output: a spinner with elapsed time while waiting for the model or a command, the model's
text streamed raw and then rendered as Markdown once the message is complete, the privacy line
after each request, command output collapsed to its first and last lines, and refusals.

Everything shown that came from the model or a command passes :func:`visible` first: escape
sequences could otherwise repaint the terminal and hide what is really happening, and bidirectional
overrides could reorder text (the same concern as the approval diff in ``codeward.patch.diff``).
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from codeward.events import CommandExecution, Event, ItemCompleted
from codeward.providers.types import ReasoningDelta, StreamEvent, TextDelta
from codeward.ui.privacy import SentRecord, WithheldTally, entry_from_event, privacy_line
from codeward.ui.status import format_bytes

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderResult
    from rich.text import Text

ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
HEAD_LINES = 6
TAIL_LINES = 6
MIN_HIDDEN = 5
SHOWN_TOOLS = frozenset({"shell", "apply_patch", "update_plan"})  # these draw their own lines
DIFF_LINES = 40  # of an edit applied without asking; the approval prompt always shows the whole diff


def visible(text: str) -> str:
    """``text`` with every control character (but newline and tab) and bidi override shown as an escape."""
    out: list[str] = []
    for c in text:
        if c in "\n\t":
            out.append(c)
        elif c in BIDI or unicodedata.category(c) == "Cc":
            out.append(f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")
        else:
            out.append(c)
    return "".join(out)


def plain_output(text: str) -> str:
    """Command output for the screen: colour and cursor sequences dropped, other controls escaped."""
    return visible(ANSI.sub("", text.replace("\r\n", "\n")))


def collapse(text: str, head: int = HEAD_LINES, tail: int = TAIL_LINES) -> tuple[list[str], int]:
    """The lines to show of a long output and how many were left out of the middle (0: all shown)."""
    lines = text.rstrip("\n").split("\n") if text.strip() else []
    if len(lines) <= head + tail + MIN_HIDDEN - 1:  # hiding a line or two saves nothing
        return lines, 0
    return [*lines[:head], *lines[-tail:]], len(lines) - head - tail


def elapsed(seconds: float) -> str:
    """``4.2s``, ``1m 05s``."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    m, s = divmod(int(seconds), 60)
    return f"{m}m {s:02d}s"


def diff_text(diff: str) -> Text:
    """A unified diff coloured as git colours it: removed red, added green, hunk headers cyan."""
    from rich.text import Text

    out = Text()
    for line in diff.rstrip("\n").split("\n"):
        if line.startswith(("+++", "---")) or line.startswith("rename "):
            style = "bold"
        elif line.startswith("+"):
            style = "green"
        elif line.startswith("-"):
            style = "red"
        elif line.startswith("@@"):
            style = "cyan"
        else:
            style = ""
        out.append(visible(line) + "\n", style=style)
    out.rstrip()
    return out


class Activity:
    """The live line: a spinner, what we wait for, the time so far, and the model's text as it streams."""

    def __init__(self, label: str, clock: Callable[[], float] = time.monotonic) -> None:
        from rich.spinner import Spinner

        self.label = label
        self.clock = clock
        self.started = clock()
        self.text = ""
        self.thinking = False
        self._spinner = Spinner("dots", style="cyan")

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        from rich.text import Text

        if self.text:
            room = max(3, console.size.height - 4)
            width = max(20, options.max_width)
            kept: list[str] = []
            used = 0
            for line in reversed(self.text.split("\n")):
                used += max(1, -(-len(line) // width))
                if used > room:
                    break
                kept.append(line)
            yield Text(visible("\n".join(reversed(kept))))
        what = "thinking" if self.thinking and not self.text else self.label
        self._spinner.text = Text(f"{what} · {elapsed(self.clock() - self.started)} · Ctrl-C to cancel", style="dim")
        yield self._spinner


@dataclass
class _Command:
    command: str
    started: float


class Renderer:
    """Subscribes to the session's events; also the ``on_stream`` callback of each model request."""

    def __init__(self, console: Console, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.console = console
        self.clock = clock
        self.withheld = WithheldTally()
        self.sent: list[SentRecord] = []
        self.last_output: str | None = None
        """The full output of the last command whose output was collapsed (for /expand)."""
        self.running: dict[str, dict[str, Any]] = {}
        """Command items started and not yet completed (closed as interrupted on Ctrl-C)."""
        self.diff_source: Callable[[], str | None] | None = None
        """Gives the diff of the patch just applied, shown when no approval prompt showed it."""
        self.diff_shown = False
        self._live: Any = None
        self._activity: Activity | None = None
        self._commands: dict[str, _Command] = {}
        self._interrupting = False
        self.workspace = ""
        """The workspace root (from ``session.started``): file_change items carry absolute paths."""

    # -- the live line --------------------------------------------------------------------------

    def start_activity(self, label: str) -> None:
        from rich.live import Live

        self.stop_activity()
        self._activity = Activity(label, self.clock)
        self._live = Live(
            self._activity,
            console=self.console,
            refresh_per_second=8,
            transient=True,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._live.start()

    def stop_activity(self) -> None:
        live, self._live, self._activity = self._live, None, None
        if live is not None:
            live.stop()

    # -- model stream -----------------------------------------------------------------------------

    def on_stream(self, event: StreamEvent) -> None:
        act = self._activity
        if act is None:
            return
        if isinstance(event, TextDelta):
            act.text += event.text
        elif isinstance(event, ReasoningDelta):
            act.thinking = True

    # -- output helpers ---------------------------------------------------------------------------

    def line(self, text: str, style: str = "") -> None:
        from rich.text import Text

        self.console.print(Text(visible(text), style=style), soft_wrap=False, overflow="fold")

    def note(self, text: str) -> None:
        self.line(text, "dim")

    def error(self, text: str) -> None:
        self.line(text, "bold red")

    def markdown(self, text: str) -> None:
        from rich.markdown import Markdown

        self.console.print(Markdown(visible(text), code_theme="monokai", hyperlinks=False))

    def show_output(self, output: str) -> None:
        """A command's output, collapsed to its first and last lines when long."""
        from rich.text import Text

        text = plain_output(output)
        lines, hidden = collapse(text)
        if not lines:
            return
        if hidden:
            self.last_output = text
            shown = Text("\n".join(f"  {ln}" for ln in lines[:HEAD_LINES]), style="dim")
            self.console.print(shown, overflow="fold")
            self.console.print(Text(f"  … {hidden} more lines; /expand to see all", style="yellow"))
            self.console.print(Text("\n".join(f"  {ln}" for ln in lines[HEAD_LINES:]), style="dim"), overflow="fold")
        else:
            self.console.print(Text("\n".join(f"  {ln}" for ln in lines), style="dim"), overflow="fold")

    def show_diff(self, diff: str, limit: int | None = None) -> None:
        """A coloured diff; with ``limit``, only its first lines and a pointer to /diff."""
        from rich.text import Text

        lines = diff.rstrip("\n").split("\n")
        if limit is not None and len(lines) > limit + 1:
            self.console.print(diff_text("\n".join(lines[:limit])), overflow="fold")
            self.console.print(Text(f"… {len(lines) - limit} more diff lines; /diff shows all changes", style="yellow"))
        else:
            self.console.print(diff_text(diff), overflow="fold")

    # -- the sink ---------------------------------------------------------------------------------

    def emit(self, event: Event) -> None:
        """The bus's entry: the renderer draws the event's wire form (the same one ``exec --json`` shows)."""
        self.show(event.to_json())

    def show(self, event: dict[str, Any]) -> None:
        try:
            self._emit(event)
        except Exception as e:  # a sink must not raise; a drawing bug must not end the turn
            self.stop_activity()
            self.console.print(f"(display error: {type(e).__name__}: {e})", markup=False, style="dim")

    def _emit(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "session.started":
            self.workspace = str(event.get("workspace") or "")
        elif kind == "egress":
            self.stop_activity()
            entry = entry_from_event(event)
            self.sent.append(SentRecord(time.time(), entry))
            self.line("↑ " + privacy_line(entry, self.withheld), "cyan")
            self.withheld.clear()
            self.start_activity(f"waiting for {entry.host}")
        elif kind == "context.compacted":
            self.stop_activity()
            before, after = event.get("tokens_before"), event.get("tokens_after")
            self.line(
                f"↻ context compacted by the model: {before} → {after} tokens (task and your messages kept)", "dim"
            )
        elif kind == "request.refused":
            self.stop_activity()
            self.sent = [
                SentRecord(r.at, r.entry, refused=True) if r.entry.sha256 == event.get("sha256") else r
                for r in self.sent
            ]
            size = format_bytes(int(event.get("bytes") or 0))
            if event.get("reason") == "unreachable":
                self.line(f"✗ {event.get('host')} was not reached: the request ({size}) was not sent", "yellow")
            else:
                self.line(f"✗ {event.get('host')} refused the request ({size} refused, not accepted)", "yellow")
        elif kind == "withheld":
            self.withheld.add(event)
        elif kind == "response.received":
            self.stop_activity()
            quiet = [n for n in event.get("tool_calls") or () if n not in SHOWN_TOOLS]
            if quiet:  # reads have no events of their own; say at least that they happen
                self.note("· " + ", ".join(quiet))
        elif kind == "item.started":
            self._item_started(event["item"])
        elif kind == "item.updated":
            if event["item"].get("type") == "todo_list":
                self._plan(event["item"])
        elif kind == "item.completed":
            self._item_completed(event["item"])
        elif kind == "decision" and event.get("outcome") == "denied":
            self.stop_activity()
            what = "$ " + str(event.get("target")) if event.get("action") == "command" else str(event.get("target"))
            self.line(f"✗ refused by policy: {what}", "bold red")
            self.line(f"  {event.get('reason')}", "red")
        elif kind == "error":
            self.line(f"! {event.get('message')}", "yellow")
        elif kind == "turn.failed":
            self.stop_activity()
            if self._interrupting:
                self._interrupting = False  # the session says it in its own words
            else:
                self.error(f"✗ {event.get('error', {}).get('message', 'the turn failed')}")
        elif kind == "turn.completed":
            self.stop_activity()

    def _item_started(self, item: dict[str, Any]) -> None:
        t = item.get("type")
        if t == "command_execution":
            self.stop_activity()
            self.running[item["id"]] = item
            command = shown_command(item["command"])
            self._commands[item["id"]] = _Command(command, self.clock())
            self.line(f"$ {command}", "bold")
            self.start_activity("running")
        elif t == "todo_list":
            self._plan(item)

    def _item_completed(self, item: dict[str, Any]) -> None:
        t = item.get("type")
        if t == "agent_message":
            self.stop_activity()
            self.console.print()
            self.markdown(item.get("text", ""))
            self.console.print()
        elif t == "reasoning":
            text = " ".join(str(item.get("text", "")).split())
            self.line(f"thinking: {text[:300]}{'…' if len(text) > 300 else ''}", "dim italic")
        elif t == "command_execution":
            self._command_done(item)
        elif t == "file_change":
            self._file_change(item)
        elif t == "error":
            pass  # the agent's error item precedes turn.failed, which says it

    def _command_done(self, item: dict[str, Any]) -> None:
        self.running.pop(item.get("id", ""), None)
        started = self._commands.pop(item.get("id", ""), None)
        status = item.get("status")
        if status == "declined":
            return  # the approval prompt or the policy refusal already said so
        self.stop_activity()
        took = f" · {elapsed(self.clock() - started.started)}" if started else ""
        if self._interrupting:
            self.line(f"⏹ stopped: the command and everything it started were killed{took}", "yellow")
            return
        self.show_output(str(item.get("aggregated_output") or ""))
        code = item.get("exit_code")
        if status == "completed":
            self.line(f"✓ exit {code}{took}", "green")
        elif code is None:
            self.line(f"✗ did not finish{took}", "red")
        else:
            self.line(f"✗ exit {code}{took}", "red")

    def _file_change(self, item: dict[str, Any]) -> None:
        from codeward.ui.changes import KIND_LETTER

        status = item.get("status")
        names = ", ".join(
            f"{KIND_LETTER.get(c['kind'], '?')} {_relative(c['path'], self.workspace)}" for c in item.get("changes", [])
        )
        if status == "completed":
            if not self.diff_shown and self.diff_source is not None:
                diff = self.diff_source()
                if diff:
                    self.show_diff(diff, limit=DIFF_LINES)
            self.line(f"✓ applied: {names}", "green")
        elif status == "failed":
            self.line(f"✗ patch failed: {names}", "red")
        self.diff_shown = False

    def _plan(self, item: dict[str, Any]) -> None:
        self.stop_activity()
        self.line("plan:", "bold")
        for step in item.get("items", []):
            self.line(
                f"  {'☑' if step.get('completed') else '☐'} {step.get('text')}", "" if step.get("completed") else "dim"
            )

    # -- interruption -------------------------------------------------------------------------------

    def end_turn(self) -> None:
        """Whatever happened, the turn is over: no live line, no interruption in progress."""
        self.stop_activity()
        self._interrupting = False

    def interrupted(self, emit: Callable[[Event], None]) -> None:
        """Ctrl-C ended the turn: clear the live line and close the items it left open."""
        self.stop_activity()
        self._interrupting = True
        for item in list(self.running.values()):
            stopped = CommandExecution(
                id=item["id"],
                command=item.get("command", ""),
                aggregated_output="interrupted by the user",
                status="failed",
            )
            emit(ItemCompleted(stopped))
        self.running.clear()


def render_lines(console: Console, lines: Sequence[str], style: str = "") -> None:
    """Print plain lines (reports, help) without markup interpretation."""
    from rich.text import Text

    for ln in lines:
        console.print(Text(visible(ln), style=style), overflow="fold")


def shown_command(command: str) -> str:
    """The script of a ``bash -c SCRIPT`` command line (what the model asked for), else the line."""
    import shlex

    try:
        words = shlex.split(command)
    except ValueError:
        return command
    if len(words) == 3 and words[0] in ("bash", "sh") and words[1] in ("-c", "-lc"):
        return words[2]
    return command


def _relative(path: str, root: str) -> str:
    prefix = root.rstrip("/") + "/"
    return path[len(prefix) :] if root and path.startswith(prefix) else path
