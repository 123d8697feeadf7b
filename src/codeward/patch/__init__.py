"""codeward.patch: the ``apply_patch`` tool's patch format, parsed, planned and applied all-or-nothing.

Use: ``parse_patch(text)`` -> :class:`Patch` (pure); ``plan_patch(patch, read)`` -> list of
:class:`FileChange` (pure, every hunk matched before anything is written); show each change with
``unified_diff``; then ``apply_changes(changes, workspace)`` writes all files or none.
"""

from __future__ import annotations

from codeward.patch.apply import apply_changes, apply_patch_text, read_workspace_file, workspace_reader
from codeward.patch.diff import unified_diff
from codeward.patch.errors import PatchError
from codeward.patch.parser import FileOp, Hunk, HunkLine, Patch, parse_patch
from codeward.patch.plan import FileChange, plan_patch
from codeward.patch.undo import invert_all

__all__ = [
    "FileChange",
    "FileOp",
    "Hunk",
    "HunkLine",
    "Patch",
    "PatchError",
    "apply_changes",
    "apply_patch_text",
    "invert_all",
    "parse_patch",
    "plan_patch",
    "read_workspace_file",
    "unified_diff",
    "workspace_reader",
]
