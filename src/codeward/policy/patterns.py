"""Command patterns from ``disallow_commands`` / ``allow_commands`` and how they match a command.

A pattern is a command prefix written as shell words: ``rm -rf``, ``git push --force``,
``npm test``. A ``|`` splits it into stages (``curl | bash``). Matching is token by token on the
words a program really receives (quotes removed), with these rules:

Program name
  Deny: the last path component is compared, case-insensitively, so ``/bin/rm``, ``./rm``,
  ``\\rm`` and ``RM`` all count as ``rm``; a version or dotted suffix is ignored (``python3.12``
  is ``python``, ``mkfs.ext4`` is ``mkfs``), and :data:`SAME_JOB` names programs that do a rule's
  job under another name (``mke2fs`` for ``mkfs``, ``doas`` for ``sudo``). Allow: exact; ``/usr/bin/rm`` (a system bin directory) counts as ``rm``, but
  ``./rm`` or ``/tmp/rm`` do not (they could be anything). A pattern written with a ``/`` must
  name the same path to allow.
Flags
  Single-letter flags are a set: ``-rf`` = ``-fr`` = ``-r -f`` = ``-rfv`` ⊇ ``-rf``. Long options
  map to their letter through :data:`LONG_TO_SHORT` (``--recursive`` is ``-r`` for ``rm``), and
  :data:`SHORT_ALIASES` folds same-meaning letters (``rm -R`` is ``rm -r``). For deny, a flag may
  appear anywhere before ``--`` (GNU tools accept ``rm x -rf``), an abbreviated long option counts
  for every option it could abbreviate (``--rec`` is ``--recursive``), and the table
  :data:`GENERIC_LONG` applies to every program. ``find`` and ``java`` use single-dash words
  (``-delete``) and compare them whole.
Words
  The pattern's other words must be the command's leading words, in order. For deny, a word right
  after an option may be that option's value and can be skipped (``git -C dir push --force``
  matches ``git push --force``). For allow, the match is a strict prefix: ``npm test`` allows
  ``npm test --watch`` but not ``npm --prefix x test``.
Unknown words
  A word only known at run time (``$X``, a glob) that the comparison reaches makes a deny match
  *possible* (the decision becomes "ask") and an allow match fail.
Pipes
  ``a | b`` matches when a command matching ``a`` feeds one matching ``b``: a later pipeline stage,
  ``b <(a)``, or ``b "$(a)"``. In a later stage a shell name stands for any shell (and ``source``,
  ``.``, ``eval``): ``curl | bash`` also matches ``curl -s u | sudo sh``.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from functools import lru_cache

from codeward.policy.shells import SHELLS
from codeward.policy.words import Tok


class PatternError(ValueError):
    """A pattern that cannot be used; the message says what to fix."""


class Match(IntEnum):
    NO = 0
    MAYBE = 1
    YES = 2


# long option -> the short letter with the same meaning, per program
LONG_TO_SHORT: dict[str, dict[str, str]] = {
    "rm": {"recursive": "r", "force": "f", "interactive": "i", "verbose": "v", "dir": "d"},
    "cp": {
        "recursive": "r",
        "force": "f",
        "interactive": "i",
        "verbose": "v",
        "archive": "a",
        "no-clobber": "n",
        "link": "l",
        "symbolic-link": "s",
        "update": "u",
        "dereference": "L",
        "no-dereference": "P",
    },
    "mv": {"force": "f", "interactive": "i", "no-clobber": "n", "verbose": "v", "update": "u"},
    "ln": {"symbolic": "s", "force": "f", "verbose": "v", "interactive": "i"},
    "chmod": {"recursive": "R", "verbose": "v", "changes": "c", "silent": "f", "quiet": "f"},
    "chown": {"recursive": "R", "verbose": "v", "changes": "c", "silent": "f", "quiet": "f", "dereference": "L"},
    "chgrp": {"recursive": "R", "verbose": "v", "changes": "c", "silent": "f", "quiet": "f"},
    "git": {
        "force": "f",
        "all": "a",
        "message": "m",
        "recursive": "r",
        "quiet": "q",
        "verbose": "v",
        "delete": "d",
        "dry-run": "n",
        "interactive": "i",
        "patch": "p",
        "set-upstream": "u",
    },
    "curl": {
        "output": "o",
        "remote-name": "O",
        "silent": "s",
        "show-error": "S",
        "location": "L",
        "insecure": "k",
        "fail": "f",
        "data": "d",
        "request": "X",
        "header": "H",
        "user": "u",
        "upload-file": "T",
        "form": "F",
    },
    "wget": {"output-document": "O", "quiet": "q", "no-verbose": "nv", "recursive": "r", "continue": "c"},
    "tar": {
        "extract": "x",
        "get": "x",
        "create": "c",
        "file": "f",
        "gzip": "z",
        "bzip2": "j",
        "xz": "J",
        "verbose": "v",
        "list": "t",
        "directory": "C",
    },
    "grep": {
        "recursive": "r",
        "ignore-case": "i",
        "invert-match": "v",
        "extended-regexp": "E",
        "fixed-strings": "F",
        "files-with-matches": "l",
        "line-number": "n",
        "count": "c",
        "quiet": "q",
        "silent": "q",
    },
    "ls": {"all": "a", "almost-all": "A", "recursive": "R", "human-readable": "h", "directory": "d"},
    "sed": {"in-place": "i", "expression": "e", "quiet": "n", "silent": "n", "regexp-extended": "E"},
    "shred": {"force": "f", "remove": "u", "zero": "z", "verbose": "v", "iterations": "n"},
    "kill": {"signal": "s"},
    "npm": {"global": "g", "force": "f", "yes": "y"},
    "pip": {"upgrade": "U", "requirement": "r", "editable": "e", "user": "user"},
    "docker": {"force": "f", "interactive": "i", "tty": "t", "detach": "d", "volume": "v"},
    "mkdir": {"parents": "p", "verbose": "v", "mode": "m"},
    "rsync": {"archive": "a", "verbose": "v", "recursive": "r", "compress": "z", "dry-run": "n"},
}
LONG_TO_SHORT["pip3"] = LONG_TO_SHORT["pip"]

# same-meaning short letters, per program
SHORT_ALIASES: dict[str, dict[str, str]] = {
    "rm": {"R": "r"},
    "cp": {"R": "r"},
}

# for deny matching only: a long option any program is likely to give this meaning
GENERIC_LONG: dict[str, str] = {"force": "f", "recursive": "r", "verbose": "v", "quiet": "q"}

# programs whose options are single-dash words (-delete, -jar): compared whole, not as letters
WORD_OPTION_PROGRAMS = frozenset({"find", "java"})

SYSTEM_BIN_DIRS = frozenset({"/bin", "/usr/bin", "/usr/local/bin", "/sbin", "/usr/sbin", "/usr/local/sbin"})

# in a later stage of a "|" pattern, any of these stands for any other
SHELL_LIKE = SHELLS | {"source", ".", "eval"}

# deny: programs that do the rule's job under another name (a filesystem maker, a root shell)
SAME_JOB: dict[str, frozenset[str]] = {
    "mkfs": frozenset({"mke2fs", "mkdosfs", "mkntfs", "mkexfatfs"}),
    "sudo": frozenset({"doas", "pkexec", "run0", "su", "runuser"}),
    "dd": frozenset({"dcfldd", "dc3dd"}),
    "chmod": frozenset({"setfacl", "chacl"}),  # an ACL entry for "other" sets the mode's other bits
}

# deny: "python" also names python3.12, "mkfs" also mkfs.ext4
_VARIANT_SUFFIX = re.compile(r"-?[0-9][0-9.]*|\.[A-Za-z0-9_+-]+")


@dataclass(frozen=True)
class StagePattern:
    name: str
    tokens: tuple[str, ...]

    @property
    def is_path(self) -> bool:
        return "/" in self.name

    @property
    def base(self) -> str:
        return _base_of(self.name)


@lru_cache(maxsize=4096)
def _base_of(name: str) -> str:
    return name.rstrip("/").rsplit("/", 1)[-1]


@lru_cache(maxsize=4096)
def _folded_base(name: str) -> str:
    return _base_of(name).casefold()


@dataclass(frozen=True)
class CommandPattern:
    text: str
    stages: tuple[StagePattern, ...]


@lru_cache(maxsize=4096)
def compile_pattern(text: str) -> CommandPattern:
    """Parse a pattern; raise PatternError with what is wrong and how to write it."""
    if not isinstance(text, str):
        raise PatternError("a pattern must be a string")
    if not text.strip():
        raise PatternError("empty pattern; write a command prefix such as 'rm -rf'")
    lex = shlex.shlex(text, posix=True, punctuation_chars="|&;<>()")
    lex.whitespace_split = True
    lex.commenters = ""
    try:
        words = list(lex)
    except ValueError as e:
        raise PatternError(f"cannot split it into words ({e}); check its quotes") from None
    stages: list[list[str]] = [[]]
    for w in words:
        if w == "|":
            stages.append([])
        elif w and set(w) <= set("|&;<>()"):
            raise PatternError(f"'{w}' is not supported in a pattern; only '|' may join two commands")
        else:
            stages[-1].append(w)
    if any(not s for s in stages):
        raise PatternError("a '|' needs a command on both sides, like 'curl | bash'")
    out = []
    for s in stages:
        name = s[0]
        if name.startswith("-"):
            raise PatternError(f"it starts with the option '{name}'; a pattern starts with the program name")
        out.append(StagePattern(name=name, tokens=tuple(s[1:])))
    return CommandPattern(text=text, stages=tuple(out))


# ------------------------------------------------------------------------------------------------
# names


def base_name(program: str) -> str:
    return program.rstrip("/").rsplit("/", 1)[-1] if "/" in program.rstrip("/") else program


def name_matches_deny(sp: StagePattern, program: str, *, receiver: bool = False) -> bool:
    return base_matches_deny(sp, base_name(program).casefold(), receiver=receiver)


def base_matches_deny(sp: StagePattern, got: str, *, receiver: bool = False) -> bool:
    """Deny-side name rule on an already case-folded base name (see the module docstring)."""
    want = _folded_base(sp.name)
    if got == want:
        return True
    if receiver and sp.base in SHELL_LIKE and got in SHELL_LIKE:
        return True
    if got in SAME_JOB.get(want, ()):
        return True
    if got.startswith(want):
        return bool(_VARIANT_SUFFIX.fullmatch(got[len(want) :]))
    return False


def name_matches_allow(sp: StagePattern, program: str) -> bool:
    if sp.is_path:
        return _norm_path(program) == _norm_path(sp.name)
    if "/" not in program:
        return program == sp.name
    d, _, b = program.rpartition("/")
    return b == sp.name and posixpath.normpath(d or "/") in SYSTEM_BIN_DIRS


def _norm_path(p: str) -> str:
    n = posixpath.normpath(p)
    return n[2:] if n.startswith("./") else n


# ------------------------------------------------------------------------------------------------
# flags


def is_flag(value: str) -> bool:
    return value.startswith("-") and value not in ("-", "--")


def flag_ids(value: str, program: str, *, lenient: bool) -> set[str]:
    """The normalized meanings of one option word (``-rf`` -> {-r, -f}; ``--force`` -> {-f})."""
    if program in WORD_OPTION_PROGRAMS and not value.startswith("--"):
        return {value.split("=", 1)[0]}
    if value.startswith("--"):
        name = value[2:].split("=", 1)[0]
        table = LONG_TO_SHORT.get(program, {})
        if lenient:
            merged = {**GENERIC_LONG, **table}
            ids = {"--" + name}
            for long, short in merged.items():
                if long.startswith(name) and name:
                    ids.add("-" + short)
            return ids
        if name in table:
            return {"-" + table[name]}
        return {"--" + name}
    aliases = SHORT_ALIASES.get(program, {})
    return {"-" + aliases.get(c, c) for c in value[1:]}


@dataclass(frozen=True)
class _Item:
    word: str | None = None
    flags: frozenset[str] | None = None
    end_of_options: bool = False


@lru_cache(maxsize=8192)
def _pattern_items(tokens: tuple[str, ...], program: str, lenient: bool) -> tuple[_Item, ...]:
    items: list[_Item] = []
    ended = False
    for t in tokens:
        if not ended and t == "--":
            ended = True
            items.append(_Item(end_of_options=True))
        elif not ended and is_flag(t):
            ids = frozenset(flag_ids(t, program, lenient=False))
            if lenient:
                ids = frozenset(_pattern_flag_lenient(t, program))
            if items and items[-1].flags is not None:
                items[-1] = _Item(flags=items[-1].flags | ids)
            else:
                items.append(_Item(flags=ids))
        else:
            items.append(_Item(word=t))
    return tuple(items)


def _pattern_flag_lenient(value: str, program: str) -> set[str]:
    """A pattern's own option under deny rules: long names map through the generic table too."""
    if program in WORD_OPTION_PROGRAMS and not value.startswith("--"):
        return {value.split("=", 1)[0]}
    if value.startswith("--"):
        name = value[2:].split("=", 1)[0]
        merged = {**GENERIC_LONG, **LONG_TO_SHORT.get(program, {})}
        return {"-" + merged[name]} if name in merged else {"--" + name}
    return flag_ids(value, program, lenient=False)


