"""tree-sitter-bash, made safe to base security decisions on.

:func:`parse` returns a syntax tree or raises :class:`ShellSyntaxError` (word nodes are read by
:mod:`codeward.policy.shellwords`). Three places where tree-sitter-bash reads text
differently from bash are repaired here, because each one would hide a command:

* a backslash-newline (line continuation) is treated by tree-sitter as a word break, so
  ``r\\<newline>m -rf`` would read as ``r m -rf``; bash joins it into ``rm -rf``. We delete the
  continuations bash deletes (not inside single quotes, ``$'…'``, comments or quoted here-documents)
  and parse again.
* after a redirection, further words are taken as extra redirect targets (``rm >/dev/null -rf /``);
  bash passes them to the command. :func:`redirect_extra_args` hands them back.
* two argument nodes that touch (``$"…"`` comes out as ``$`` + ``"…"``) are one word in bash;
  ``Analysis._command_words`` glues them, and drops the ``$`` that tree-sitter leaves before a
  ``$"…"`` / ``$'…'`` (:func:`spanned_parts`).

tree_sitter is imported inside functions, so importing this module costs nothing.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tree_sitter import Node, Tree

MAX_SCRIPT_BYTES = 1_000_000

_local = threading.local()


class ShellSyntaxError(ValueError):
    """The text is not a shell script tree-sitter-bash can read without error."""


def _parser() -> Any:
    p = getattr(_local, "parser", None)
    if p is None:
        import tree_sitter_bash
        from tree_sitter import Language, Parser

        p = Parser(Language(tree_sitter_bash.language()))
        _local.parser = p
    return p


def encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def node_text(node: Node) -> str:
    raw = node.text
    return raw.decode("utf-8", "surrogatepass") if raw is not None else ""


def parse(text: str) -> Tree:
    """Parse ``text`` as bash; raise ShellSyntaxError naming the first error."""
    return parse_with_source(text)[0]


def parse_with_source(text: str) -> tuple[Tree, bytes]:
    """:func:`parse`, plus the exact bytes the tree's offsets refer to (after the repairs below)."""
    if "\x00" in text:
        raise ShellSyntaxError("it contains a NUL byte")
    src = encode(text)
    if len(src) > MAX_SCRIPT_BYTES:
        raise ShellSyntaxError(f"it is longer than {MAX_SCRIPT_BYTES} bytes")
    tree = _parser().parse(src)
    if b"\\\n" in src:
        fixed = _remove_line_continuations(src, tree)
        if fixed != src:
            src = fixed
            tree = _parser().parse(src)
    if b"\n\\" in src:
        for _ in range(64):
            fixed = _quote_line_start_escapes(src, tree)
            if fixed == src:
                break
            src = fixed
            tree = _parser().parse(src)
    if tree.root_node.has_error:
        raise ShellSyntaxError(_describe_error(tree.root_node, src))
    bad = _word_with_newline(tree.root_node)
    if bad is not None:
        raise ShellSyntaxError(f"line {bad.start_point[0] + 1} cannot be read reliably")
    _check_heredocs(tree.root_node, src)
    root = tree.root_node
    outside = src[: root.start_byte] + src[root.end_byte :]
    if outside.strip():
        # tree-sitter left text out of the tree altogether (`- FOO=1` loses the `-`)
        raise ShellSyntaxError(f"part of it, {outside.strip()[:30].decode('utf-8', 'replace')!r}, cannot be read")
    return tree, src


