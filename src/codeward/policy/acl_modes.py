"""``setfacl`` and ``chacl`` read as the permissions they grant to everyone (security review, issue 12).

``setfacl -m o::rwx f`` leaves ``f`` readable, writable and executable by every user, which is
what a ``chmod 777`` rule forbids; the ACL's ``other`` entry is the mode's "other" bits. This
module reads the ACL texts of ``-m`` / ``--modify`` / ``--set`` (default entries included, as they
reach every file created below) and says which "other" bits they surely or possibly grant. ACLs
read from a file (``-M``, ``--set-file``, ``--restore``) or only known at run time may grant
anything. Removals (``-x``, ``-b``, ``-k``) grant nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from codeward.policy.chmod_modes import ModeEffect
from codeward.policy.words import Tok

_ANYTHING = ModeEffect(sure=0, possible=0o007)
_PERM_BITS = {"r": 4, "w": 2, "x": 1, "-": 0}
# long options whose value is an ACL text, and those whose value is a file of ACLs
_ACL_LONG = ("modify", "set")
_FILE_LONG = ("modify-file", "set-file", "restore")


def chacl_other(argv: Sequence[Tok]) -> ModeEffect:
    """The same for ``chacl ACL FILE…`` (IRIX-style tool of the acl package): its words that are
    not options are ACL texts or file names, and only an ``o::``/``other::`` entry grants others."""
    sure = possible = 0
    for t in argv[1:]:
        v = t.value
        if v is None:
            return _ANYTHING
        if v.startswith("-"):
            continue
        got = _other_bits(v)
        if got is None:
            return _ANYTHING
        sure |= got.sure
        possible |= got.possible
    return ModeEffect(sure, possible)


def setfacl_other(argv: Sequence[Tok]) -> ModeEffect:
    """The "other" permission bits (0o007) a ``setfacl`` command surely / possibly grants."""
    sure = possible = 0
    i = 1
    while i < len(argv):
        t = argv[i]
        v = t.value
        i += 1
        if v is None:
            if t.maybe_flag:
                return _ANYTHING
            continue  # a file name known at run time (./$F); options may follow it
        if v == "--":
            break
        acl: Tok | None = None
        value_tok: Tok | None
        if v.startswith("--"):
            name, eq, value = v[2:].partition("=")
            kind = _long_kind(name)
            if kind is None:
                continue
            if not eq:
                if i >= len(argv):
                    break
                value_tok = argv[i]
                i += 1
            else:
                value_tok = Tok.lit(value)
            if kind == "file":
                return _ANYTHING
            acl = value_tok
        elif v.startswith("-") and len(v) > 1:
            for k in range(1, len(v)):
                letter = v[k]
                if letter in "mMxX":
                    rest = v[k + 1 :]
                    value_tok = Tok.lit(rest) if rest else (argv[i] if i < len(argv) else None)
                    if not rest:
                        i += 1
                    if letter == "M":
                        return _ANYTHING
                    if letter == "m":
                        acl = value_tok
                    break
        if acl is None:
            continue
        if acl.value is None:
            return _ANYTHING
        got = _other_bits(acl.value)
        if got is None:
            return _ANYTHING
        sure |= got.sure
        possible |= got.possible
    return ModeEffect(sure, possible)


def _long_kind(name: str) -> str | None:
    """``acl`` / ``file`` for an option (any unambiguous prefix) that carries ACLs, else None."""
    if len(name) < 2:
        return None
    acl = [n for n in _ACL_LONG if n.startswith(name)]
    files = [n for n in _FILE_LONG if n.startswith(name)]
    if name in _ACL_LONG:
        return "acl"
    if files and not acl:
        return "file"
    if acl and not files:
        return "acl"
    if acl or files:
        return "file"  # ambiguous (setfacl refuses it); read as the wider one
    return None


def _other_bits(text: str) -> ModeEffect | None:
    """The "other" bits an ACL text grants; None when an entry cannot be read."""
    sure = possible = 0
    for entry in text.replace("\n", ",").split(","):
        entry = entry.strip()
        if not entry or entry.startswith("#"):
            continue
        fields = entry.split(":")
        if fields[0] in ("d", "default"):
            fields = fields[1:]
        if not fields or fields[0] not in ("o", "other"):
            continue
        perms = fields[-1].strip()
        if perms.isdigit():
            if len(perms) != 1 or perms > "7":
                return None
            sure |= int(perms)
            possible |= int(perms)
            continue
        for c in perms:
            if c == "X":
                possible |= 1  # x only for directories and files already executable by someone
            elif c in _PERM_BITS:
                sure |= _PERM_BITS[c]
                possible |= _PERM_BITS[c]
            else:
                return None
    return ModeEffect(sure, possible)
