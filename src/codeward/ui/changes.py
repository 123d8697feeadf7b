"""``/diff`` and ``/undo``: the session's applied patches, summed up per file and taken back.

``net_changes`` is pure: from the change sets in the order they were applied it computes, per file,
the content before the first patch and after the last one (following moves), so ``/diff`` shows what
the session did to the tree rather than every intermediate step. ``undo_last`` is the I/O edge: it
applies the inverse of the last patch through the same all-or-nothing writer the patch tool uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from codeward.events import FileChanged
from codeward.patch.plan import FileChange

if TYPE_CHECKING:
    from codeward.tools.base import ToolContext


def net_changes(applied: Sequence[Sequence[FileChange]]) -> list[FileChange]:
    """One change per file, from its content before the session touched it to its content now.

    Computed per path (a move is a delete at one path and an add at another), which is always
    right however patches overlap; then a path that was added by moving a file whose old path is
    now gone is shown as that move, the way the patch itself showed it.
    """
    baseline: dict[str, bytes | None] = {}  # content before the first patch that touched the path
    current: dict[str, bytes | None] = {}
    origin: dict[str, str] = {}  # for content that arrived by moves: the path it started at
    for change_set in applied:
        for c in change_set:
            source = c.old_path or c.path
            for path, before in ((source, c.old), (c.path, None if c.old_path else c.old)):
                if path not in baseline:
                    baseline[path] = before
            if c.old_path and c.old_path != c.path:
                current[c.old_path] = None
                origin[c.path] = origin.pop(c.old_path, c.old_path)
            elif c.kind == "add":
                origin.pop(c.path, None)
            current[c.path] = c.new
            if c.new is None:
                origin.pop(c.path, None)
    net: dict[str, FileChange] = {}
    for path, old in baseline.items():
        new = current.get(path, old)
        if old == new:
            continue
        if old is None:
            net[path] = FileChange(path, "add", None, None, new)
        elif new is None:
            net[path] = FileChange(path, "delete", None, old, None)
        else:
            net[path] = FileChange(path, "update", None, old, new)
    for path, change in list(net.items()):
        src = origin.get(path)
        gone = net.get(src) if src is not None else None
        if change.kind == "add" and gone is not None and gone.kind == "delete":
            net[path] = FileChange(path, "update", src, gone.old, change.new)
            del net[gone.path]
    return list(net.values())


def session_diff(applied: Sequence[Sequence[FileChange]]) -> str:
    """The unified diff of everything applied this session ("" when nothing is left changed)."""
    from codeward.patch import unified_diff

    return "".join(unified_diff(c) for c in net_changes(applied))


KIND_LETTER = {"add": "A", "update": "M", "delete": "D"}


def describe(changes: Sequence[FileChange]) -> str:
    """``M src/app.py, A notes.md``."""
    return ", ".join(f"{KIND_LETTER[c.kind]} {c.path}" for c in changes)


class UndoRefused(Exception):
    """The last patch cannot be taken back; the message says why and that nothing changed."""


def undo_last(ctx: ToolContext) -> list[FileChange]:
    """Revert the last applied patch in the workspace; returns the inverse changes that were written.

    Refused (nothing written) when no patch was applied or when a file no longer holds what the
    patch wrote. Emits one ``file.changed`` event per reverted file, so the audit log records it.
    """
    import hashlib

    from codeward.patch import PatchError, apply_changes, invert_all, read_workspace_file

    if not ctx.applied:
        raise UndoRefused("nothing to undo: no patch was applied in this session")
    inverse = invert_all(ctx.applied[-1])
    changed: list[str] = []
    for c in inverse:
        here = c.old_path or c.path  # where the patch's result is now
        try:
            current = read_workspace_file(ctx.workspace, here)
        except PatchError:
            current = b"\0not-a-regular-file"
        if current != c.old:
            changed.append(here)
    if changed:
        raise UndoRefused(
            f"cannot undo: {', '.join(changed)} changed since the patch was applied; nothing was changed "
            "(edit the file yourself, or ask the model to)"
        )
    try:
        apply_changes(inverse, ctx.workspace)
    except PatchError as e:
        raise UndoRefused(f"cannot undo: {e.message}") from None
    ctx.applied.pop()

    def sha(data: bytes | None) -> str | None:
        return hashlib.sha256(data).hexdigest() if data is not None else None

    for c in inverse:
        ctx.events.emit(FileChanged(c.path, c.old_path, c.kind, sha(c.old), sha(c.new), undo=True))
    from codeward.workspace import IGNORE_FILES

    if any(p.rsplit("/", 1)[-1] in IGNORE_FILES for c in inverse for p in (c.path, c.old_path or "")):
        ctx.reload_ignore()
    return inverse
