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
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from codeward.privacy.ignore import IgnoreMatcher
    from codeward.workspace import Workspace


@dataclass(frozen=True)
class View:
    """The two lists a :class:`~codeward.sandbox.spec.SandboxSpec` takes from the workspace."""

    masked: tuple[Path, ...]
    protected: tuple[Path, ...]


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
        memo = index.memo.get(("masked", matcher.key, workspace.root))
        if memo is not None and memo[0] == index.generation:
            masked = cast("tuple[Path, ...]", memo[1])
        else:
            if str(workspace.root) == str(index.root):
                masked = tuple(Path(p) for p, _ in index.hidden_paths())
            else:
                base = len(str(index.root)) + 1
                masked = tuple(workspace.root / p[base:] for p, _ in index.hidden_paths())
            index.memo = {k: v for k, v in index.memo.items() if v[0] == index.generation}  # no stale ones kept
            index.memo[("masked", matcher.key, workspace.root)] = (index.generation, masked)
        protected = tuple(workspace.protected_paths(refresh=False))
    save(index, cache)
    return View(masked, protected)
