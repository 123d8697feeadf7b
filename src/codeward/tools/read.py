"""The read tools: ``read_file`` and ``list_dir`` (``grep`` is in :mod:`codeward.tools.grep`). They never ask; the ignore rules filter them.

An ignored path is invisible: ``read_file`` refuses it naming the rule, ``list_dir`` and ``grep``
leave it out (and say how many entries they left out). Contents go back raw here; the gate redacts
secrets when the result is sent, like every other outbound text.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from codeward.events import Withheld
from codeward.privacy.ignore import IgnoreRule
from codeward.providers.types import ToolCall
from codeward.tools.base import ToolContext, ToolError, ToolOutput

MAX_READ_LINES = 2000
MAX_LINE_CHARS = 2000
MAX_FILE_BYTES = 8 * 1024 * 1024
MAX_LIST_ENTRIES = 1000


def blocked_message(rel: str, rule: IgnoreRule) -> str:
    """The one-line refusal for an ignored path (DESIGN principle 4)."""
    return f"{rel or '.'} is hidden by the {rule.describe()}: it cannot be read or changed; {rule.how_to_allow()}"


def withheld(ctx: ToolContext, tool: str, rule: IgnoreRule, count: int = 1, path: str | None = None) -> None:
    """Report paths the ignore rules kept from the model (the UI's privacy line counts them)."""
    ctx.events.emit(Withheld(tool=tool, count=count, path=path, rule=rule.describe(), source=rule.source))


def _shown(ctx: ToolContext, rel: str, is_dir: bool, hidden: list[IgnoreRule]) -> bool:
    """Whether a listing or search includes ``rel``: not for .git and .gitignore'd paths (noise), nor
    for ignored ones, whose rules are collected in ``hidden`` so the result can say so."""
    if ctx.ignore.hidden_from_listing(rel, is_dir):
        return False
    rule = ctx.ignore.match(rel, is_dir=is_dir)
    if rule is not None:
        hidden.append(rule)
        return False
    return True


def _report_hidden(ctx: ToolContext, tool: str, rules: list[IgnoreRule]) -> None:
    by_rule: dict[IgnoreRule, int] = {}
    for r in rules:
        by_rule[r] = by_rule.get(r, 0) + 1
    for r, n in by_rule.items():
        withheld(ctx, tool, r, n)


def _check_visible(ctx: ToolContext, path: Path, tool: str = "read_file") -> str:
    """Refuse an ignored path, also when it is reached through a symlink to an ignored target."""
    rel = ctx.workspace.rel(path)
    rule = ctx.ignore.match(rel)
    if rule is None:
        real = path.resolve()
        if real != path:
            rule = ctx.ignore.match_path(real)
    if rule is not None:
        withheld(ctx, tool, rule, path=rel)
        raise ToolError(blocked_message(rel, rule))
    return rel


def _is_binary(head: bytes) -> bool:
    return b"\x00" in head


def read_file(args: dict[str, Any], ctx: ToolContext, call: ToolCall) -> ToolOutput:
    path = ctx.workspace.resolve(args["path"], must_exist=True)
    rel = _check_visible(ctx, path)
    if path.is_dir():
        raise ToolError(f"{rel}: is a directory; use list_dir")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ToolError(f"{rel}: file is {size} bytes, over the {MAX_FILE_BYTES}-byte limit; read it with grep")
    data = path.read_bytes()
    if _is_binary(data[:8192]):
        return ToolOutput(f"{rel}: binary file ({size} bytes); not shown")
    # redacted here, with the file's name, so rules tied to names (.pgpass, .pypirc) apply too
    text, counts = ctx.gate.redact_text(data.decode("utf-8", errors="replace"), path=rel)
    mark = getattr(getattr(getattr(ctx.gate, "redactor", None), "learner", None), "mark_secret", None)
    if counts and mark is not None:  # the grep tool then always searches it redacted
        mark(str(path))
    lines = text.splitlines()
    offset = int(args.get("offset") or 1)
    limit = int(args.get("limit") or MAX_READ_LINES)
    if offset < 1 or limit < 1:
        raise ToolError("read_file: offset and limit must be positive")
    limit = min(limit, MAX_READ_LINES)
    chunk = lines[offset - 1 : offset - 1 + limit]
    if not chunk and lines:
        raise ToolError(f"{rel}: offset {offset} is past the end of the file ({len(lines)} lines)")
    # a page fits the tool output budget (4 bytes a token, room left for the footer), so a large
    # file is read in pages rather than cut in the middle
    room = max(ctx.output_budget_tokens * 4 - 200, 1024)
    out: list[str] = []
    used = 0
    for n, line in enumerate(chunk, offset):
        if len(line) > MAX_LINE_CHARS:
            line = line[:MAX_LINE_CHARS] + " [line truncated]"
        row = f"{n:6}\t{line}"
        used += len(row.encode()) + 1
        if out and used > room:
            break
        out.append(row)
    end = offset + len(out) - 1
    footer = ""
    if end < len(lines):
        footer = f"\n[lines {offset}-{end} of {len(lines)}; read more with offset={end + 1}]"
    return ToolOutput("\n".join(out) + footer, files=(rel,))


def list_dir(args: dict[str, Any], ctx: ToolContext, call: ToolCall) -> ToolOutput:
    path = ctx.workspace.resolve(args.get("path") or ".", must_exist=True)
    rel0 = _check_visible(ctx, path, "list_dir") if path != ctx.workspace.root else ""
    if not path.is_dir():
        raise ToolError(f"{rel0}: not a directory")
    depth = max(1, min(int(args.get("depth") or 2), 6))
    entries: list[str] = []
    hidden_rules: list[IgnoreRule] = []
    truncated = False

    def walk(d: Path, level: int, indent: str) -> None:
        nonlocal truncated
        try:
            children = sorted(os.scandir(d), key=lambda e: (not e.is_dir(follow_symlinks=False), e.name))
        except OSError as e:
            entries.append(f"{indent}[cannot list: {e.strerror}]")
            return
        for child in children:
            if len(entries) >= MAX_LIST_ENTRIES:
                truncated = True
                return
            is_dir = child.is_dir(follow_symlinks=False)
            if not _shown(ctx, ctx.workspace.rel(Path(child.path)), is_dir, hidden_rules):
                continue
            suffix = "/" if is_dir else ("@" if child.is_symlink() else "")
            entries.append(f"{indent}{child.name}{suffix}")
            if is_dir and level < depth:
                walk(Path(child.path), level + 1, indent + "  ")

    walk(path, 1, "")
    _report_hidden(ctx, "list_dir", hidden_rules)
    head = f"{rel0 or '.'}/"
    notes = []
    hidden = len(hidden_rules)
    if hidden:
        notes.append(f"[{hidden} entr{'y' if hidden == 1 else 'ies'} hidden by ignore rules]")
    if truncated:
        notes.append(f"[listing cut at {MAX_LIST_ENTRIES} entries; list a subdirectory]")
    return ToolOutput("\n".join([head, *entries, *notes]))
