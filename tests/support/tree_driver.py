"""The secret learner's use of its watch (:mod:`codeward.privacy.tree_watch`), judged by a full walk.

What :class:`codeward.privacy.learn.WorkspaceSecrets` does with the watch, without the scanning:
ask the watch, else walk and let the watch cover the walk. Tests compare each answer with a fresh
walk and count how often the watch answered (a watch that always fell back to walking would pass
the first check and save nothing).
"""

from __future__ import annotations

from pathlib import Path

from codeward.privacy import tree_walk, tree_watch


class Driver:
    def __init__(self, root: Path) -> None:
        self.root = str(root)
        self.watch = tree_watch.TreeWatch(self.root)
        self.stamps = tree_walk.snapshot(self.root)
        self.watch.cover(self.stamps)
        self.answered = 0

    def refresh(self) -> dict[str, str]:
        got = self.watch.current(self.stamps)
        if got is None:
            self.watch.begin_walk()
            self.stamps = tree_walk.snapshot(self.root)
            self.watch.cover(self.stamps)
        else:
            now, changed, gone = got
            moved = {p for p in now.keys() | self.stamps.keys() if now.get(p) != self.stamps.get(p)}
            assert set(changed) | set(gone) == moved
            self.stamps = now
            self.answered += 1
        return self.stamps

    def stale(self) -> dict[str, tuple[str | None, str | None]]:
        """Entries whose stamp after a refresh differs from a full walk's (empty: the watch is right)."""
        now, full = self.refresh(), tree_walk.snapshot(self.root)
        return {p: (now.get(p), full.get(p)) for p in now.keys() | full.keys() if now.get(p) != full.get(p)}

    def check(self) -> None:
        assert self.stale() == {}