# ------------------------------------------------------------------------------------------------
# one stage against one command


def match_deny(sp: StagePattern, argv: Sequence[Tok], *, receiver: bool = False, name_checked: bool = False) -> Match:
    """Could the command ``argv`` be what the stage pattern describes? YES, MAYBE or NO."""
    if not argv or argv[0].value is None:
        return Match.NO  # an unknown program is reported by the analysis itself
    if not name_checked and not name_matches_deny(sp, argv[0].value, receiver=receiver):
        return Match.NO
    program = sp.base
    items = _pattern_items(sp.tokens, program, True)
    want_flags: set[str] = set()
    want_words: list[str] = []
    for it in items:
        if it.flags is not None:
            want_flags |= it.flags
        elif it.word is not None:
            want_words.append(it.word)

    have: set[str] = set()
    have_long: list[str] = []
    unknown_flags = False
    words: list[tuple[Tok, bool]] = []  # (token, may be the value of the option before it)
    ended = False
    after_option = False
    for t in argv[1:]:
        if t.value is None:
            words.append((t, after_option))
            if not ended and t.maybe_flag:
                unknown_flags = True
                after_option = True
            else:
                after_option = False
            continue
        v = t.value
        if not ended and v == "--":
            ended = True
            after_option = False
            continue
        if not ended and is_flag(v):
            have |= flag_ids(v, program, lenient=True)
            if v.startswith("--"):
                have_long.append(v[2:].split("=", 1)[0])
            after_option = "=" not in v
            continue
        words.append((t, after_option))
        after_option = False

    flags_result = Match.YES
    for f in want_flags:
        if f in have:
            continue
        if f.startswith("--") and any(f[2:].startswith(x) for x in have_long if x):
            continue
        flags_result = Match.MAYBE if unknown_flags else Match.NO
        if flags_result is Match.NO:
            return Match.NO
    words_result = _words_deny(want_words, words)
    return Match(min(flags_result, words_result))


