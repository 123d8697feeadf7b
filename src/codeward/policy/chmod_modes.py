"""chmod modes by the permissions they set: ``777`` = ``0777`` = ``a+rwx`` = ``u=rwx,g=rwx,o=rwx``.

A disallow rule ``chmod 777`` means "a command that leaves files readable, writable and executable
by everyone". :func:`mode_effect` reads a mode the way GNU chmod does (octal of any length, or
symbolic clauses ``[ugoa]*([-+=]([rwxXst]*|[ugo]|[0-7]+))+`` separated by commas) and says, for each
of the 12 permission bits, whether the mode surely sets it, may set it (it depends on the umask,
on ``X`` meeting a directory, or on bits copied from elsewhere), or leaves it as it was.

A command matches a rule's mode when it surely sets every bit the rule's mode sets (``1777`` sets
all of ``777``); it may match when those bits are only possibly set (``chmod +rwx`` under an
unknown umask). A mode that cannot be read at all (``--reference=FILE``, a run-time value) may set
anything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SET, CLEAR, ORIG, MAYBE = "set", "clear", "orig", "maybe"

_WHO = {"u": 0o4700, "g": 0o2070, "o": 0o1007}
_PERM = {"r": 0o444, "w": 0o222, "x": 0o111, "s": 0o6000, "t": 0o1000}
_CLAUSE = re.compile(r"([ugoa]*)((?:[-+=](?:[ugo]|[0-7]+|[rwxXst]*))+)$")
_ACTION = re.compile(r"([-+=])([ugo]|[0-7]+|[rwxXst]*)")
_BITS = [1 << i for i in range(12)]


@dataclass(frozen=True)
class ModeEffect:
    """The bits a mode surely sets, and the bits it may set."""

    sure: int
    possible: int


def _who_mask(who: str) -> int:
    if not who or "a" in who:
        return 0o7777
    mask = 0
    for w in who:
        mask |= _WHO[w]
    return mask


def _state_bits(state: dict[int, str], *kinds: str) -> int:
    return sum(b for b in _BITS if state[b] in kinds)


def mode_effect(mode: str) -> ModeEffect | None:
    """What ``chmod MODE`` does to the permission bits; None when it is not a mode chmod accepts."""
    if not mode:
        return None
    if all(c in "01234567" for c in mode):
        value = int(mode, 8)
        if value > 0o7777:
            return None
        return ModeEffect(sure=value, possible=value)
    state = dict.fromkeys(_BITS, ORIG)
    for clause in mode.split(","):
        m = _CLAUSE.match(clause)
        if m is None:
            return None
        who, actions = m.group(1), m.group(2)
        mask = _who_mask(who)
        for op, perms in _ACTION.findall(actions):
            _apply(state, op, perms, mask, umask_applies=not who)
    return ModeEffect(sure=_state_bits(state, SET), possible=_state_bits(state, SET, MAYBE))


def _apply(state: dict[int, str], op: str, perms: str, mask: int, *, umask_applies: bool) -> None:
    """One ``op perms`` action on the bits in ``mask``; without a ``who`` the umask may hold bits back."""
    if perms in ("u", "g", "o"):
        _copy(state, op, {"u": 6, "g": 3, "o": 0}[perms], mask)
        return
    bits = 0
    maybe_bits = 0
    if perms and perms[0] in "01234567":
        bits = int(perms, 8) & 0o7777
        umask_applies = False  # GNU chmod applies no umask to octal digits after an operator
    else:
        for c in perms:
            if c == "X":
                maybe_bits |= 0o111  # directories, or files already executable by someone
            else:
                bits |= _PERM[c]
    bits &= mask
    maybe_bits &= mask
    for b in _BITS:
        old = state[b]
        if op == "+":
            if b & bits:
                state[b] = MAYBE if umask_applies and old != SET else SET
            elif b & maybe_bits and old != SET:
                state[b] = MAYBE
        elif op == "-":
            if b & (bits | maybe_bits):
                state[b] = (MAYBE if old == SET else old) if umask_applies else CLEAR
        elif b & mask and (b & 0o777 or b & (bits | maybe_bits)):  # "=": the class's bits are replaced
            if b & bits:
                state[b] = MAYBE if umask_applies else SET
            elif b & maybe_bits:
                state[b] = MAYBE
            else:
                state[b] = CLEAR


def _copy(state: dict[int, str], op: str, shift: int, mask: int) -> None:
    """``g=u``, ``o+g``: the source class's bits, in whatever state they are, go to each target class."""
    source = [state[1 << (shift + k)] for k in range(3)]
    for tshift, cls in ((6, "u"), (3, "g"), (0, "o")):
        if not mask & _WHO[cls] & 0o777:
            continue
        for k in range(3):
            b, s = 1 << (tshift + k), source[k]
            old = state[b]
            if op == "=":
                state[b] = s
            elif op == "+":
                if SET in (old, s):
                    state[b] = SET
                elif MAYBE in (old, s):
                    state[b] = MAYBE
                elif s == ORIG:
                    state[b] = ORIG
            elif s == SET:
                state[b] = CLEAR
            elif s in (MAYBE, ORIG) and old == SET:
                state[b] = MAYBE


def covers(effect: ModeEffect | None, wanted: int) -> str:
    """``yes`` when the mode surely sets every bit of ``wanted``, ``maybe`` when it could, else ``no``."""
    if effect is None:
        return "maybe"
    if effect.sure & wanted == wanted:
        return "yes"
    if effect.possible & wanted == wanted:
        return "maybe"
    return "no"


# chmod's own options (GNU coreutils); a dash word made of mode characters is a mode (``chmod -w``)
CHMOD_FLAGS = frozenset(
    {"-R", "-v", "-c", "-f", "--recursive", "--verbose", "--changes", "--silent", "--quiet"}
    | {"--preserve-root", "--no-preserve-root", "--help", "--version", "--dereference", "--no-dereference"}
    | {"-H", "-L", "-P"}
)
_DASH_MODE = re.compile(r"-[rwxXstugoa,+=\-0-7]+$")


def is_dash_mode(word: str) -> bool:
    """``-w``, ``-rwx``, ``-w,a+rwx``: GNU chmod reads these as a mode, not as options."""
    return bool(_DASH_MODE.match(word)) and mode_effect(word) is not None
