"""The input line: multi-line editing with prompt_toolkit, the status line above it.

Enter sends; Alt-Enter (Esc then Enter in terminals without Alt) inserts a newline, as does a paste
containing newlines. Ctrl-C clears a non-empty line and raises KeyboardInterrupt on an empty one
(the session decides whether that exits); Ctrl-D on an empty line raises EOFError.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def make_prompt(history: Any, status: Callable[[], str]) -> Callable[[], str]:
    """A function that reads one prompt (blocking), showing ``status()`` on the line above it."""
    from prompt_toolkit import PromptSession
    from prompt_toolkit.formatted_text import FormattedText
    from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
    from prompt_toolkit.styles import Style

    kb = KeyBindings()

    @kb.add("enter")
    def _send(event: KeyPressEvent) -> None:
        event.current_buffer.validate_and_handle()

    @kb.add("escape", "enter")
    def _newline(event: KeyPressEvent) -> None:
        event.current_buffer.insert_text("\n")

    @kb.add("c-c")
    def _clear_or_interrupt(event: KeyPressEvent) -> None:
        buf = event.current_buffer
        if buf.text:
            buf.reset()
        else:
            event.app.exit(exception=KeyboardInterrupt())

    style = Style.from_dict({"status": "#888888", "prompt": "bold #5fafff", "continuation": "#888888"})
    session: PromptSession[str] = PromptSession(
        multiline=True,
        key_bindings=kb,
        history=history,
        style=style,
        prompt_continuation=lambda width, line, wrap: FormattedText([("class:continuation", "… ".rjust(width))]),
        enable_history_search=False,
        mouse_support=False,
    )

    def read() -> str:
        message = FormattedText([("class:status", status() + "\n"), ("class:prompt", "› ")])
        return session.prompt(message)

    return read
