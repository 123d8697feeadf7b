"""What the analysis of a script produces, and the context it walks with.

:class:`Analysis` is the result the decisions read: every simple command (:class:`Cmd`, with its
:class:`Role`), the flows between them, what cannot be known before the script runs, and a fatal
reason to refuse. :class:`Stdin` and :class:`Ctx` describe where the walk is. Plain data: no
tree-sitter, so the decisions can import it for free.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from codeward.policy.words import Tok

MAX_NESTING = 8
MAX_CHAIN = 24
MAX_COMMANDS = 2000
MAX_FLOWS = 200_000


class Role(StrEnum):
    PROGRAM = "program"  # a program run: must satisfy allow lists
    TRANSPARENT = "transparent"  # a wrapper that only runs what it wraps (time, env, bash -c …)
    EXEMPT = "exempt"  # a shell builtin that changes only the shell's state (cd, export …)
    FUNCTION = "function"  # a call to a function defined in the same script (its body is checked)
    UNRESOLVED = "unresolved"  # its program is only known at run time
    SPECULATIVE = "speculative"  # a guess at what an unmodelled runner runs: only adds denials


@dataclass
class Cmd:
    argv: tuple[Tok, ...]
    role: Role
    depth: int = 0
    output: str | None = None  # what it prints, when known statically (echo/printf/cat of a heredoc)
    func_body: tuple[int, ...] = ()
    note: str | None = None  # for an equivalent reading: what the command it stands for does
    stdout_to: tuple[str, ...] = ()  # files its standard output is redirected to, when literal
    stdin_from: str | None = None  # the file its standard input is redirected from, when literal

    def display(self, limit: int = 120) -> str:
        text = " ".join(t.shown() for t in self.argv)
        return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class Analysis:
    commands: list[Cmd] = field(default_factory=list)
    flows: set[tuple[int, int]] = field(default_factory=set)
    uncertain: list[str] = field(default_factory=list)
    # inline code that cannot be read for commands: asks only when a disallow list is in force
    opaque: list[str] = field(default_factory=list)
    fatal: str | None = None
    placeholders: dict[str, str] = field(default_factory=dict)
    folded_bases: list[str | None] | None = field(default=None, repr=False, compare=False)
    file_flows: set[tuple[int, int]] | None = field(default=None, repr=False, compare=False)

    def show(self, text: str) -> str:
        """``text`` with the stand-ins for run-time values put back as they were written."""
        for ph, original in self.placeholders.items():
            if ph in text:
                text = text.replace(ph, original)
        return text

    def display(self, idx: int, limit: int = 80) -> str:
        return self.show(self.commands[idx].display(limit))


@dataclass(frozen=True)
class Stdin:
    """Where a command's standard input comes from, as far as the script says."""

    kind: str = "none"  # none | text | file | pipe | unknown
    text: str | None = None
    holes: bool = False
    producer: str = ""


@dataclass(frozen=True)
class Ctx:
    depth: int = 0
    chain: int = 0
    stdin: Stdin = Stdin()
    params: tuple[str, ...] | None = None
    scope: int = 0
    speculative: bool = False
