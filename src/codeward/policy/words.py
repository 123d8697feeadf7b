"""Shell words as the policy engine sees them: literal where the text says so, unknown where it doesn't.

A word on a command line is built from pieces: unquoted text, quoted text, and expansions whose
value exists only at run time (``$X``, ``$(…)``, globs). The engine must decide before anything
runs, so a word is turned into one or more :class:`Tok` objects: a token whose ``value`` is the exact
string the program will receive, or ``None`` with what is still known about it (its literal start,
whether it could begin with ``-`` and so be read as a flag, whether it could become several words).

Pure functions only; nothing here imports tree-sitter.
"""

from __future__ import annotations

from dataclasses import dataclass

GLOB_CHARS = frozenset("*?[")
MAX_BRACE_WORDS = 256


@dataclass(frozen=True, slots=True)
class Tok:
    """One argument of a simple command.

    ``value`` is the string the program receives, or ``None`` when it is only known at run time.
    For unknown tokens, ``prefix`` is the literal text it surely starts with, ``maybe_flag`` says
    whether it could start with ``-``, and ``split`` whether it could expand to zero or several words
    (an unquoted expansion or a glob).
    """

    value: str | None
    text: str
    prefix: str = ""
    maybe_flag: bool = True
    split: bool = False
    bare: bool = False  # written without any quoting in shell text (so a reserved word is a keyword)

    @classmethod
    def lit(cls, value: str) -> Tok:
        return cls(value=value, text=value)

    @classmethod
    def unknown(cls, text: str, *, prefix: str = "", maybe_flag: bool | None = None, split: bool = True) -> Tok:
        if maybe_flag is None:
            maybe_flag = prefix == "" or prefix.startswith("-")
        return cls(value=None, text=text, prefix=prefix, maybe_flag=maybe_flag, split=split)

    @property
    def known(self) -> bool:
        return self.value is not None

    def shown(self) -> str:
        """How to show the token to a person: the value, quoted when needed, or the source text."""
        if self.value is None:
            return self.text
        import shlex

        return shlex.quote(self.value)


# ------------------------------------------------------------------------------------------------
# word parts


@dataclass(frozen=True, slots=True)
class Lit:
    """Literal text; ``quoted`` characters are never special (no globbing, no brace expansion)."""

    text: str
    quoted: bool


@dataclass(frozen=True, slots=True)
class Hole:
    """An expansion known only at run time. ``split``: unquoted, so it may become 0..n words."""

    text: str
    split: bool
    flaglike: bool = True


Part = Lit | Hole


def toks_from_parts(parts: list[Part], source: str) -> list[Tok]:
    """Brace-expand the unquoted text, then turn each resulting word into a token."""
    words = brace_expand(parts)
    if words is None:
        return [_tok_from_single(parts, source, force_unknown=True)]
    return [_tok_from_single(w, source) for w in words]


def _tok_from_single(parts: list[Part], source: str, *, force_unknown: bool = False) -> Tok:
    prefix_chars: list[str] = []
    unknown = force_unknown
    split = force_unknown
    flaglike_hole = True
    for p in parts:
        if isinstance(p, Hole):
            unknown = True
            split = split or p.split
            if not prefix_chars:
                flaglike_hole = p.flaglike
            break
        if not p.quoted and any(c in GLOB_CHARS for c in p.text):
            # a glob: the literal text up to the first glob character is all that is certain
            cut = min(p.text.index(c) for c in GLOB_CHARS if c in p.text)
            prefix_chars.append(p.text[:cut])
            unknown = True
            split = True
            break
        prefix_chars.append(p.text)
    if not unknown:
        value = "".join(prefix_chars)
        bare = all(isinstance(p, Lit) and not p.quoted for p in parts)
        return Tok(value=value, text=source, bare=bare)
    prefix = "".join(prefix_chars)
    maybe_flag = prefix.startswith("-") if prefix else flaglike_hole
    return Tok(value=None, text=source, prefix=prefix, maybe_flag=maybe_flag, split=split)


# ------------------------------------------------------------------------------------------------
# brace expansion (bash runs it before every other expansion, so r{m,} is "rm r")


def brace_expand(parts: list[Part]) -> list[list[Part]] | None:
    """Expand unquoted ``{a,b}`` and ``{1..3}`` forms; None when the result would be too large."""
    if not any(isinstance(p, Lit) and not p.quoted and "{" in p.text for p in parts):
        return [parts]
    # flatten to (char, special) cells; holes stay opaque single cells
    cells: list[tuple[str | Hole, bool]] = []
    for p in parts:
        if isinstance(p, Hole):
            cells.append((p, False))
        else:
            cells.extend((c, not p.quoted) for c in p.text)
    out = _expand_cells(cells, 0)
    if out is None:
        return None
    return [_cells_to_parts(c) for c in out]


Cell = tuple["str | Hole", bool]


def _expand_cells(cells: list[Cell], depth: int) -> list[list[Cell]] | None:
    if depth > 16:
        return None
    n = len(cells)
    i = 0
    while i < n:
        ch, special = cells[i]
        if special and ch == "{" and not (i > 0 and cells[i - 1] == ("$", True)):
            close, commas = _find_brace_close(cells, i)
            if close is not None:
                pre, post = cells[:i], cells[close + 1 :]
                inner = cells[i + 1 : close]
                alternatives: list[list[Cell]] | None
                if commas:
                    bounds = [i + 1, *[c + 1 for c in commas], close + 1]
                    alternatives = [cells[bounds[k] : bounds[k + 1] - 1] for k in range(len(bounds) - 1)]
                else:
                    alternatives = _sequence(inner)
                if alternatives is not None:
                    results: list[list[Cell]] = []
                    tails = _expand_cells(post, depth + 1)
                    if tails is None:
                        return None
                    for alt in alternatives:
                        expanded_alt = _expand_cells(alt, depth + 1)
                        if expanded_alt is None:
                            return None
                        for a in expanded_alt:
                            for t in tails:
                                results.append(pre + a + t)
                                if len(results) > MAX_BRACE_WORDS:
                                    return None
                    return results
        i += 1
    return [cells]


