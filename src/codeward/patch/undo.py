"""Undo: the change set that takes the workspace back to before an applied patch.

The inverse goes through :func:`codeward.patch.apply_changes` like any patch, so it is all or
nothing and refuses to run when a file has changed since (someone edited it after the patch).
"""

from __future__ import annotations

from collections.abc import Sequence

from codeward.patch.plan import FileChange


def invert(change: FileChange) -> FileChange:
    """The change that undoes ``change``."""
    if change.kind == "add":
        return FileChange(path=change.path, kind="delete", old_path=None, old=change.new, new=None)
    if change.kind == "delete":
        return FileChange(path=change.path, kind="add", old_path=None, old=None, new=change.old)
    if change.old_path is not None:  # a move: go back to the old name with the old content
        return FileChange(path=change.old_path, kind="update", old_path=change.path, old=change.new, new=change.old)
    return FileChange(path=change.path, kind="update", old_path=None, old=change.new, new=change.old)


def invert_all(changes: Sequence[FileChange]) -> list[FileChange]:
    """The inverse of a whole applied patch, last change first."""
    return [invert(c) for c in reversed(changes)]
