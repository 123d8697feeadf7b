"""``find``: the commands its ``-exec`` / ``-execdir`` / ``-ok`` / ``-okdir`` actions run.

A word that is an action's ``{}`` becomes a token known only at run time (a file name), so
``find . -exec rm -rf {} +`` is ``rm -rf <file>``. Primaries that take a value are listed so a
value (``-name -exec``) is never read as an action.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from codeward.policy.options import OptionsUnknown
from codeward.policy.unwrapped import Argv, Inner, Unwrapped
from codeward.policy.words import Tok

FIND_EXEC = frozenset({"-exec", "-execdir", "-ok", "-okdir"})
FIND_VALUE_PRIMARIES = frozenset(
    {
        "-name",
        "-iname",
        "-path",
        "-ipath",
        "-wholename",
        "-iwholename",
        "-regex",
        "-iregex",
        "-lname",
        "-ilname",
        "-type",
        "-xtype",
        "-newer",
        "-anewer",
        "-cnewer",
        "-user",
        "-group",
        "-uid",
        "-gid",
        "-perm",
        "-size",
        "-mtime",
        "-mmin",
        "-atime",
        "-amin",
        "-ctime",
        "-cmin",
        "-used",
        "-maxdepth",
        "-mindepth",
        "-printf",
        "-fprint",
        "-fprint0",
        "-fprintf",
        "-fls",
        "-samefile",
        "-links",
        "-inum",
        "-fstype",
        "-context",
        "-regextype",
        "-D",
        "-O",
        "-files0-from",
    }
)


def find_actions(toks: Sequence[Tok]) -> Unwrapped:
    """What ``find`` runs (``-exec`` and friends), and what it amounts to when it deletes.

    ``find DIR … -delete`` and ``find DIR … -exec rm …`` remove files found anywhere under DIR: to a
    ``rm -rf`` rule they are ``rm -rf DIR`` (an *equivalent*, which only ever adds denials).
    """
    inners: list[Inner] = []
    deletes = False
    i = 1
    n = len(toks)
    prev_takes_value = False
    while i < n:
        t = toks[i]
        if t.value is None:
            if t.maybe_flag and not prev_takes_value:
                raise OptionsUnknown(f"find expression word {t.text} is only known at run time")
            prev_takes_value = False
            i += 1
            continue
        if t.value in FIND_EXEC:
            j = i + 1
            argv: list[Tok] = []
            while j < n and toks[j].value not in (";", "+"):
                tj = toks[j]
                if tj.value is not None and "{}" in tj.value:
                    before = tj.value.split("{}", 1)[0]
                    argv.append(Tok.unknown(tj.value, prefix=before, maybe_flag=before.startswith("-"), split=False))
                else:
                    argv.append(tj)
                j += 1
            if argv:
                inners.append(Argv(tuple(argv)))
                program = (argv[0].value or "").rsplit("/", 1)[-1]
                deletes = deletes or program in DELETING_PROGRAMS or _shell_deletes(program, argv)
            i = j + 1
            prev_takes_value = False
            continue
        if t.value == "-delete" and not prev_takes_value:
            deletes = True
        prev_takes_value = t.value in FIND_VALUE_PRIMARIES or t.value.startswith("-newer")
        i += 1
    equivalents: list[tuple[tuple[Tok, ...], str]] = []
    if deletes:
        roots = start_points(toks)
        argv_rm = (Tok.lit("rm"), Tok.lit("-rf"), Tok.lit("--"), *roots)
        shown = " ".join(t.shown() for t in argv_rm).replace(" -- ", " ")
        equivalents.append((argv_rm, f"deletes what it finds, like `{shown}`"))
    return Unwrapped(inners=inners, transparent=False, equivalents=equivalents)


# programs that delete the files find hands them
DELETING_PROGRAMS = frozenset({"rm", "unlink", "shred"})
# find's own options before the starting points (-H -L -P, -D debugopts, -O3)
_FIND_LEADING = frozenset({"-H", "-L", "-P"})


_DELETES_WORD = re.compile(r"(?<![\w-])(rm|unlink|shred)(?![\w-])")
_SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "ash", "busybox"})


def _shell_deletes(program: str, argv: Sequence[Tok]) -> bool:
    """``find … -exec sh -c 'rm "$1"' _ {} \\;``: a shell snippet that deletes what find hands it."""
    return program in _SHELLS and any(t.value is not None and _DELETES_WORD.search(t.value) for t in argv[1:])


def start_points(toks: Sequence[Tok]) -> tuple[Tok, ...]:
    """The directories ``find`` starts from (``.`` when none is given), as bash passes them."""
    i = 1
    n = len(toks)
    while i < n and toks[i].value is not None:
        v = toks[i].value or ""
        if v in _FIND_LEADING or (v.startswith("-O") and v[2:].isdigit()):
            i += 1
        elif v == "-D" and i + 1 < n:
            i += 2
        else:
            break
    roots: list[Tok] = []
    while i < n:
        t = toks[i]
        if t.value is not None and (t.value.startswith("-") or t.value in ("(", "!", ",")):
            break
        if t.value is None and t.maybe_flag:
            break
        roots.append(t)
        i += 1
    return tuple(roots) or (Tok.lit("."),)
