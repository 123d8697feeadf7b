"""The approval modes (DESIGN §4): the one place that names them, orders them and says what each allows.

Everything else (config validation, the CLI's ``-a`` choice, the policy engine, the status line,
``/mode``, ``doctor``) reads these names and predicates instead of comparing strings of its own, so
a mode means the same thing everywhere. This module imports nothing: it sits below every floor.
"""

from __future__ import annotations

from typing import Literal, TypeGuard

Mode = Literal["suggest", "auto-edit", "full-auto"]

APPROVAL_MODES: tuple[Mode, ...] = ("suggest", "auto-edit", "full-auto")
"""From the strictest to the loosest; the order is what ``rank`` compares."""

DEFAULT_MODE: Mode = "suggest"

MEANING: dict[Mode, str] = {
    "suggest": "edits and commands ask first",
    "auto-edit": "edits are applied, commands ask first",
    "full-auto": "edits are applied, commands run in the sandbox without asking unless a rule says otherwise",
}

HELP = (
    "suggest (ask for edits and commands), auto-edit (apply edits, ask for commands), "
    "full-auto (apply edits, run commands in the sandbox)."
)


def is_mode(value: object) -> TypeGuard[Mode]:
    return isinstance(value, str) and value in APPROVAL_MODES


def parse_mode(value: object) -> Mode:
    """The mode named by ``value``; ValueError with the allowed names otherwise."""
    if not is_mode(value):
        raise ValueError(f"unknown approval mode {value!r}; choose one of {', '.join(APPROVAL_MODES)}")
    return value


def rank(mode: Mode) -> int:
    """How much a mode lets happen without asking: suggest 0 < auto-edit 1 < full-auto 2."""
    return APPROVAL_MODES.index(mode)


def stricter_or_equal(candidate: Mode, than: Mode) -> bool:
    """True when ``candidate`` lets no more happen without asking than ``than`` (a repository may pick it)."""
    return rank(candidate) <= rank(than)


def edits_without_asking(mode: Mode) -> bool:
    """Workspace edits (outside protected paths) are applied without asking."""
    return mode != "suggest"


def commands_without_asking(mode: Mode) -> bool:
    """Commands (not denied, inside any allow list) run in the sandbox without asking."""
    return mode == "full-auto"


def loosen_hint(what: Literal["edit", "command"], mode: Mode = "suggest") -> str:
    """How the user could let ``what`` happen without asking (for decline messages), given ``mode``."""
    if what == "edit" and not edits_without_asking(mode):
        return "-a auto-edit or -a full-auto or in an interactive session"
    if what == "command" and not commands_without_asking(mode):
        return "-a full-auto or in an interactive session"
    # the mode already allows it: a rule asked (allow_commands, a protected path, unreadable code)
    if what == "edit":
        return "an approval in an interactive session"
    return "an approval in an interactive session, or by adding it to your allow_commands"
