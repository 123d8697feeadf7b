"""Where the protected names (``AGENTS.md``, ignore files, ``.git``, ``.codeward``, ``.gitmodules``) are.

The sandbox asks before and after every command, to move aside any a command created. Walking the
whole workspace each time made a command's cost grow with the repository; instead this keeps, per
workspace and per process, an index of every directory with its signature (inode, ctime) and what
it holds. A directory's ctime changes whenever an entry is added, removed or renamed in it, and
also when its times are set (``touch -d`` cannot hide a change: it moves ctime to now), so a refresh
``stat``s the known directories and lists again only those whose signature changed, plus any new
ones found there. A directory whose ctime is too recent to be trusted (the same clock tick as the
listing) is listed again next time, as git does with a racy index entry.
"""

from __future__ import annotations

import os
import stat
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

RACY_NS = 100_000_000  # a directory changed this close to its listing is listed again next time


@dataclass
class _Dir:
    sig: tuple[int, int]  # (inode, ctime_ns)
    protected: frozenset[str]
    subdirs: tuple[str, ...]  # full paths, joined once when listed
    racy: bool
    unreadable: bool = False


@dataclass
class CensusIndex:
    """The protected names under one root, kept current by :meth:`refresh`."""

    root: Path
    dirs: dict[str, _Dir] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def refresh(self) -> set[Path]:
        """Bring the index up to date and return every protected-named path under the root."""
        from codeward.workspace import PROTECTED_DIRS, PROTECTED_NAMES

        names = frozenset((*PROTECTED_DIRS, *PROTECTED_NAMES))
        with self.lock:
            seen: set[str] = set()
            stack = [str(self.root)]
            while stack:
                d = stack.pop()
                seen.add(d)
                try:
                    st = os.lstat(d)
                except OSError:
                    continue
                if not stat.S_ISDIR(st.st_mode):
                    continue
                sig = (st.st_ino, st.st_ctime_ns)
                entry = self.dirs.get(d)
                if entry is None or entry.sig != sig or entry.racy:
                    entry = _scan(d, sig, names)
                    self.dirs[d] = entry
                stack.extend(entry.subdirs)
            for gone in set(self.dirs) - seen:
                del self.dirs[gone]
            return {Path(d, n) for d, e in self.dirs.items() for n in e.protected}

    def unreadable(self) -> list[Path]:
        """Directories the last refresh could not list (what is in them is unknown).

        The ignore rules are applied by walking the tree, so files in such a directory (and a nested
        ignore file there) are unknown; a command that made it unlistable could make it listable again
        and read what the rules would hide. The sandbox hides these directories whole (fail closed).
        """
        with self.lock:
            return sorted(Path(d) for d, e in self.dirs.items() if e.unreadable)


def _scan(d: str, sig: tuple[int, int], names: frozenset[str]) -> _Dir:
    started = time.time_ns()
    protected: set[str] = set()
    subdirs: list[str] = []
    try:
        with os.scandir(d) as it:
            for e in it:
                if e.name in names:
                    protected.add(e.name)  # listed, not entered (.git, .codeward)
                elif e.is_dir(follow_symlinks=False):
                    subdirs.append(e.path)
    except OSError:
        # a directory a command made unlistable (chmod 000, as the owner): nothing in it can be
        # checked, so it is reported, and always listed again
        return _Dir(sig, frozenset(), (), racy=True, unreadable=True)
    return _Dir(sig, frozenset(protected), tuple(subdirs), racy=started - sig[1] < RACY_NS)


_indexes: dict[Path, CensusIndex] = {}
_lock = threading.Lock()


def index_for(root: Path) -> CensusIndex:
    with _lock:
        index = _indexes.get(root)
        if index is None:
            index = _indexes[root] = CensusIndex(root)
        return index


def census(root: Path) -> set[Path]:
    """Every protected-named path under ``root`` (``.git`` and ``.codeward`` listed, not entered)."""
    return index_for(root).refresh()