def _check_heredocs(root: Node, src: bytes) -> None:
    """Each here-document must end where bash ends it: at the first line that is exactly the delimiter.

    tree-sitter also ends one at a line that only starts with it (``EOF ; x``, ``EOF `` with a
    blank); bash does not, keeps reading, and runs that line inside the shell the document feeds.
    """
    stack = [root]
    while stack:
        n = stack.pop()
        stack.extend(n.children)
        if n.type != "heredoc_redirect":
            continue
        start = next((c for c in n.children if c.type == "heredoc_start"), None)
        end = next((c for c in n.children if c.type == "heredoc_end"), None)
        body = next((c for c in n.children if c.type == "heredoc_body"), None)
        if start is None or end is None:
            raise ShellSyntaxError(f"the here-document at line {n.start_point[0] + 1} is not closed")
        import shlex

        try:
            words = shlex.split(node_text(start))
        except ValueError:
            words = []
        if len(words) != 1:
            raise ShellSyntaxError(f"the here-document delimiter {node_text(start)!r} cannot be read reliably")
        delim = words[0].encode("utf-8", "surrogatepass")
        strip_tabs = heredoc_strips_tabs(n)
        line_start = src.rfind(b"\n", 0, end.start_byte) + 1
        line_end = src.find(b"\n", end.end_byte)
        line = src[line_start : len(src) if line_end < 0 else line_end]
        if (line.lstrip(b"\t") if strip_tabs else line) != delim:
            raise ShellSyntaxError(
                f"line {end.start_point[0] + 1} does not end the here-document as bash would "
                f"(the line must be exactly {delim.decode('utf-8', 'replace')!r})"
            )
        if body is not None:
            lines = (body.text or b"").split(b"\n")
            if any((x.lstrip(b"\t") if strip_tabs else x) == delim for x in lines[:-1]):
                raise ShellSyntaxError(f"the here-document at line {n.start_point[0] + 1} ends earlier in bash")


def _words_with_leading_newline(node: Node) -> list[Node]:
    out: list[Node] = []
    stack = [node]
    while stack:
        n = stack.pop()
        if n.type == "word":
            if (n.text or b"").startswith(b"\n\\"):
                out.append(n)
            continue
        stack.extend(n.children)
    return out


def _quote_line_start_escapes(src: bytes, tree: Tree) -> bytes:
    """tree-sitter glues a line starting with ``\\x`` onto the previous command (``ls⏎\\rm -rf /``
    reads as ``ls`` with arguments). Rewrite that ``\\x`` as the equivalent ``'x'`` so the line is
    read as its own command, as bash reads it.
    """
    words = _words_with_leading_newline(tree.root_node)
    if not words:
        return src
    out = bytearray(src)
    for w in sorted(words, key=lambda n: n.start_byte, reverse=True):
        i = w.start_byte + 1  # the backslash
        if i + 1 >= len(src):
            continue
        lead = src[i + 1]
        width = 1 if lead < 0x80 else 2 if lead < 0xE0 else 3 if lead < 0xF0 else 4
        j = min(i + 1 + width, len(src))
        ch = bytes(src[i + 1 : j])
        if ch == b"\n":
            continue
        quoted = b'"\'"' if ch == b"'" else b"'" + ch + b"'"
        out[i:j] = quoted
    return bytes(out)


def _word_with_newline(node: Node) -> Node | None:
    """An unquoted word holding a newline: tree-sitter read the text differently from bash."""
    stack = [node]
    while stack:
        n = stack.pop()
        if n.type == "word":
            if b"\n" in (n.text or b""):
                return n
            continue
        if n.type in ("heredoc_body", "raw_string", "string", "ansi_c_string", "comment"):
            continue
        stack.extend(n.children)
    return None


def _remove_line_continuations(src: bytes, tree: Tree) -> bytes:
    root = tree.root_node
    cut: list[int] = []
    start = 0
    while True:
        i = src.find(b"\\\n", start)
        if i < 0:
            break
        start = i + 2
        # an even run of backslashes before the newline is escaped backslashes, not a continuation
        k = i
        while k > 0 and src[k - 1 : k] == b"\\":
            k -= 1
        if (i - k) % 2 == 1:
            continue
        node = root.descendant_for_byte_range(i, i + 1)
        if node is None or _continuation_kept(node):
            continue
        cut.append(i)
    if not cut:
        return src
    out = bytearray()
    prev = 0
    for i in cut:
        out += src[prev:i]
        prev = i + 2
    out += src[prev:]
    return bytes(out)


def _continuation_kept(node: Node) -> bool:
    """True where bash keeps a backslash-newline as text: '…', $'…', comments, quoted heredocs."""
    n: Node | None = node
    while n is not None:
        if n.type in ("raw_string", "ansi_c_string", "comment"):
            return True
        if n.type == "heredoc_body":
            return heredoc_is_quoted(n.parent)
        n = n.parent
    return False


