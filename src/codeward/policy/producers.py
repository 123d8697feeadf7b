"""What ``echo``, ``printf`` and ``cat`` print, when the script alone says so.

``echo 'rm -rf /' | sh`` and ``cat <<EOF | bash`` feed a shell a script written in plain sight; the
engine reads that script instead of giving up. Anything less certain (``printf`` formats beyond
``%s``, ``echo -e`` escapes, a file) returns None, and the shell reading it cannot be checked.
"""

from __future__ import annotations

from collections.abc import Sequence

from codeward.policy.analysis_model import Stdin
from codeward.policy.patterns import base_name
from codeward.policy.words import Tok


def static_output(argv: Sequence[Tok], stdin: Stdin) -> str | None:
    """What ``echo``/``printf``/``cat`` print, when the script alone says so (for ``… | sh``)."""
    if not argv or any(t.value is None for t in argv):
        return None
    vals = [t.value or "" for t in argv]
    base = base_name(vals[0])
    if base == "echo":
        i = 1
        newline = True
        escapes = False
        while i < len(vals) and len(vals[i]) > 1 and vals[i][0] == "-" and set(vals[i][1:]) <= set("neE"):
            newline = newline and "n" not in vals[i]
            if "e" in vals[i]:
                escapes = True
            if "E" in vals[i]:
                escapes = False
            i += 1
        text = " ".join(vals[i:])
        if escapes and "\\" in text:
            return None
        return text + ("\n" if newline else "")
    if base == "printf" and len(vals) >= 2:
        fmt = _printf_escapes(vals[1])
        if fmt is None:
            return None
        args = vals[2:]
        rest = fmt.replace("%%", "")
        if "%" in rest:
            if rest.count("%") != rest.count("%s"):
                return None
            if not args:
                return fmt.replace("%s", "").replace("%%", "%")
            per = fmt.count("%s") - fmt.count("%%s")
            out = []
            for k in range(0, len(args), max(per, 1)):
                chunk = args[k : k + per] + [""] * max(0, per - len(args[k : k + per]))
                piece = fmt
                for a in chunk:
                    piece = piece.replace("%s", a, 1)
                out.append(piece.replace("%%", "%"))
            return "".join(out)
        return fmt.replace("%%", "%")
    if base == "cat" and all(v == "-" for v in vals[1:]) and stdin.kind == "text" and not stdin.holes:
        return stdin.text
    return None


def _printf_escapes(fmt: str) -> str | None:
    out: list[str] = []
    i = 0
    table = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'", "r": "\r"}
    while i < len(fmt):
        c = fmt[i]
        if c == "\\":
            if i + 1 < len(fmt) and fmt[i + 1] in table:
                out.append(table[fmt[i + 1]])
                i += 2
                continue
            return None
        out.append(c)
        i += 1
    return "".join(out)