def _words_deny(want: list[str], words: list[tuple[Tok, bool]]) -> Match:
    """Best match of the pattern's words against the command's words (see the module docstring).

    ``best[i][j]`` is the best result for ``want[i:]`` against ``words[j:]``, filled from the end so
    that no input, however long, recurses.
    """
    n, m = len(want), len(words)
    best = [[Match.NO] * (m + 1) for _ in range(n + 1)]
    for j in range(m + 1):
        best[n][j] = Match.YES
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            tok, skippable = words[j]
            if tok.value is None and tok.split:
                best[i][j] = Match.MAYBE  # could be zero, one or several words
                continue
            r = Match.NO
            if tok.value is None:
                if want[i].startswith(tok.prefix):
                    r = Match(min(Match.MAYBE, best[i + 1][j + 1]))
            elif tok.value == want[i]:
                r = best[i + 1][j + 1]
            if r is not Match.YES and skippable:
                r = max(r, best[i][j + 1])  # an option's value: skip it
            best[i][j] = r
    return best[0][0]


def match_allow(sp: StagePattern, argv: Sequence[Tok]) -> bool:
    """Is the command ``argv`` within the allowed prefix ``sp``? Strict: unknown words never match."""
    if not argv or argv[0].value is None or not name_matches_allow(sp, argv[0].value):
        return False
    program = sp.base
    items = _pattern_items(sp.tokens, program, False)
    toks = argv[1:]
    j = 0
    ended = False
    for k, it in enumerate(items):
        last = k == len(items) - 1
        if it.end_of_options:
            if j >= len(toks) or toks[j].value != "--":
                return False
            ended = True
            j += 1
        elif it.word is not None:
            if j >= len(toks) or toks[j].value != it.word:
                return False
            if not ended and is_flag(it.word):
                return False
            j += 1
        else:
            assert it.flags is not None
            run: set[str] = set()
            while j < len(toks) and toks[j].value is not None and is_flag(toks[j].value or "") and not ended:
                run |= flag_ids(toks[j].value or "", program, lenient=False)
                j += 1
            if not it.flags <= run or (not last and run != it.flags):
                return False
    return True