def _describe_error(root: Node, src: bytes) -> str:
    stack = [root]
    while stack:
        n = stack.pop()
        if n.type == "ERROR" or n.is_missing:
            line = n.start_point[0] + 1
            snippet = src[n.start_byte : n.start_byte + 30].decode("utf-8", "replace").split("\n")[0]
            if n.is_missing:
                return f"missing {n.type!r} at line {line}"
            return f"syntax error at line {line} near {snippet!r}" if snippet else f"syntax error at line {line}"
        if n.has_error:
            stack.extend(reversed(n.children))
    return "syntax error"


WORD_NODES = frozenset(
    {
        "word",
        "string",
        "raw_string",
        "ansi_c_string",
        "concatenation",
        "translated_string",
        "heredoc_body",
        "heredoc_content",
        "string_content",
        "number",
        "comment",
        "brace_expression",
        "regex",
        "extglob_pattern",
        "simple_expansion",
        "expansion",
        "arithmetic_expansion",
        "command_name",
    }
)


def gaps(node: Node, src: bytes) -> list[tuple[int, int]]:
    """Byte ranges inside ``node`` covered by none of its children and holding more than blanks.

    tree-sitter-bash drops an escaped blank that starts a word (``rm \\ -rf`` reads as ``rm -rf``;
    bash passes `` -rf``). Such text must not vanish from the analysis.
    """
    out: list[tuple[int, int]] = []
    if not node.child_count or node.type in WORD_NODES:
        return out
    pos = node.start_byte
    for c in node.children:
        if c.start_byte > pos and src[pos : c.start_byte].strip():
            out.append((pos, c.start_byte))
        pos = max(pos, c.end_byte)
    if node.end_byte > pos and src[pos : node.end_byte].strip():
        out.append((pos, node.end_byte))
    return out


def gap_words(src: bytes, start: int, end: int) -> list[tuple[int, int, str]]:
    """Split skipped text into shell words (a backslash escapes the next character, blanks separate)."""
    words: list[tuple[int, int, str]] = []
    i = start
    cur: int | None = None
    while i < end:
        ch = src[i : i + 1]
        if ch == b"\\" and i + 1 < end:
            if cur is None:
                cur = i
            i += 2
            continue
        if ch in (b" ", b"\t", b"\n"):
            if cur is not None:
                words.append((cur, i, src[cur:i].decode("utf-8", "surrogatepass")))
                cur = None
            i += 1
            continue
        if cur is None:
            cur = i
        i += 1
    if cur is not None:
        words.append((cur, end, src[cur:end].decode("utf-8", "surrogatepass")))
    return words


# ------------------------------------------------------------------------------------------------
# redirections and here-documents

STDIN_OPS = frozenset({"<", "<>", "<&"})


def redirect_operator(node: Node) -> str:
    for c in node.children:
        if not c.is_named:
            return node_text(c)
    return ""


def redirect_fd(node: Node) -> str | None:
    d = node.child_by_field_name("descriptor")
    return node_text(d) if d is not None else None


def redirect_extra_args(node: Node) -> list[Node]:
    """Words tree-sitter filed as extra targets of a file redirect; bash passes them as arguments."""
    dests = [c for c, f in _fields(node) if f == "destination"]
    return dests[1:]


def _fields(node: Node) -> list[tuple[Node, str | None]]:
    out = []
    for i, c in enumerate(node.children):
        out.append((c, node.field_name_for_child(i)))
    return out


def fields(node: Node) -> list[tuple[Node, str | None]]:
    """Children with their field names (tree-sitter only offers this by index)."""
    return _fields(node)


def heredoc_is_quoted(redirect: Node | None) -> bool:
    """A here-document whose delimiter is quoted (``<<'EOF'``, ``<<"EOF"``, ``<<\\EOF``) is literal."""
    if redirect is None:
        return False
    for c in redirect.children:
        if c.type == "heredoc_start":
            t = node_text(c)
            return any(q in t for q in "'\"\\")
    return False


def heredoc_strips_tabs(redirect: Node) -> bool:
    return any(not c.is_named and node_text(c) == "<<-" for c in redirect.children)
