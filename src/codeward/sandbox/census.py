"""Where the protected names (``AGENTS.md``, ignore files, ``.git``, ``.codeward``, ``.gitmodules``) are.

The sandbox asks before and after every command, to move aside any a command created. The answer
comes from the workspace's one directory index (:mod:`codeward.dirindex`), the same one the ignore
walk and the protected-path walk read: a refresh ``stat``s the known directories and lists again
only those whose signature changed, so the census costs one ``lstat`` per directory, not a walk.
"""

from __future__ import annotations

from pathlib import Path

from codeward.dirindex import RACY_NS, DirIndex
from codeward.dirindex import index_for as _shared

CensusIndex = DirIndex  # the census is the shared index's view of the watched names
__all__ = ["RACY_NS", "CensusIndex", "census", "index_for"]


def index_for(root: Path) -> DirIndex:
    """The process's index of ``root``, shared with the ignore and protected-path walks."""
    from codeward.workspace import WATCHED_NAMES

    return _shared(root, WATCHED_NAMES)


def census(root: Path) -> set[Path]:
    """Every protected-named path under ``root`` (``.git`` and ``.codeward`` listed, not entered)."""
    return index_for(root).refresh()
