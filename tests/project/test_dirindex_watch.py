"""The directory index's inotify watch (:mod:`codeward.dirindex.watch`) lets a refresh skip its
``lstat`` walk only when nothing can have changed: after every kind of change a command or the host
can make, the watched index says what a fresh walk says.

The oracle is a second index of the same tree, built from nothing; the watch is real inotify on a
real tree. Each change is made once the watch is trusted (a refresh with nothing changed already
``lstat``ed nothing, which is checked first).
"""

from __future__ import annotations

import ctypes
import errno
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.support.watchable import watchable_dir

from codeward import dirindex
from codeward.dirindex import inotify, watch
from codeward.workspace import WATCHED_NAMES

NAMES = frozenset(WATCHED_NAMES)


class KeyRules:
    """Hides ``*.key`` files and ``secrets`` directories, like a small ignore file."""

    key = "key-rules"

    def hides(self, rel: str, is_dir: bool) -> bool:
        name = rel.rsplit("/", 1)[-1]
        return name.endswith(".key") or (is_dir and name == "secrets")


RULES = KeyRules()


@pytest.fixture
def tree(tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    root = watchable_dir(tmp_path, request) / "ws"
    deep = root / "src" / "a" / "b"
    deep.mkdir(parents=True)
    (root / "docs").mkdir()
    (root / "AGENTS.md").write_text("# rules\n")
    (deep / "m.py").write_text("x = 1\n")
    (deep / "old.key").write_text("k\n")
    (root / "docs" / "guide.md").write_text("g\n")
    time.sleep(dirindex.RACY_NS / 1e9 * 1.5)  # nothing racy: the signatures (and the watch) decide
    return root.resolve()


def counted_lstats(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    real = dirindex._lstat
    monkeypatch.setattr(dirindex, "_lstat", lambda p: seen.append(p) or real(p))
    return seen


def watched(root: Path) -> dirindex.DirIndex:
    """An index whose watch is armed and trusted, as in a session's second command."""
    index = dirindex.DirIndex(root, NAMES)
    for _ in range(dirindex.WATCH_AFTER + 2):  # the last walk finds every directory already watched
        index.refresh(RULES)
    assert index.watch is not None and not index.watch.broken
    return index


def view(index: dirindex.DirIndex) -> tuple[set[Path], list[tuple[str, bool]], list[Path]]:
    return index.refresh(RULES), index.hidden_paths(), index.unreadable()


def fresh(root: Path) -> tuple[set[Path], list[tuple[str, bool]], list[Path]]:
    return view(dirindex.DirIndex(root, NAMES))


def test_a_quiet_refresh_lstats_nothing_and_answers_the_same(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    index = watched(tree)
    before = view(index)
    lstats = counted_lstats(monkeypatch)
    assert view(index) == before
    assert lstats == []
    assert fresh(tree) == before and lstats  # the oracle walks
    lstats.clear()
    (tree / "src" / "a" / "b" / "m.py").chmod(0o600)  # a file's mode: no directory's signature moves
    os.utime(tree / "docs" / "guide.md", (1, 1))
    index.refresh(RULES)
    assert lstats == []


def _replace_dir(root: Path) -> None:
    shutil.rmtree(root / "src" / "a")
    (root / "src" / "a" / "b").mkdir(parents=True)
    (root / "src" / "a" / "b" / "new.key").write_text("k\n")


def _swap_in_place(root: Path) -> None:
    """Rename a directory away and another one to its name: every name below is new."""
    other = root / "other"
    other.mkdir()
    (other / "b").mkdir()
    (other / "b" / "planted.key").write_text("k\n")
    (root / "src" / "a").rename(root / "a.orig")
    other.rename(root / "src" / "a")


def _dir_times(root: Path) -> None:
    d = root / "src" / "a" / "b"
    (d / "later.key").write_text("k\n")
    st = os.stat(d)
    os.utime(d, ns=(st.st_atime_ns, st.st_mtime_ns - 10**9))  # mtime set back; ctime moves anyway


def _symlink_to_secret_dir(root: Path) -> None:
    (root / "docs" / "secrets").mkdir()
    (root / "docs" / "secrets" / "x.txt").write_text("x\n")
    (root / "docs" / "link").symlink_to(root / "docs" / "secrets")


def _new_nested_repo(root: Path) -> None:
    (root / "docs" / "vendor" / ".git").mkdir(parents=True)
    (root / "docs" / "vendor" / ".git" / "HEAD").write_text("ref: refs/heads/main\n")


def _unlistable(root: Path) -> None:
    (root / "docs" / "inner.key").write_text("k\n")
    (root / "docs").chmod(0)


CHANGES: dict[str, Callable[[Path], None]] = {
    "new hidden file deep down": lambda r: (r / "src" / "a" / "b" / "new.key").write_text("k\n"),
    "new directory with a hidden file": lambda r: (
        (r / "docs" / "n" / "m").mkdir(parents=True),
        (r / "docs" / "n" / "m" / "x.key").write_text("k\n"),
    ),
    "rename an ancestor": lambda r: (r / "src").rename(r / "source"),
    "remove and re-create a directory": _replace_dir,
    "swap another directory in under the name": _swap_in_place,
    "rename a hidden file to an ordinary name": lambda r: (r / "src/a/b/old.key").rename(r / "src/a/b/plain.txt"),
    "rename an ordinary file to a hidden name": lambda r: (r / "docs/guide.md").rename(r / "docs/guide.key"),
    "hard link under a hidden name": lambda r: os.link(r / "docs/guide.md", r / "docs/copy.key"),
    "protected name created": lambda r: (r / "docs" / "AGENTS.md").write_text("x\n"),
    "protected name removed": lambda r: (r / "AGENTS.md").unlink(),
    "a directory's times set back": _dir_times,
    "symlink to a hidden directory": _symlink_to_secret_dir,
    "new nested repository": _new_nested_repo,
    "directory made unlistable": _unlistable,
    "the tree removed below the root": lambda r: shutil.rmtree(r / "src"),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_every_change_is_seen_by_the_next_refresh(tree: Path, change: str) -> None:
    index = watched(tree)
    before = view(index)
    assert index.watch is not None and index.watch.quiet() is True
    CHANGES[change](tree)
    try:
        want = fresh(tree)
        assert want != before  # the change shows in the view
        assert view(index) == want
    finally:
        if (tree / "docs").exists():
            (tree / "docs").chmod(0o755)


def test_control_without_the_watch_a_change_after_a_trusted_refresh_is_missed(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the watch's events stand for: a trusted watch that reads no events would skip the walk
    and miss the new file (so the tests above can fail)."""
    index = watched(tree)
    monkeypatch.setattr(watch.inotify, "queued_events", lambda fd: iter(()))
    (tree / "src" / "a" / "b" / "new.key").write_text("k\n")
    assert view(index) != fresh(tree)


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting needs root")
def test_a_mount_over_an_indexed_directory_is_seen(tree: Path) -> None:
    """A mount changes what a path shows and makes no inotify event; the mount table's does."""
    index = watched(tree)
    libc = ctypes.CDLL(None, use_errno=True)
    target = os.fsencode(tree / "docs")
    if libc.mount(b"tmpfs", target, b"tmpfs", 0, None) != 0:
        pytest.skip(f"cannot mount here: {os.strerror(ctypes.get_errno())}")
    try:
        (tree / "docs" / "mounted.key").write_text("k\n")
        assert view(index) == fresh(tree)
        assert any(p.endswith("docs/mounted.key") for p, _ in index.hidden_paths())
    finally:
        libc.umount2(target, 2)


def test_no_watch_left_for_it_means_the_walk_as_before(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The watch limit (here: a kernel that refuses every watch) gives up the watch, not the view."""
    monkeypatch.setattr(watch.inotify, "add_watch", lambda fd, path, mask: -errno.ENOSPC)
    index = dirindex.DirIndex(tree, NAMES)
    for _ in range(dirindex.WATCH_AFTER + 3):
        index.refresh(RULES)
    assert index.watch is not None and index.watch.broken.startswith("cannot watch")
    lstats = counted_lstats(monkeypatch)
    (tree / "docs" / "late.key").write_text("k\n")
    assert view(index) == fresh(tree)
    assert str(tree / "docs") in lstats


def test_a_tree_too_large_for_its_share_of_watches_is_not_watched(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The new-names watch refuses commands when it runs out of watches; this one, which only saves
    time, never takes more than its share."""
    monkeypatch.setattr(watch, "max_user_watches", lambda: 5)
    index = dirindex.DirIndex(tree, NAMES)
    for _ in range(dirindex.WATCH_AFTER + 3):
        index.refresh(RULES)
    assert index.watch is None


def test_a_process_keeps_few_watches(tmp_path: Path) -> None:
    """inotify descriptors are 128 per user: starting one more than the process keeps closes the oldest."""
    indexes = []
    for i in range(dirindex.KEPT_WATCHES + 1):
        root = tmp_path / f"w{i}"
        (root / "d").mkdir(parents=True)
        index = dirindex.DirIndex(root, NAMES)
        for _ in range(dirindex.WATCH_AFTER + 1):
            index.refresh(RULES)
        indexes.append(index)
    first = indexes[0].watch
    assert first is not None and first.broken.startswith("closed")
    assert all(i.watch is not None and not i.watch.broken for i in indexes[1:])
    (tmp_path / "w0" / "d" / "new.key").write_text("k\n")
    assert view(indexes[0]) == fresh(tmp_path / "w0")  # the closed one walks again


def test_the_kernel_interface_reports_what_the_watch_relies_on(tmp_path: Path) -> None:
    """The event kinds the watch counts, as the kernel reports them for a watched directory."""
    fd = inotify.init()
    try:
        d = tmp_path / "d"
        d.mkdir()
        assert inotify.add_watch(fd, str(d), watch.MASK) >= 0
        (d / "f").write_text("x")
        os.chmod(d / "f", 0o600)
        os.chmod(d, 0o700)
        events = [(mask, raw) for _, mask, _, raw in inotify.queued_events(fd)]
        assert (inotify.IN_CREATE, b"f") in events
        assert (inotify.IN_ATTRIB, b"f") in events  # a file's: ignored by the watch
        assert any(m & inotify.IN_ATTRIB and raw == b"" for m, raw in events)  # the directory's own
        assert inotify.add_watch(fd, str(tmp_path / "missing"), watch.MASK) == -errno.ENOENT
    finally:
        os.close(fd)
