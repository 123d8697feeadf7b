"""Which words of a command are code for an interpreter, and in which language (issue 12).

``python3 -c CODE``, ``perl -e CODE``, ``ruby -e``, ``node -e`` / ``--eval`` / ``-p``, ``php -r``,
``lua -e``, ``Rscript -e``, ``osascript -e``, an awk program, a sed script, tar's
``--checkpoint-action=exec=`` / ``--to-command`` / ``-I``, gdb's ``-ex``, vim's ``-c`` / ``+cmd`` /
``--cmd``, a makefile make reads from stdin or ``--eval``: :func:`pieces` finds them in an argv; :func:`read_piece` hands each to its reader. An
interpreter given no script (``python3 - <<EOF``, ``… | perl``) reads its code from standard input;
the analysis reads that text when the script says what it is.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from codeward.policy.inline_found import Found
from codeward.policy.inline_make import make_sources, read_make
from codeward.policy.inline_python import read_python
from codeward.policy.inline_scripts import read_script
from codeward.policy.inline_tools import read_gdb, read_sed, read_vim
from codeward.policy.words import Tok

LANGUAGES: dict[str, str] = {
    "python": "python",
    "pypy": "python",
    "perl": "perl",
    "ruby": "ruby",
    "node": "node",
    "nodejs": "node",
    "bun": "node",
    "deno": "node",
    "php": "php",
    "lua": "lua",
    "luajit": "lua",
    "rscript": "r",
    "osascript": "applescript",
    "awk": "awk",
    "gawk": "awk",
    "mawk": "awk",
    "nawk": "awk",
    "sed": "sed",
    "gsed": "sed",
    "tar": "tar",
    "gtar": "tar",
    "bsdtar": "tar",
    "gdb": "gdb",
    "vim": "vim",
    "vi": "vim",
    "nvim": "vim",
    "ex": "vim",
    "view": "vim",
    "vimdiff": "vim",
    "gvim": "vim",
    "evim": "vim",
    "make": "make",
    "gmake": "make",
}


def language_of(base: str) -> str | None:
    """The language whose code ``base`` runs inline (``python3.12`` -> python), or None."""
    name = base.casefold()
    found = LANGUAGES.get(name)
    if found is None and name[-1:].isdigit():
        found = LANGUAGES.get(name.rstrip("0123456789.-"))  # python3.12, ruby3.2, lua5.4
    return found


STDIN_PATHS = frozenset({"/dev/stdin", "/dev/fd/0", "/proc/self/fd/0"})


@dataclass(frozen=True)
class Piece:
    """One piece of inline code: ``code`` in ``language``, shell text, an argv, or "read from stdin"."""

    kind: str  # code | shell | argv | stdin | unknown
    language: str
    tok: Tok | None = None
    argv: tuple[Tok, ...] = ()


def read_piece(language: str, code: str) -> Found:
    """What one piece of code runs."""
    if language == "python":
        return read_python(code)
    if language == "sed":
        return read_sed(code)
    if language == "vim":
        return read_vim(code)
    if language == "gdb":
        return read_gdb(code)
    if language == "make":
        return read_make(code)
    return read_script(language, code)


def pieces(language: str, toks: Sequence[Tok]) -> list[Piece]:
    """The inline code in the argv ``toks`` of a program that runs ``language``."""
    reader = _READERS.get(language, _script_options)
    return reader(language, list(toks))


# ------------------------------------------------------------------------------------------------
# option readers, one per family


def _unknown(language: str, t: Tok) -> Piece:
    return Piece("unknown", language, t)


def _cluster_code(
    language: str,
    toks: list[Tok],
    code_letters: str,
    value_letters: str,
    flag_letters: str | None = None,
    digit_letters: str = "",
) -> tuple[list[Piece], int, bool]:
    """Read ``-xyz`` clusters up to the first operand: the code pieces, where operands start, and
    whether a script (or module) was named so standard input is not the code.

    A code letter takes the rest of its cluster or the next word. A value letter takes the rest
    of its cluster, or the next word unless that word is an option itself (so ``perl -pi -e CODE``
    never loses its ``-e``). A digit letter (perl's ``-l``, ``-0``) takes only the digits after it.
    """
    out: list[Piece] = []
    i = 1
    while i < len(toks):
        t = toks[i]
        v = t.value
        if v is None:
            if (t.maybe_flag and i + 1 < len(toks)) or (not out and t.text.startswith(("<(", "$(", "`"))):
                return [*out, _unknown(language, t)], i, True  # python3 <(curl …): code from a command
            return out, i, True
        if v == "--":
            return out, i + 1, bool(out) or i + 1 < len(toks)
        if not v.startswith("-") or v == "-":
            if not out and v in STDIN_PATHS:
                return out, i, False  # /dev/stdin: the code comes from standard input
            return out, i, bool(out) or v != "-"
        if v.startswith("--"):
            i += 1
            continue
        j = 1
        consumed = False
        while j < len(v):
            c = v[j]
            if c in code_letters:
                rest = v[j + 1 :]
                if rest:
                    out.append(Piece("code", language, Tok.lit(rest)))
                elif i + 1 < len(toks):
                    out.append(Piece("code", language, toks[i + 1]))
                    consumed = True
                break
            if c in digit_letters:
                j += 1
                while j < len(v) and v[j] in "01234567xX":
                    j += 1
                continue
            if c in value_letters:
                nxt = toks[i + 1] if i + 1 < len(toks) else None
                if not v[j + 1 :] and nxt is not None and not (nxt.value or "-").startswith("-"):
                    consumed = True
                if c == "m" and language == "python":
                    return out, i + (2 if consumed else 1), True  # python -m module: not inline code
                break
            if flag_letters is not None and c not in flag_letters:
                break
            j += 1
        i += 2 if consumed else 1
    return out, i, bool(out)


def _python(language: str, toks: list[Tok]) -> list[Piece]:
    out, _i, named = _cluster_code(language, toks, "c", "WXm", "bBdEhiIOqsSuvVxPR")
    if out:
        return out[:1]  # python reads only the first -c; later words are sys.argv
    return [] if named else [Piece("stdin", language)]


def _script_options(language: str, toks: list[Tok]) -> list[Piece]:
    """perl, ruby, lua, php, Rscript, osascript: ``-e CODE`` (repeatable) style."""
    code, value = {
        "perl": ("eE", "MmIixFCdDV"),
        "ruby": ("e", "IrCEFxK0TWil"),
        "lua": ("e", "l"),
        "php": ("rBRE", "cdzft"),
        "r": ("e", ""),
        "applescript": ("e", "ls"),
    }.get(language, ("e", ""))
    digits = {"perl": "l0", "ruby": "0"}.get(language, "")
    out, _i, named = _cluster_code(language, toks, code, value, digit_letters=digits)
    if out or named:
        return out
    return [] if language in ("r", "applescript", "php") else [Piece("stdin", language)]


def _node(language: str, toks: list[Tok]) -> list[Piece]:
    out: list[Piece] = []
    i = 1
    if toks and (toks[0].value or "").rsplit("/", 1)[-1] == "deno":
        if len(toks) > 2 and toks[1].value == "eval":
            return [Piece("code", language, toks[-1])]
        return []
    while i < len(toks):
        t = toks[i]
        v = t.value
        if v is None:
            return [*out, _unknown(language, t)] if t.maybe_flag else out
        if v in ("-e", "--eval", "-p", "--print", "-pe"):
            if i + 1 < len(toks):
                out.append(Piece("code", language, toks[i + 1]))
            i += 2
            continue
        if v.startswith(("--eval=", "--print=")):
            out.append(Piece("code", language, Tok.lit(v.split("=", 1)[1])))
        elif v in ("-r", "--require", "--import", "--loader", "--experimental-loader", "-C", "--conditions"):
            i += 1
        elif v == "-" or not v.startswith("-"):
            return out if out or v != "-" else [Piece("stdin", language)]
        i += 1
    return out or [Piece("stdin", language)]


def _awk(language: str, toks: list[Tok]) -> list[Piece]:
    out: list[Piece] = []
    has_file = False
    i = 1
    while i < len(toks):
        t = toks[i]
        v = t.value
        if v is None:
            if t.maybe_flag or not (out or has_file):
                return [*out, _unknown(language, t)]
            return out
        if v == "--sandbox":
            return []  # gawk: no system(), no pipes
        if v == "--":
            i += 1
            break
        if v in ("-e", "--source") or v.startswith("--source="):
            if "=" in v:
                out.append(Piece("code", language, Tok.lit(v.split("=", 1)[1])))
            elif i + 1 < len(toks):
                out.append(Piece("code", language, toks[i + 1]))
                i += 1
        elif v in ("-f", "--file", "-E", "--exec", "-i", "--include", "-l", "--load") or v.startswith(
            ("-f", "--file=")
        ):
            has_file = True
            if v in ("-f", "--file", "-E", "--exec", "-i", "--include", "-l", "--load"):
                i += 1
        elif v in ("-F", "-v", "--field-separator", "--assign"):
            i += 1
        elif not v.startswith("-") or v == "-":
            break
        i += 1
    if not out and not has_file and i < len(toks):
        t = toks[i]
        return [Piece("code", language, t) if t.value is not None else _unknown(language, t)]
    return out


def _sed(language: str, toks: list[Tok]) -> list[Piece]:
    scripts: list[Tok] = []
    operands: list[Tok] = []
    has_file = False
    i = 1
    ended = False
    while i < len(toks):
        t = toks[i]
        v = t.value
        i += 1
        if v is None:
            if t.maybe_flag and not ended:
                return [_unknown(language, t)]
            operands.append(t)
            continue
        if ended or not v.startswith("-") or v == "-":
            operands.append(t)
            continue
        if v == "--":
            ended = True
        elif v == "--sandbox":
            return []
        elif v in ("-e", "--expression"):
            if i < len(toks):
                scripts.append(toks[i])
                i += 1
        elif v.startswith("--expression="):
            scripts.append(Tok.lit(v.split("=", 1)[1]))
        elif v.startswith("-e") and not v.startswith("--"):
            scripts.append(Tok.lit(v[2:]))
        elif v in ("-f", "--file") or v.startswith(("--file=", "-f")):
            has_file = True
            if v in ("-f", "--file"):
                i += 1
        elif v in ("-l", "--line-length"):
            i += 1
        elif not v.startswith("--") and "e" in v[1:] and not v.startswith("-i"):
            k = v.index("e", 1)  # -ne 'script'
            if v[k + 1 :]:
                scripts.append(Tok.lit(v[k + 1 :]))
            elif i < len(toks):
                scripts.append(toks[i])
                i += 1
    if not scripts and not has_file and operands:
        scripts = [operands[0]]
    return [Piece("code", language, t) if t.value is not None else _unknown(language, t) for t in scripts]


_TAR_SHELL_LONG = ("--to-command", "--use-compress-program", "--rsh-command", "--info-script", "--new-volume-script")


def _tar_long(v: str) -> str | None:
    name = v.split("=", 1)[0]
    if not name.startswith("--") or len(name) < 5:
        return None
    hits = [o for o in _TAR_SHELL_LONG if o.startswith(name)]
    return hits[0] if len(hits) == 1 else None


def _tar(language: str, toks: list[Tok]) -> list[Piece]:
    """tar's options that run a command (GNU tar takes any unique prefix of a long option)."""
    out: list[Piece] = []
    i = 1
    while i < len(toks):
        t = toks[i]
        v = t.value
        i += 1
        if v is None:
            continue
        if (
            v.startswith("--")
            and len(v.split("=", 1)[0]) > len("--checkpoint")
            and "--checkpoint-action".startswith(v.split("=", 1)[0])
        ):
            action = v.split("=", 1)[1] if "=" in v else (toks[i].value if i < len(toks) else None)
            if "=" not in v:
                i += 1
            if action is None:
                out.append(_unknown(language, t))
            elif action.startswith("exec="):
                out.append(Piece("shell", language, Tok.lit(action[len("exec=") :])))
            continue
        long = _tar_long(v)
        if long is not None:
            if "=" in v:
                out.append(Piece("shell", language, Tok.lit(v.split("=", 1)[1])))
            elif i < len(toks):
                out.append(Piece("shell", language, toks[i]))
                i += 1
            continue
        if v.startswith("-") and not v.startswith("--"):
            for j, c in enumerate(v[1:], 1):
                if c in "IF":
                    rest = v[j + 1 :]
                    if rest:
                        out.append(Piece("shell", language, Tok.lit(rest)))
                    elif i < len(toks):
                        out.append(Piece("shell", language, toks[i]))
                        i += 1
                    break
                if c in "fCbgKLNTVXH":
                    if not v[j + 1 :]:
                        i += 1
                    break
    return out


def _gdb(language: str, toks: list[Tok]) -> list[Piece]:
    out: list[Piece] = []
    program: tuple[Tok, ...] = ()
    i = 1
    ex = ("ex", "eval-command", "iex", "init-eval-command")
    while i < len(toks):
        t = toks[i]
        v = t.value
        i += 1
        if v is None:
            continue
        name, eq, value = v.lstrip("-").partition("=")
        if v.startswith("-") and name in ex:
            if eq:
                out.append(Piece("code", language, Tok.lit(value)))
            elif i < len(toks):
                out.append(Piece("code", language, toks[i]))
                i += 1
        elif v.startswith("-") and name == "args":
            program = tuple(toks[i:])
            break
    runs = any(p.tok is not None and re.match(r"^\s*(r|ru|run|start|starti)(\s|$)", p.tok.value or "") for p in out)
    if program and (runs or any(p.tok is not None and p.tok.value is None for p in out)):
        out.append(Piece("argv", language, argv=program))
    return out


def _vim(language: str, toks: list[Tok]) -> list[Piece]:
    name = (toks[0].value or "").rsplit("/", 1)[-1].casefold()
    if name.startswith("r"):
        return []  # rvim / rview: shell commands are disabled
    out: list[Piece] = []
    i = 1
    while i < len(toks):
        t = toks[i]
        v = t.value
        i += 1
        if v is None:
            if t.maybe_flag or t.prefix.startswith("+"):
                out.append(_unknown(language, t))
            continue
        if v in ("-e", "-es", "-E", "-Es", "-se", "-sE") or (v == "-s" and name == "ex"):
            out.append(Piece("stdin", language))
        elif v in ("-c", "--cmd"):
            if i < len(toks):
                out.append(Piece("code", language, toks[i]))
                i += 1
        elif v.startswith("+") and len(v) > 1 and not v[1:].isdigit() and not v.startswith("+/"):
            out.append(Piece("code", language, Tok.lit(v[1:])))
        elif v.startswith("--remote-send") or v.startswith("--remote-expr"):
            out.append(_unknown(language, t))
        elif v in ("-u", "-U", "-i", "-T", "-w", "-W", "-t", "-q", "--servername", "--startuptime", "-S"):
            i += 1
    return out


def _make(language: str, toks: list[Tok]) -> list[Piece]:
    return [Piece(kind, language, tok) for kind, tok in make_sources(toks)]


_READERS = {
    "python": _python,
    "node": _node,
    "awk": _awk,
    "sed": _sed,
    "tar": _tar,
    "gdb": _gdb,
    "vim": _vim,
    "make": _make,
}
