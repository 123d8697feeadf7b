"""Slash commands: the table of what exists, and parsing a line into one (pure).

The session loop owns what each command does; this module only decides whether a line is a
command, which one, and whether its argument is acceptable, so every refusal is one line.
"""

from __future__ import annotations

from dataclasses import dataclass

from codeward.modes import APPROVAL_MODES


class SlashError(Exception):
    """A line that looks like a command but is not a valid one; the message is the one-line error."""


# name -> (argument shown in /help or "", what it does)
COMMANDS: dict[str, tuple[str, str]] = {
    "mode": ("suggest|auto-edit|full-auto", "show or change the approval mode for this session"),
    "diff": ("", "show every change applied to files in this session"),
    "undo": ("", "revert the last applied patch (refused if a file changed since)"),
    "status": ("", "model, provider, approval mode, sandbox, network, and what was sent so far"),
    "sent": ("", "list exactly what left the machine in this session"),
    "expand": ("", "show the full output of the last command that was collapsed"),
    "new": ("", "start a new task: clear the conversation context"),
    "compact": ("", "summarise the conversation so far to free context (the task and your messages stay)"),
    "model": ("[NAME]", "show the model and its context window, or switch model for the rest of the session"),
    "help": ("", "this list"),
    "quit": ("", "save the session and exit (also /exit, Ctrl-D)"),
}
ALIASES = {"exit": "quit", "q": "quit", "clear": "new", "?": "help"}


@dataclass(frozen=True)
class Slash:
    name: str
    arg: str = ""


def is_slash(line: str) -> bool:
    """A line is a command when it starts with ``/`` followed by a word (``/tmp/x is full`` is a prompt)."""
    s = line.strip()
    if not s.startswith("/"):
        return False
    words = s[1:].split(None, 1)
    return not words or "/" not in words[0]


def parse_slash(line: str) -> Slash:
    """``/mode full-auto`` -> ``Slash("mode", "full-auto")``; SlashError for anything unknown or malformed."""
    s = line.strip()
    if s == "/":
        raise SlashError("a command name must follow '/'; /help lists them")
    word, _, rest = s[1:].partition(" ")
    name = ALIASES.get(word.lower(), word.lower())
    arg = rest.strip()
    if name not in COMMANDS:
        raise SlashError(f"unknown command /{word}; /help lists the commands")
    if name == "mode":
        if arg and arg not in APPROVAL_MODES:
            raise SlashError(f"/mode {arg}: unknown approval mode; choose one of {', '.join(APPROVAL_MODES)}")
    elif name == "model":
        if arg and (len(arg.split()) > 1 or len(arg) > 200):
            raise SlashError(f"/model {arg}: give one model name, like /model gpt-5")
    elif arg:
        raise SlashError(f"/{name} takes no argument")
    return Slash(name, arg)


def help_lines() -> list[str]:
    rows = [(f"/{name}" + (f" {arg}" if arg else ""), text) for name, (arg, text) in COMMANDS.items()]
    width = max(len(left) for left, _ in rows)
    lines = [f"  {left.ljust(width)}  {text}" for left, text in rows]
    lines += [
        "",
        "  Enter sends; Alt-Enter (or Esc then Enter) starts a new line; Up/Down recall earlier prompts.",
        "  Ctrl-C cancels a running turn (and kills its command); Ctrl-C twice or Ctrl-D at an empty prompt exits.",
    ]
    return lines
