"""Render a planned change as a unified diff for the approval prompt.

What the user approves must be what gets written, so the rendering hides nothing: control and
invisible format characters (ESC sequences that could repaint the terminal, bidirectional overrides
that reorder text, zero-width characters) are shown as ``\\xNN`` / ``\\uNNNN`` escapes, a missing
final newline is marked as git marks it, and a change in line endings shows as ``\\r``. When old
and new both use CRLF throughout, the CRs are left out and the header says so.
"""

from __future__ import annotations

import difflib
import unicodedata

from codeward.patch.plan import FileChange

_NO_NEWLINE = "\\ No newline at end of file"
_VISIBLE_SEPARATORS = {"Zl", "Zp"}
_HIDDEN = {"Cc", "Cf", "Co", "Cs"}


def _escape(text: str) -> str:
    out: list[str] = []
    for c in text:
        if c == "\t" or (unicodedata.category(c) not in _HIDDEN and unicodedata.category(c) not in _VISIBLE_SEPARATORS):
            out.append(c)
        elif c == "\r":
            out.append("\\r")
        elif ord(c) < 0x100:
            out.append(f"\\x{ord(c):02x}")
        else:
            out.append(f"\\u{ord(c):04x}")
    return "".join(out)


def _all_crlf(text: str) -> bool:
    breaks = text.count("\n")
    return breaks > 0 and text.count("\r\n") == breaks


def _display_lines(text: str, *, drop_cr: bool) -> list[str]:
    """One element per line, escaped; the last one carries git's marker when it has no newline."""
    parts = text.split("\n")
    last = parts.pop()
    lines = [_escape(p[:-1] if drop_cr and p.endswith("\r") else p) for p in parts]
    if last:
        lines.append(_escape(last) + "\n" + _NO_NEWLINE)
    return lines


def unified_diff(change: FileChange, *, context: int = 3) -> str:
    """The change as a unified diff (``--- a/old`` / ``+++ b/new``, ``/dev/null`` for add/delete)."""
    old_name = change.old_path or change.path
    head_a = f"a/{_escape(old_name)}" if change.old is not None else "/dev/null"
    head_b = f"b/{_escape(change.path)}" if change.new is not None else "/dev/null"
    header = [f"--- {head_a}", f"+++ {head_b}"]
    if change.old_path is not None and change.old_path != change.path:
        header.insert(0, f"rename {_escape(change.old_path)} -> {_escape(change.path)}")
    try:
        old_text = change.old.decode("utf-8") if change.old is not None else ""
        new_text = change.new.decode("utf-8") if change.new is not None else ""
    except UnicodeDecodeError:
        sizes = f"{len(change.old or b'')} -> {len(change.new or b'')} bytes"
        return "\n".join([*header, f"Binary content ({sizes}), not shown"]) + "\n"
    present = [t for t, raw in ((old_text, change.old), (new_text, change.new)) if raw is not None and t]
    drop_cr = bool(present) and all(_all_crlf(t) for t in present)
    if drop_cr:
        header.insert(0, "(CRLF line endings)")
    body = list(
        difflib.unified_diff(
            _display_lines(old_text, drop_cr=drop_cr),
            _display_lines(new_text, drop_cr=drop_cr),
            n=context,
            lineterm="",
        )
    )[2:]  # difflib's own ---/+++ lines; ours carry /dev/null and the rename
    if not body:
        if change.kind == "add":
            body = ["(new empty file)"]
        elif change.kind == "delete":
            body = ["(deleted file was empty)"]
        else:
            body = ["(content unchanged)"]
    return "\n".join([*header, *body]) + "\n"
