"""What a wrapper runs, as data: an argv, a shell script, or a shell reading its script from input.

:func:`codeward.policy.wrappers.unwrap` answers with an :class:`Unwrapped`; the analysis follows
each inner part. Kept apart so the handlers (wrappers, shells, find, git) share one vocabulary.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from codeward.policy.words import Tok

ASSIGNMENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\[[^\]]*\])?\+?=")


@dataclass(frozen=True)
class Argv:
    """An argv the wrapper executes."""

    toks: tuple[Tok, ...]


@dataclass(frozen=True)
class Script:
    """Shell text the wrapper runs (``bash -c``, ``eval``, ``su -c``, ``ssh host cmd``…).

    ``parts`` are joined with a blank (``eval a b`` runs ``a b``). ``params`` are the positional
    parameters when known (``sh -c 'script' $0 $1…``); None means they are unknown.
    """

    parts: tuple[Tok, ...]
    params: tuple[Tok, ...] | None = None
    interpreter: str = "sh"


@dataclass(frozen=True)
class StdinScript:
    """A shell that reads its script from standard input (``bash``, ``sh -s``, ``bash <<EOF``)."""

    params: tuple[Tok, ...] | None = None
    interpreter: str = "sh"


Inner = Argv | Script | StdinScript


@dataclass
class Unwrapped:
    """What one command runs (see :func:`codeward.policy.wrappers.unwrap`)."""

    inners: list[Inner] = field(default_factory=list)
    transparent: bool = False
    unknown: str | None = None  # why what it runs cannot be told
    assignments: list[Tok] = field(default_factory=list)  # VAR=value set for the inner command
    speculative: list[tuple[Tok, ...]] = field(default_factory=list)
    # argvs that do what this command does, each with how to say so (find -delete is rm -rf DIR)
    equivalents: list[tuple[tuple[Tok, ...], str]] = field(default_factory=list)
    lookup_only: bool = False  # e.g. `command -v x`: names a program without running it


def take_assignments(toks: Sequence[Tok], i: int) -> tuple[list[Tok], int]:
    out = []
    while i < len(toks):
        t = toks[i]
        text = t.value if t.value is not None else t.prefix
        if ASSIGNMENT_RE.match(text) and (t.value is not None or "=" in t.prefix):
            out.append(t)
            i += 1
            continue
        break
    return out, i


def rest(toks: Sequence[Tok], i: int) -> tuple[Tok, ...]:
    return tuple(toks[i:])
