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
    from codeward.dirindex import DirIndex
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
    """What the sandbox hides (ignore rules) and keeps read-only (protected paths) in ``workspace``.

    Codeward's home exists (0700, with the cache key) before this view is computed: a home that does
    not exist yet cannot be hidden, so a command could create it with its own rules for the next run
    (one that cannot be created stays reserved: listed as protected, moved aside if a command makes
    it). The home is hidden by identity too, wherever a mount shows it in the workspace.
    """
    from codeward.dirindex.store import ensure_key, save
    from codeward.home import ensure_home
    from codeward.workspace import dir_index

    cache = cache_dir(home)
    if ensure_home(home):
        ensure_key(cache)
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
        copies = _home_copies(workspace.root, index, home)
        if copies:  # rare (the home bound into the workspace): only then is the hidden set needed
            hidden = set(masked)
            masked += tuple(p for p in copies if p not in hidden and hidden.isdisjoint(p.parents))
    if not home.is_dir():
        protected += (home,)
    save(index, cache)
    return View(masked, protected)


def _home_copies(root: Path, index: DirIndex, home: Path) -> list[Path]:
    """Every directory in the workspace that *is* the home or one of its directories (same device and
    inode) under another name: the indexed ones, and mount points the index does not enter (below
    ``.git``)."""
    from codeward.home import home_identities, home_mounts

    found = [Path(d) for d in index.paths_of(home_identities(home))]
    if root != index.root:
        found = [root / p.relative_to(index.root) for p in found]
    copies = set(found) | set(home_mounts(index.root, home))
    return sorted(p for p in copies if copies.isdisjoint(p.parents))  # the topmost: one mask covers what is below
