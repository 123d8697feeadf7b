"""When ripgrep's verdict on the raw bytes is enough: a proof from the pattern's shape.

The grep tool must answer from the redacted text only. Redaction replaces spans of a file (secret
values, in whatever encoding the session knows them) with placeholders ``<secret:RULE:h8>`` and
changes nothing else. So every line of the redacted text is made of *segments* copied from the raw
text with placeholders between them. A match in the redacted text that lies inside one segment is
also a match in the raw text, unless the pattern looks at what borders it (``\\b``, ``\\B``,
anchors away from the ends). A match that is not inside one segment touches a placeholder: it
contains ``<`` or ``>``, or lies inside ``secret:RULE:`` or the hex digits after it.

:func:`raw_verdict_suffices` proves, from the parsed pattern, that none of that can happen: every
character the pattern can match is ASCII and not ``<``, ``>`` or ``:``, there is no negation, no
``.``, no case folding and no assertion except a leading ``^`` / trailing ``$``; the pattern cannot
match a string of hex digits alone; and it finds nothing in any ``secret:RULE:`` this session can
produce. Then "redacted text matches" implies "raw text matches", ripgrep's list of raw matches
holds every file that can match, and no workspace walk or secret census is needed: the answer still
depends only on the redacted text (each listed file is redacted before it is matched). When the
proof does not go through (or the pattern uses syntax the parser here and RE2 may read
differently), the caller takes the slow path, which knows every file holding a secret.

Ripgrep must then find at least what RE2 finds on a line of the decoded text: on this subset
(ASCII literals and positive classes, ``\\d \\w \\s`` which ripgrep reads as Unicode supersets) it
does, given ``--text`` (no binary cut-off) and ``--encoding none`` (no transcoding); RE2's lines
(``str.splitlines``) are never longer than ripgrep's (``\\n``), and the only anchors, at the
pattern's ends, are dropped from ripgrep's copy, which therefore matches a superset.
"""

from __future__ import annotations

import re._constants as sre  # type: ignore[import-not-found]  # no stubs for the parser's home
import re._parser as sre_parse  # type: ignore[import-not-found]
from collections.abc import Iterable
from typing import Any

HEX = frozenset(map(ord, "0123456789abcdef"))
FORBIDDEN = frozenset(map(ord, "<>:"))
_CATEGORY_CHARS = {
    sre.CATEGORY_DIGIT: frozenset(range(ord("0"), ord("9") + 1)),
    sre.CATEGORY_WORD: frozenset(
        [*range(ord("0"), ord("9") + 1), *range(ord("A"), ord("Z") + 1), *range(ord("a"), ord("z") + 1), ord("_")]
    ),
    sre.CATEGORY_SPACE: frozenset(map(ord, " \t\n\r\f\v")),
}
# RE2 syntax that Python's parser reads differently (``a{,3}`` is literal in RE2, ``[[:alpha:]]``
# a POSIX class) or that neither side should be trusted with here
_DOUBTFUL = ("{,", "[:", "\\Q", "\\E", "\\p", "\\P", "\\C", "\\x{", "\\z", "\\A", "\\Z")


class _Doubt(Exception):
    """The proof does not go through: search the slow way."""


def raw_verdict_suffices(pattern: str, regex: Any, rule_names: Iterable[str]) -> str | None:
    """The pattern to give ripgrep when its raw-byte verdict lists every file whose redacted text
    can match (``regex`` is the RE2-compiled ``pattern``; ``rule_names`` the placeholder rule part of
    every rule this session can redact with); None when in doubt."""
    if not pattern.isascii() or any(d in pattern for d in _DOUBTFUL):
        return None
    try:
        tree = sre_parse.parse(pattern)
    except Exception:  # re.error, RecursionError, OverflowError: not provable here
        return None
    if tree.state.flags & (sre.SRE_FLAG_IGNORECASE | sre.SRE_FLAG_VERBOSE):
        return None
    items = list(tree)
    rg_pattern = pattern
    if items and items[0] == (sre.AT, sre.AT_BEGINNING) and pattern.startswith("^"):
        items, rg_pattern = items[1:], rg_pattern[1:]
    if items and items[-1] == (sre.AT, sre.AT_END) and _ends_with_anchor(rg_pattern):
        items, rg_pattern = items[:-1], rg_pattern[:-1]
    try:
        _, hex_only = _seq(items)
    except _Doubt:
        return None
    if hex_only:
        return None  # it could match inside a placeholder's hash
    for rule in rule_names:
        if regex.search(f"secret:{rule}:") is not None:
            return None  # it could match inside a placeholder's rule name
    return rg_pattern or None


def _ends_with_anchor(pattern: str) -> bool:
    """True when the final ``$`` is not escaped (an even number of backslashes before it)."""
    if not pattern.endswith("$"):
        return False
    body = pattern[:-1]
    return (len(body) - len(body.rstrip("\\"))) % 2 == 0


def _seq(items: Iterable[tuple[Any, Any]]) -> tuple[bool, bool]:
    """(can match the empty string, can match a non-empty string of lowercase hex digits)."""
    empty, hex_parts, all_hexable = True, False, True
    for op, av in items:
        e, h = _node(op, av)
        empty = empty and e
        hex_parts = hex_parts or h
        all_hexable = all_hexable and (e or h)
    return empty, hex_parts and all_hexable


def _node(op: Any, av: Any) -> tuple[bool, bool]:
    if op is sre.LITERAL:
        _chars({av})
        return False, av in HEX
    if op is sre.IN:
        chars: set[int] = set()
        for iop, iav in av:
            if iop is sre.LITERAL:
                chars.add(iav)
            elif iop is sre.RANGE:
                lo, hi = iav
                chars.update(range(lo, hi + 1))
            elif iop is sre.CATEGORY and iav in _CATEGORY_CHARS:
                chars.update(_CATEGORY_CHARS[iav])
            else:
                raise _Doubt  # negation or a negated category
        return False, bool(_chars(chars) & HEX)
    if op is sre.BRANCH:
        results = [_seq(alt) for alt in av[1]]
        return any(e for e, _ in results), any(h for _, h in results)
    if op is sre.SUBPATTERN:
        _group, add_flags, _del_flags, sub = av
        if add_flags & (sre.SRE_FLAG_IGNORECASE | sre.SRE_FLAG_VERBOSE):
            raise _Doubt
        return _seq(sub)
    if op in (sre.MAX_REPEAT, sre.MIN_REPEAT):
        lo, hi, sub = av
        if hi == 0:
            return True, False
        e, h = _seq(sub)
        return lo == 0 or e, h
    raise _Doubt  # ANY, NOT_LITERAL, assertions, anchors inside, backreferences, atomic groups


def _chars(chars: set[int]) -> set[int]:
    """``chars`` after checking each is ASCII and cannot touch a placeholder."""
    if any(c > 127 for c in chars) or chars & FORBIDDEN:
        raise _Doubt
    return chars
