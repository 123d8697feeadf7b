"""``find``: the commands its ``-exec`` / ``-execdir`` / ``-ok`` / ``-okdir`` actions run.

A word that is an action's ``{}`` becomes a token known only at run time (a file name), so
``find . -exec rm -rf {} +`` is ``rm -rf <file>``. Primaries that take a value are listed so a
value (``-name -exec``) is never read as an action.
"""

from __future__ import annotations

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
    inners: list[Inner] = []
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
            i = j + 1
            prev_takes_value = False
            continue
        prev_takes_value = t.value in FIND_VALUE_PRIMARIES or t.value.startswith("-newer")
        i += 1
    return Unwrapped(inners=inners, transparent=False)
