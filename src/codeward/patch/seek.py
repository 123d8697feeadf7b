"""Find a hunk's lines in a file, from the strictest comparison to the most forgiving.

Models copy context lines imperfectly: trailing spaces get lost, indentation changes from tabs to
spaces, and typographic punctuation (en dashes, curly quotes, non-breaking spaces) comes back as
ASCII or the other way round. Like Codex, the search runs in passes and the first pass that finds
the whole sequence wins: exact, then ignoring trailing whitespace, then ignoring leading and
trailing whitespace, then with Unicode punctuation folded to ASCII as well. Within a pass the
earliest position at or after ``start`` wins, so an exact match is always preferred to a fuzzy one
anywhere else in the file.

Fuzzy matching only decides *where* a hunk applies; the planner keeps the file's own text for context
lines, so a fuzzy match never rewrites lines the patch did not mean to change.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

# Typographic characters folded to their ASCII look-alikes in the last pass.
_FOLD: dict[int, str] = {}
for _cp in (0x2010, 0x2011, 0x2012, 0x2013, 0x2014, 0x2015, 0x2212, 0xFE58, 0xFE63, 0xFF0D):
    _FOLD[_cp] = "-"  # hyphens, figure/en/em dashes, horizontal bar, minus sign
for _cp in (0x2018, 0x2019, 0x201A, 0x201B, 0x2032, 0xFF07):
    _FOLD[_cp] = "'"  # single curly quotes, prime
for _cp in (0x201C, 0x201D, 0x201E, 0x201F, 0x2033, 0x00AB, 0x00BB, 0xFF02):
    _FOLD[_cp] = '"'  # double curly quotes, double prime, guillemets
for _cp in (0x00A0, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200A, 0x202F, 0x205F, 0x3000):
    _FOLD[_cp] = " "  # non-breaking and fixed-width spaces
_FOLD[0x2026] = "..."  # horizontal ellipsis


def fold_punctuation(text: str) -> str:
    """``text`` with typographic dashes, quotes and spaces replaced by ASCII, then stripped."""
    return text.translate(_FOLD).strip()


def _exact(text: str) -> str:
    return text


def _rstrip(text: str) -> str:
    return text.rstrip()


def _strip(text: str) -> str:
    return text.strip()


class Pass(NamedTuple):
    """One comparison: its name (for messages) and the key function applied to both sides."""

    name: str
    key: Callable[[str], str]


PASSES: tuple[Pass, ...] = (
    Pass("exact", _exact),
    Pass("ignoring trailing whitespace", _rstrip),
    Pass("ignoring leading and trailing whitespace", _strip),
    Pass("with Unicode punctuation normalised", fold_punctuation),
)


class Match(NamedTuple):
    """Where a sequence was found (0-based line index) and by which pass."""

    line_index: int
    pass_name: str


class LineIndex:
    """A file's lines, with each pass's keys computed once, when first needed.

    All hunks of one file operation are searched against the same original lines, so the keys are
    shared by every search for that file.
    """

    def __init__(self, lines: Sequence[str]) -> None:
        self.lines = lines
        self._keys: dict[str, list[str]] = {}

    def __len__(self) -> int:
        return len(self.lines)

    def keys_folded(self) -> list[str]:
        """The keys of the most forgiving pass (for "did you mean" hints)."""
        return self.keys(PASSES[-1])

    def keys(self, p: Pass) -> list[str]:
        keys = self._keys.get(p.name)
        if keys is None:
            keys = [p.key(line) for line in self.lines] if p.key is not _exact else list(self.lines)
            self._keys[p.name] = keys
        return keys


def find_sequence(index: LineIndex, pattern: Sequence[str], start: int, *, at_end: bool = False) -> Match | None:
    """The first position at or after ``start`` where ``pattern`` occurs, trying each pass in turn.

    With ``at_end`` the sequence must be the last lines of the file (the ``*** End of File``
    anchor). An empty pattern matches at ``start`` (at the end with ``at_end``).
    """
    n, m = len(index), len(pattern)
    if m == 0:
        return Match(n if at_end else min(start, n), PASSES[0].name)
    if m > n - start:
        return None
    for p in PASSES:
        keys = index.keys(p)
        pat = list(pattern) if p.key is _exact else [p.key(x) for x in pattern]
        if at_end:
            if keys[n - m :] == pat:
                return Match(n - m, p.name)
            continue
        first = pat[0]
        for i in range(start, n - m + 1):
            if keys[i] == first and keys[i : i + m] == pat:
                return Match(i, p.name)
    return None


def find_line(index: LineIndex, text: str, start: int) -> Match | None:
    """The first line at or after ``start`` matching ``text`` (an ``@@ header`` anchor), by pass.

    The whole line must match: a prefix match would let ``@@ def load`` anchor on ``def loader()``
    and put the edit in the wrong function.
    """
    return find_sequence(index, [text], start)