def _find_brace_close(cells: list[Cell], start: int) -> tuple[int | None, list[int]]:
    depth = 0
    commas: list[int] = []
    for j in range(start, len(cells)):
        ch, special = cells[j]
        if not special:
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return j, commas
        elif ch == "," and depth == 1:
            commas.append(j)
    return None, commas


def _sequence(inner: list[Cell]) -> list[list[Cell]] | None:
    """``{1..5}``, ``{a..e}``, ``{1..10..2}``: the alternatives, or None when it is no sequence."""
    if any(not isinstance(c, str) for c, _ in inner):
        return None
    text = "".join(str(c) for c, _ in inner)
    parts = text.split("..")
    if len(parts) not in (2, 3):
        return None
    step = 1
    if len(parts) == 3:
        try:
            step = abs(int(parts[2])) or 1
        except ValueError:
            return None
    a, b = parts[0], parts[1]
    values: list[str]
    try:
        x, y = int(a), int(b)
        width = max(len(a), len(b)) if (a.lstrip("-").startswith("0") or b.lstrip("-").startswith("0")) else 0
        rng = range(x, y + 1, step) if x <= y else range(x, y - 1, -step)
        if len(rng) > MAX_BRACE_WORDS:
            return None
        values = [str(v).zfill(width) if width else str(v) for v in rng]
    except ValueError:
        if len(a) == 1 and len(b) == 1:
            x, y = ord(a), ord(b)
            rng = range(x, y + 1, step) if x <= y else range(x, y - 1, -step)
            values = [chr(v) for v in rng]
        else:
            return None
    return [[(ch, False) for ch in v] for v in values]


def _cells_to_parts(cells: list[Cell]) -> list[Part]:
    out: list[Part] = []
    buf: list[str] = []
    quoted_run: bool | None = None
    for ch, special in cells:
        if isinstance(ch, Hole):
            if buf:
                out.append(Lit("".join(buf), not quoted_run))
                buf = []
            quoted_run = None
            out.append(ch)
            continue
        if quoted_run is not None and quoted_run != special:
            out.append(Lit("".join(buf), not quoted_run))
            buf = []
        quoted_run = special
        buf.append(ch)
    if buf:
        out.append(Lit("".join(buf), not quoted_run))
    return out


# ------------------------------------------------------------------------------------------------
# quoting rules


def unquoted_parts(text: str) -> list[Part]:
    """Unquoted shell text: ``\\x`` is a quoted ``x``; a backslash-newline disappears."""
    out: list[Part] = []
    buf: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n:
            if buf:
                out.append(Lit("".join(buf), False))
                buf = []
            if text[i + 1] != "\n":
                out.append(Lit(text[i + 1], True))
            i += 2
            continue
        buf.append(c)
        i += 1
    if buf:
        out.append(Lit("".join(buf), False))
    return out


def _unescape(text: str, escapable: str) -> str:
    """Drop the backslash before each character of ``escapable``; backslash-newline joins lines."""
    out: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n and text[i + 1] in escapable:
            if text[i + 1] != "\n":
                out.append(text[i + 1])
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def dquote_literal(text: str) -> str:
    """Text inside double quotes: a backslash escapes only ``$ ` " \\`` and newline."""
    return _unescape(text, '$`"\\\n')


def heredoc_literal(text: str) -> str:
    """Text in an unquoted here-document: a backslash escapes only ``$ ` \\`` and newline."""
    return _unescape(text, "$`\\\n")


_SIMPLE_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "e": "\x1b",
    "E": "\x1b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    "'": "'",
    '"': '"',
    "?": "?",
}


def ansi_c_decode(body: str) -> str:
    """The value of ``$'…'`` (``body`` without the ``$'`` and ``'``), as bash decodes it."""
    out: list[str] = []
    i = 0
    n = len(body)
    while i < n:
        c = body[i]
        if c != "\\" or i + 1 >= n:
            out.append(c)
            i += 1
            continue
        e = body[i + 1]
        if e in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[e])
            i += 2
        elif e in "01234567":
            j = i + 1
            while j < n and j < i + 4 and body[j] in "01234567":
                j += 1
            out.append(chr(int(body[i + 1 : j], 8) & 0xFF))
            i = j
        elif e == "x":
            j = i + 2
            while j < n and j < i + 4 and body[j] in "0123456789abcdefABCDEF":
                j += 1
            if j == i + 2:
                out.append("\\x")
                i += 2
            else:
                out.append(chr(int(body[i + 2 : j], 16)))
                i = j
        elif e in "uU":
            limit = 4 if e == "u" else 8
            j = i + 2
            while j < n and j < i + 2 + limit and body[j] in "0123456789abcdefABCDEF":
                j += 1
            if j == i + 2:
                out.append("\\" + e)
                i += 2
            else:
                cp = int(body[i + 2 : j], 16)
                out.append(chr(cp) if cp <= 0x10FFFF else "\ufffd")
                i = j
        elif e == "c" and i + 2 < n:
            out.append(chr(ord(body[i + 2].upper()) ^ 0x40) if body[i + 2] != "?" else "\x7f")
            i += 3
        else:
            out.append("\\" + e)
            i += 2
    return "".join(out)
