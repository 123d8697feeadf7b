"""Word nodes of a tree-sitter-bash tree as bash reads them: literal text and run-time holes.

:func:`word_parts` turns one word node (``word``, ``string``, ``concatenation``, an expansion…) into
:class:`~codeward.policy.words.Lit` and :class:`~codeward.policy.words.Hole` parts; positional
parameters resolve when the script's ``$0 $1…`` are known (``sh -c 'rm $1' _ -rf``).
:func:`heredoc_text` is what a here-document feeds its command.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from codeward.policy.shellparse import heredoc_is_quoted, heredoc_strips_tabs, node_text
from codeward.policy.words import Hole, Lit, Part, ansi_c_decode, dquote_literal, heredoc_literal, unquoted_parts

if TYPE_CHECKING:
    from tree_sitter import Node

EXPANSIONS = frozenset({"simple_expansion", "expansion", "command_substitution", "arithmetic_expansion"})


def word_parts(node: Node, params: tuple[str, ...] | None = None, *, in_dquote: bool = False) -> list[Part]:
    """Literal text and holes of one word node (``word``, ``string``, ``concatenation``, …).

    ``params`` are the positional parameters ($0, $1, …) when they are known, as in the script of
    ``sh -c 'script' arg0 arg1``; a plain ``$1`` or ``${1}`` then resolves to its value.
    """
    t = node.type
    if t in ("word", "number", "file_descriptor", "brace_expression", "variable_name", "heredoc_start"):
        return unquoted_parts(node_text(node))
    if t == "raw_string":
        return [Lit(node_text(node)[1:-1], True)]
    if t == "ansi_c_string":
        return [Lit(ansi_c_decode(node_text(node)[2:-1]), True)]
    if t in ("string", "translated_string"):
        return _string_parts(node, params)
    if t in ("concatenation", "command_name"):
        return spanned_parts(node, params, in_dquote=in_dquote)
    if t in ("simple_expansion", "expansion"):
        return [_param_part(node, params, in_dquote=in_dquote)]
    if t == "command_substitution":
        return [Hole(node_text(node), split=not in_dquote)]
    if t == "arithmetic_expansion":
        return [Hole(node_text(node), split=not in_dquote)]
    if t == "process_substitution":
        return [Hole(node_text(node), split=False, flaglike=False)]
    if not node.is_named:
        return unquoted_parts(node_text(node))
    # anything else (arrays, extglobs, …) is only known at run time
    return [Hole(node_text(node), split=True)]


def spanned_parts(node: Node, params: tuple[str, ...] | None, *, in_dquote: bool) -> list[Part]:
    """Children in order, with any text between them kept as unquoted text."""
    src_start = node.start_byte
    whole = node.text or b""
    out: list[Part] = []
    pos = src_start
    for c in node.children:
        if c.start_byte > pos:
            out.extend(
                unquoted_parts(whole[pos - src_start : c.start_byte - src_start].decode("utf-8", "surrogatepass"))
            )
        if c.type in ("string", "raw_string") and not in_dquote and _takes_dollar(out):
            # tree-sitter leaves the '$' of `r$"m"` / `r$'m'` in the word before; bash reads `$"m"` (a
            # locale string) and `$'m'` (ANSI-C quoting) as the quoted text alone: both are `rm`
            last = out[-1]
            assert isinstance(last, Lit)
            out[-1] = Lit(last.text[:-1], last.quoted)
            if c.type == "raw_string":
                out.append(Lit(ansi_c_decode(node_text(c)[1:-1]), True))
                pos = c.end_byte
                continue
        out.extend(word_parts(c, params, in_dquote=in_dquote))
        pos = c.end_byte
    if pos < node.end_byte:
        out.extend(unquoted_parts(whole[pos - src_start :].decode("utf-8", "surrogatepass")))
    return out


def _takes_dollar(parts: list[Part]) -> bool:
    """True when the text so far ends with an unquoted, unescaped '$' (it opens a $"…" or $'…')."""
    if not parts or not isinstance(parts[-1], Lit) or parts[-1].quoted:
        return False
    text = parts[-1].text
    return text.endswith("$") and not text.endswith("\\$")


def _string_parts(node: Node, params: tuple[str, ...] | None) -> list[Part]:
    """A double-quoted string: literal gaps with double-quote escapes, expansions as holes."""
    raw = node.text or b""
    base = node.start_byte
    # the content lies between the opening quote (after an optional '$') and the closing quote
    open_len = 2 if raw.startswith(b'$"') else 1
    lo = base + open_len
    hi = node.end_byte - 1 if raw.endswith(b'"') and len(raw) > open_len else node.end_byte
    out: list[Part] = []
    pos = lo
    for c in node.children:
        if c.type not in EXPANSIONS:
            continue
        if c.start_byte > pos:
            out.append(
                Lit(dquote_literal(raw[pos - base : c.start_byte - base].decode("utf-8", "surrogatepass")), True)
            )
        if c.type in ("simple_expansion", "expansion"):
            out.append(_param_part(c, params, in_dquote=True))
        else:
            out.append(Hole(node_text(c), split=False))
        pos = c.end_byte
    if hi > pos:
        out.append(Lit(dquote_literal(raw[pos - base : hi - base].decode("utf-8", "surrogatepass")), True))
    if not out:
        out.append(Lit("", True))
    return out


def _param_part(node: Node, params: tuple[str, ...] | None, *, in_dquote: bool) -> Part:
    text = node_text(node)
    if params is not None:
        name = None
        if text.startswith("${") and text.endswith("}"):
            name = text[2:-1]
        elif text.startswith("$"):
            name = text[1:]
        if name is not None and name.isdigit():
            idx = int(name)
            value = params[idx] if idx < len(params) else ""
            if in_dquote or (value and not any(ch.isspace() or ch in "*?[" for ch in value)):
                return Lit(value, True)
        if name == "#":
            return Lit(str(max(len(params) - 1, 0)), True)
    return Hole(text, split=not in_dquote)


def positional_words(node: Node, params: tuple[str, ...] | None) -> list[str] | None:
    """``"$@"`` / ``$@`` / ``$*`` as a whole word with known parameters: the words it becomes."""
    if params is None:
        return None
    text = node_text(node)
    if text in ('"$@"', '"${@}"'):
        return list(params[1:])
    if text in ("$@", "$*", "${@}", "${*}"):
        rest = list(params[1:])
        if all(v and not any(ch.isspace() or ch in "*?[" for ch in v) for v in rest):
            return rest
    if text in ('"$*"', '"${*}"'):
        return [" ".join(params[1:])]
    return None


def group_parts(group: list[Node], params: tuple[str, ...] | None) -> list[Part]:
    out: list[Part] = []
    for n in group:
        out.extend(word_parts(n, params))
    return out


# ------------------------------------------------------------------------------------------------
# text tree-sitter skipped


def heredoc_text(redirect: Node, placeholder: Any) -> tuple[str, bool]:
    """The text a here-document feeds to its command, and whether parts are only known at run time.

    Expansions in an unquoted here-document are replaced by ``placeholder(text)`` (so the text can
    still be parsed as a script) and reported as unknown.
    """
    body = next((c for c in redirect.children if c.type == "heredoc_body"), None)
    if body is None:
        return "", False
    raw = body.text or b""
    if heredoc_is_quoted(redirect):
        text = raw.decode("utf-8", "surrogatepass")
        holes = False
    else:
        base = body.start_byte
        pieces: list[str] = []
        holes = False
        pos = base
        for c in body.children:
            if c.type not in EXPANSIONS:
                continue
            if c.start_byte > pos:
                pieces.append(heredoc_literal(raw[pos - base : c.start_byte - base].decode("utf-8", "surrogatepass")))
            pieces.append(placeholder(node_text(c)))
            holes = True
            pos = c.end_byte
        if body.end_byte > pos:
            pieces.append(heredoc_literal(raw[pos - base :].decode("utf-8", "surrogatepass")))
        text = "".join(pieces)
    if heredoc_strips_tabs(redirect):
        text = "\n".join(line.lstrip("\t") for line in text.split("\n"))
    return text, holes
