"""Makefiles given inline to make: their recipes are shell commands (security review, issue 12).

``make`` reading the repository's own Makefile runs what the repository says, as before. A makefile
the command itself supplies (``make -f - <<EOF``, ``make -f /dev/stdin <<< …``, ``--eval=TEXT``)
is read here: each recipe line (a tab-led line, or the text after ``;`` on a rule line) is shell
text run by ``/bin/sh``. Text that make itself rewrites before the shell sees it (variables,
functions such as ``$(shell …)``, ``include``, ``define``, another ``SHELL`` or recipe prefix)
cannot be read that simply, so it is opaque: it asks while a disallow list is in force.
"""

from __future__ import annotations

import re

from codeward.policy.inline_found import Found
from codeward.policy.words import Tok

STDIN_FILES = frozenset({"-", "/dev/stdin", "/dev/fd/0", "/proc/self/fd/0"})
# options whose value is the next word (or the rest of a short cluster) and is not a makefile
_VALUE_LETTERS = frozenset("CIoW")
# options whose value is optional and attached (-j4): the rest of the word is theirs
# (-j "$(nproc)" is not one: a separate word that is no number is read as the next option)
_OPTIONAL_LETTERS = frozenset("jlO")
_RULE_WITH_RECIPE = re.compile(r"^(?P<targets>[^=#;]*?[^:=]):{1,2}(?![=:])[^=;#]*;(?P<recipe>.*)$")
_NOT_LITERAL = re.compile(r"^\s*(-?include|sinclude|define|endef|export\s+SHELL|override|vpath)\b")
_SPECIAL = re.compile(r"(?:^|[^\w.])(SHELL|\.SHELLFLAGS|\.RECIPEPREFIX|\.ONESHELL|MAKEFLAGS|MAKESHELL)\b")


def make_sources(toks: list[Tok]) -> list[tuple[str, Tok | None]]:
    """The makefile text a make command supplies itself, as ``(kind, word)``: ``stdin`` (``-f -``),
    ``code`` (``--eval TEXT``), or ``unknown`` (a run-time word that could be either)."""
    out: list[tuple[str, Tok | None]] = []

    def file_piece(t: Tok | None) -> None:
        if t is None:
            return
        if t.value is None:
            out.append(("unknown", t))
        elif t.value in STDIN_FILES:
            out.append(("stdin", None))

    i = 1
    while i < len(toks):
        t = toks[i]
        v = t.value
        i += 1
        if v is None:
            if t.maybe_flag and not _harmless_prefix(t.prefix):
                out.append(("unknown", t))  # could be -f /dev/stdin or --eval=…
            continue
        if v == "--":
            break
        if v.startswith("--"):
            name, eq, value = v[2:].partition("=")
            if len(name) >= 2 and ("file".startswith(name) or "makefile".startswith(name)):
                file_piece(Tok.lit(value) if eq else (toks[i] if i < len(toks) else None))
                i += 0 if eq else 1
            elif len(name) >= 2 and "eval".startswith(name):
                if eq:
                    out.append(("code", Tok.lit(value)))
                elif i < len(toks):
                    out.append(("code", toks[i]))
                    i += 1
            continue
        if not v.startswith("-") or v == "-":
            continue
        for k in range(1, len(v)):
            letter = v[k]
            if letter in _OPTIONAL_LETTERS:
                break  # -j4 / -l2.5: the rest of the word is the number
            if letter in "fE" or letter in _VALUE_LETTERS:
                rest = v[k + 1 :]
                value_tok = Tok.lit(rest) if rest else (toks[i] if i < len(toks) else None)
                if not rest:
                    i += 1
                if letter == "f":
                    file_piece(value_tok)
                elif letter == "E" and value_tok is not None:
                    out.append(("code", value_tok))
                break
    return out


def read_make(text: str) -> Found:
    """The shell commands a makefile's recipes run, or why they cannot be read."""
    found = Found()
    if re.search(r"\$(?!\$)", text.replace("$$", "")):
        found.cannot("the makefile uses make variables or functions, which make expands before the shell runs")
        return found
    joined = re.sub(r"\\\n", " ", text)
    for line in joined.splitlines():
        if not line.startswith("\t") and (_NOT_LITERAL.match(line) or _SPECIAL.search(line)):
            found.cannot(f"the makefile line {line.strip()[:40]!r} changes what make runs")
            continue
        if line.startswith("\t"):
            recipe = line[1:]
        else:
            m = _RULE_WITH_RECIPE.match(line)
            if m is None:
                continue
            recipe = m.group("recipe")
        recipe = recipe.lstrip(" \t@+-").replace("$$", "$")
        if recipe.strip():
            found.shell.append(recipe)
    return found


def _harmless_prefix(prefix: str) -> bool:
    """A run-time word whose literal start already settles that it names no makefile and no
    ``--eval`` (``-j$(nproc)``, ``--jobs=$N``, ``-C$DIR``)."""
    if prefix.startswith("--"):
        name, eq, _ = prefix[2:].partition("=")
        return bool(eq) and not any(full.startswith(name) for full in ("file", "makefile", "eval"))
    if not prefix.startswith("-"):
        return False
    for letter in prefix[1:]:
        if letter in "fE":
            return False
        if letter in _OPTIONAL_LETTERS or letter in _VALUE_LETTERS:
            return True
    return False
