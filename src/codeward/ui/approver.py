"""The terminal Approver: the user answers "ask" for edits and commands.

An edit shows its coloured unified diff, a command shows itself, its working directory and why the
policy asks; then one key: [y]es, [n]o, [a]lways (for this session; the tools remember it in
``ctx.session_allow``). After "no" the user may type a reason, which goes back to the model as the
tool's result. Ctrl-C at the question cancels the whole turn, as it does anywhere else in a turn.
Commands the policy denies never reach this class: they are refused and only shown.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from codeward.tools.asking import Answer, CommandRequest, EditRequest

if TYPE_CHECKING:
    from codeward.ui.render import Renderer

CHOICES = {"y": "yes", "n": "no", "a": "always"}


def answer_for(choice: str, reason: str | None, what: str) -> Answer:
    """The Answer for a key the user pressed (pure); the reason only matters for "no"."""
    if choice == "y":
        return Answer(approved=True, decided_by="user")
    if choice == "a":
        return Answer(approved=True, always=True, decided_by="user")
    text = (reason or "").strip()
    if text:
        return Answer(approved=False, reason=f"declined by the user, who said: {text}", decided_by="user")
    return Answer(approved=False, reason=f"declined: the user did not approve this {what}", decided_by="user")


def ask_key(message: str) -> str:
    """Wait for y, n or a (any case); every other key is ignored. Ctrl-C raises KeyboardInterrupt."""
    from prompt_toolkit.application import Application
    from prompt_toolkit.formatted_text import FormattedText
    from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
    from prompt_toolkit.layout import Layout, Window
    from prompt_toolkit.layout.controls import FormattedTextControl

    kb = KeyBindings()
    chosen: list[tuple[str, str]] = []

    def text() -> FormattedText:
        return FormattedText([("bold", message), *chosen])

    for key in "yYnNaA":

        def choose(event: KeyPressEvent, value: str = key.lower()) -> None:
            chosen.append(("bold green" if value in "ya" else "bold red", CHOICES[value]))
            event.app.exit(result=value)

        kb.add(key)(choose)

    @kb.add("c-c")
    @kb.add("<sigint>")
    def _cancel(event: KeyPressEvent) -> None:
        event.app.exit(exception=KeyboardInterrupt())

    @kb.add("c-d")
    def _no(event: KeyPressEvent) -> None:
        chosen.append(("bold red", CHOICES["n"]))
        event.app.exit(result="n")

    @kb.add("<any>")
    def _ignore(event: KeyPressEvent) -> None:
        pass

    control = FormattedTextControl(text, show_cursor=True)
    app: Application[str] = Application(
        layout=Layout(Window(control, height=1, dont_extend_height=True)), key_bindings=kb, full_screen=False
    )
    return app.run()


def ask_line(message: str) -> str:
    """One line of text (Enter ends it; empty is fine). Ctrl-C raises KeyboardInterrupt."""
    from prompt_toolkit import PromptSession

    session: PromptSession[str] = PromptSession()
    try:
        return session.prompt([("bold", message)])
    except EOFError:
        return ""


class TerminalApprover:
    """Asks at the terminal; what it shows goes through the renderer so the live spinner is out of the way."""

    def __init__(
        self,
        renderer: Renderer,
        *,
        key: Callable[[str], str] = ask_key,
        line: Callable[[str], str] = ask_line,
        ask_reason: bool = True,
    ) -> None:
        self.renderer = renderer
        self._key = key
        self._line = line
        self.ask_reason = ask_reason

    def _ask(self, question: str, what: str) -> Answer:
        choice = self._key(f"{question} [y]es / [n]o / [a]lways (this session) ")
        reason = None
        if choice == "n" and self.ask_reason:
            reason = self._line("  reason for the model (optional, Enter to skip): ")
        return answer_for(choice, reason, what)

    def approve_command(self, request: CommandRequest) -> Answer:
        r = self.renderer
        r.stop_activity()
        r.console.print()
        r.line("The model wants to run a command:", "bold yellow")
        r.line(f"  $ {request.command}", "bold")
        r.line(f"  in {request.workdir}", "dim")
        r.line(f"  why you are asked: {request.verdict}", "dim")
        return self._ask("Run it?", "command")

    def approve_edit(self, request: EditRequest) -> Answer:
        r = self.renderer
        r.stop_activity()
        r.console.print()
        r.line(f"The model wants to change {', '.join(request.paths)}:", "bold yellow")
        r.show_diff(request.diff)
        if request.reason:
            r.line(f"  why you are asked: {request.reason}", "dim")
        answer = self._ask("Apply this edit?", "edit")
        r.diff_shown = answer.approved
        return answer
