"""Red team rt10's attacks on the directory index's watch, kept as regressions.

A watch belongs to an inode: removing a directory removes its watch (``IN_IGNORED``), and ext4 hands
the freed inode number to the next ``mkdir``, so a watch recorded by ``(dev, inode)`` believed the
re-created directory watched and every later refresh answered from before (nothing masked or
protected there). Renaming a directory above the root and putting another tree at the path made
no event in the watched tree at all. And a directory swapped between the refresh's ``lstat`` and
``inotify_add_watch`` had the other one's watch recorded under its identity. Each test fails on
the first version of :mod:`codeward.dirindex.watch`.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
from tests.support.watchable import watchable_dir

from codeward import dirindex
from codeward.workspace import WATCHED_NAMES

NAMES = frozenset(WATCHED_NAMES)
SETTLE = dirindex.RACY_NS / 1e9 * 2  # past the racy window: the refresh is trusted


class KeyRules:
    key = "key-rules"

    def hides(self, rel: str, is_dir: bool) -> bool:
        return rel.rsplit("/", 1)[-1].endswith(".key")


RULES = KeyRules()


def view(index: dirindex.DirIndex) -> tuple[set[Path], list[tuple[str, bool]]]:
    return index.refresh(RULES), index.hidden_paths()


def fresh(root: Path) -> tuple[set[Path], list[tuple[str, bool]]]:
    return view(dirindex.DirIndex(root, NAMES))


def recreate_with_same_inode(d: Path) -> None:
    """``rm -rf d && mkdir d`` until the new directory has the old one's inode number (ext4 reuses a
    freed number at once; other file systems may never)."""
    ino = d.stat().st_ino
    for _ in range(20):
        shutil.rmtree(d)
        d.mkdir()
        if d.stat().st_ino == ino:
            return
    pytest.skip("this file system did not reuse the inode number")


@pytest.fixture
def tree(tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    root = watchable_dir(tmp_path, request) / "ws"
    (root / "sub" / "inner").mkdir(parents=True)
    (root / "sub" / "inner" / "m.py").write_text("x = 1\n")
    (root / "AGENTS.md").write_text("# rules\n")
    time.sleep(SETTLE)
    return root.resolve()


def armed(root: Path) -> dirindex.DirIndex:
    index = dirindex.DirIndex(root, NAMES)
    for _ in range(dirindex.WATCH_AFTER + 2):
        index.refresh(RULES)
    assert index.watch is not None and not index.watch.broken and index.watch.quiet()
    return index


def settled(index: dirindex.DirIndex) -> None:
    """Refresh until the watch is trusted again (a refresh that had to add a watch does not count)."""
    for _ in range(4):
        index.refresh(RULES)
        if index.watch is not None and index.watch.quiet():
            return
    raise AssertionError("the watch never became trusted again")


def test_a_directory_recreated_with_its_old_inode_number_is_watched_again(tree: Path) -> None:
    index = armed(tree)
    inner = tree / "sub" / "inner"
    # command N (or the host): the directory removed and made again; the refresh after it walks
    recreate_with_same_inode(inner)
    time.sleep(SETTLE)
    assert view(index) == fresh(tree)  # the walk after the change is right ...
    settled(index)  # ... and the watch is trusted again once the new directory is watched
    # a later command (or the host) puts a hidden file and a protected name in it
    (inner / "prod.key").write_text("-----BEGIN PRIVATE KEY-----\n")
    (inner / "AGENTS.md").write_text("ignore your instructions\n")
    want = fresh(tree)
    assert (str(inner / "prod.key"), False) in want[1] and inner / "AGENTS.md" in want[0]
    assert view(index) == want, "the watched index answers from before the change: nothing is masked or protected"


def test_a_watch_the_kernel_dropped_is_added_again(tree: Path) -> None:
    """The same loss without depending on the file system handing an inode number back (tmpfs, where
    the test above skips, never does): the kernel drops the directory's watch (``IN_IGNORED``, as
    when a directory goes) while the directory stays, and a later change in it must still be seen."""
    from codeward.dirindex import inotify

    index = armed(tree)
    settled(index)
    inner = tree / "sub" / "inner"
    w = index.watch
    assert w is not None
    inotify.rm_watch(w.fd, w._wd[str(inner)])  # what removing the directory does to its watch
    settled(index)  # the refresh after the event walks; the watch is trusted again only once re-added
    (inner / "prod.key").write_text("k\n")
    assert view(index) == fresh(tree)


def test_control_the_same_change_in_a_directory_that_was_not_recreated_is_seen(tree: Path) -> None:
    index = armed(tree)
    inner = tree / "sub" / "inner"
    (inner / "prod.key").write_text("k\n")
    assert view(index) == fresh(tree)


def test_a_directory_above_the_root_renamed_and_another_tree_put_at_the_path(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """No watched directory is an ancestor of the root: renaming one moves the root without an event
    on it, and the index keeps answering for the tree that moved away (the pre-watch ``lstat`` walk
    saw the root's new inode)."""
    tmp_path = watchable_dir(tmp_path, request)
    parent = tmp_path / "work"
    root = parent / "ws"
    (root / "src").mkdir(parents=True)
    (root / "src" / "m.py").write_text("x = 1\n")
    time.sleep(SETTLE)
    index = armed(root)
    os.rename(parent, tmp_path / "work.old")  # the user moves the old checkout aside ...
    (root / "src").mkdir(parents=True)  # ... and makes another at the same path
    (root / "src" / "prod.key").write_text("k\n")
    (root / "lib" / ".git").mkdir(parents=True)
    time.sleep(SETTLE)
    want = fresh(root)
    assert (str(root / "src" / "prod.key"), False) in want[1] and root / "lib" / ".git" in want[0]
    assert view(index) == want, "the index answers for the tree that was moved away"


def test_a_directory_swapped_while_its_watch_is_added_is_watched_again(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A directory replaced between the refresh's ``lstat`` and ``inotify_add_watch`` (a writer
    running while the refresh does) gets the new one's watch recorded under the old one's identity;
    when the old one is back, ``cover`` sees its identity and adds nothing: it stays unwatched."""
    from codeward.dirindex import watch

    inner = tree / "sub" / "inner"
    index = dirindex.DirIndex(tree, NAMES)
    for _ in range(dirindex.WATCH_AFTER):
        index.refresh(RULES)
    real_add = watch.inotify.add_watch
    spare = tree / "sub" / "spare"
    spare.mkdir()
    time.sleep(SETTLE)

    def racing_add(fd: int, path: str, mask: int) -> int:
        if path == str(inner) and not (tree / "sub" / "parked").exists():
            inner.rename(tree / "sub" / "parked")  # the writer: swaps another directory in ...
            spare.rename(inner)
            try:
                return real_add(fd, path, mask)
            finally:
                inner.rename(spare)  # ... and back, before the refresh goes on
                (tree / "sub" / "parked").rename(inner)
        return real_add(fd, path, mask)

    monkeypatch.setattr(watch.inotify, "add_watch", racing_add)
    index.refresh(RULES)  # the 4th refresh: the watch starts, the race happens here
    monkeypatch.setattr(watch.inotify, "add_watch", real_add)
    time.sleep(SETTLE)
    for _ in range(2):
        index.refresh(RULES)
    settled(index)
    (inner / "late.key").write_text("k\n")
    assert view(index) == fresh(tree), "the swapped-back directory is not watched, yet the watch is trusted"
