"""The sandbox's view of a workspace (what is hidden, what is protected), maintained, not recomputed.

Both halves come from the workspace's one directory index (:mod:`codeward.dirindex`): a refresh
``lstat``s each known directory and lists again only those that changed, classifying what is new
with the project's ignore rules. The index outlives the command: the process keeps it for the next
command of a session, and it is saved under the codeward home's ``cache/`` for the next process
(:mod:`codeward.dirindex.store`; trusted only where each directory's signature still matches).
When nothing changed since the previous command, the hidden list is not decided again.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from codeward.privacy.ignore import IgnoreMatcher
    from codeward.workspace import Workspace


@dataclass(frozen=True)
class View:
    masked: tuple[Path, ...]
    protected: tuple[Path, ...]


_last: dict[Path, tuple[int, str, tuple[Path, ...]]] = {}  # root -> (generation, rules key, masked)


def cache_dir(home: Path) -> Path:
    return home / "cache"


def workspace_view(workspace: Workspace, home: Path, matcher: IgnoreMatcher) -> View:
    """What the sandbox hides (ignore rules) and keeps read-only (protected paths) in ``workspace``."""
    from codeward.dirindex.store import save
    from codeward.workspace import dir_index

    cache = cache_dir(home)
    index = dir_index(workspace.root, cache)
    with index.lock:
        index.refresh(matcher)
        last = _last.get(index.root)
        if last is not None and last[0] == index.generation and last[1] == matcher.key:
            masked = last[2]
        else:
            if str(workspace.root) == str(index.root):
                masked = tuple(Path(p) for p, _ in index.hidden_paths())
            else:
                base = len(str(index.root)) + 1
                masked = tuple(workspace.root / p[base:] for p, _ in index.hidden_paths())
            _last[index.root] = (index.generation, matcher.key, masked)
        protected = tuple(workspace.protected_paths(refresh=False))
    save(index, cache)
    return View(masked, protected)
