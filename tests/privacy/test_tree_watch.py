"""The session's watch of the learner's walk (:mod:`codeward.privacy.tree_watch`).

Judged against the walk it replaces: after every change, what the watch says the tree is must be
exactly what a full walk says now, and the watch must really have answered (not fallen back to a
walk each time, which would pass the first check and save nothing).
"""

from __future__ import annotations

import mmap
import os
import random
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from tests.support.tree_driver import Driver
from tests.support.watchable import watchable_dir

from codeward.privacy import tree_walk, tree_watch
from codeward.privacy.learn import WorkspaceSecrets
from codeward.privacy.scanner import load_scanner


@pytest.fixture
def tree(tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    base = watchable_dir(tmp_path, request)
    root = base / "ws"
    for d in ("src/a", "src/b/c", "docs", ".git/objects/ab", ".git/refs/heads"):
        (root / d).mkdir(parents=True)
    (root / ".git/HEAD").write_text("ref: refs/heads/main\n")
    (root / ".git/config").write_text("[core]\n")
    (root / ".git/index").write_bytes(b"DIRC")
    (root / ".git/objects/ab/cdef").write_bytes(b"x")
    for i in range(20):
        (root / "src/a" / f"f{i}.py").write_text(f"x = {i}\n")
    (root / "src/b/c/deep.txt").write_text("deep\n")
    (root / "docs/readme.md").write_text("# hi\n")
    return root


@pytest.fixture
def driver(tree: Path) -> Driver:
    d = Driver(tree)
    d.refresh()  # the second walk, every directory already watched: the watch is believed from here
    yield d
    d.watch.close()


def test_a_quiet_tree_is_answered_without_a_walk(driver: Driver) -> None:
    for _ in range(3):
        driver.check()
    assert driver.answered == 3
    assert driver.watch.full_walks == 2


def test_ordinary_edits_are_seen_by_the_watch(driver: Driver, tree: Path) -> None:
    steps = [
        lambda: (tree / "src/a/f1.py").write_text("password = 'hunter2hunter2'\n"),
        lambda: (tree / "src/a/new.py").write_text("new\n"),
        lambda: (tree / "src/a/f2.py").unlink(),
        lambda: os.rename(tree / "src/a/f3.py", tree / "docs/f3.py"),
        lambda: os.truncate(tree / "src/a/f4.py", 0),
        lambda: os.chmod(tree / "src/a/f5.py", 0o600),
        lambda: os.utime(tree / "src/a/f6.py", (1, 1)),
        lambda: (tree / "src/new/deeper").mkdir(parents=True),
        lambda: (tree / "src/new/deeper/k.env").write_text("A=1\n"),
        lambda: os.symlink("../docs/readme.md", tree / "src/link"),
        lambda: os.setxattr(tree / "docs/readme.md", "user.note", b"v"),
        lambda: (tree / ".git/config").write_text("[core]\n\tfsmonitor = x\n"),
        lambda: (tree / ".git/objects/ab/new").write_bytes(b"y"),  # an object store: not walked
        lambda: (tree / ".git/index").write_bytes(b"DIRC2"),  # git's index: not walked
        lambda: os.chmod(tree / "src", 0o750),
    ]
    for step in steps:
        step()
        driver.check()
    assert driver.answered == len(steps)


def test_moved_removed_and_replaced_directories(driver: Driver, tree: Path) -> None:
    outside = tree.parent / "outside"
    steps = [
        lambda: os.rename(tree / "src/b", tree / "docs/b"),  # a subtree moved inside
        lambda: (tree / "docs/b/c/after-move.txt").write_text("seen at its new path\n"),
        lambda: os.rename(tree / "docs/b", outside),  # and out
        lambda: (outside / "c/outside.txt").write_text("not ours\n"),
        lambda: os.rename(outside, tree / "src/back"),  # and back, changed while away
        lambda: shutil.rmtree(tree / "src/back"),
        lambda: (tree / "src/back").mkdir(),  # the same name again, maybe the same inode
        lambda: (tree / "src/back/fresh.txt").write_text("fresh\n"),
        lambda: shutil.rmtree(tree / "docs"),
        lambda: (tree / "docs").write_text("a file where a directory was\n"),
        lambda: (os.unlink(tree / "docs"), (tree / "docs").mkdir(), (tree / "docs/x").write_text("x")),
    ]
    for step in steps:
        step()
        driver.check()
    assert driver.answered == len(steps)


def test_a_directory_replaced_by_one_with_its_inode_number_is_listed_again(driver: Driver, tree: Path) -> None:
    """rt10's inode reuse, against this watch: a directory removed and made again, however its
    number comes out, is a new directory whose entries must be seen."""
    d = tree / "src/b/c"
    for i in range(30):
        ino = d.stat().st_ino
        shutil.rmtree(d)
        d.mkdir()
        (d / f"planted{i}.env").write_text("TOKEN=x\n")
        driver.check()
        if d.stat().st_ino == ino:
            break


def test_the_root_moved_away_and_another_tree_put_there_makes_a_walk(driver: Driver, tree: Path) -> None:
    driver.check()
    os.rename(tree, tree.parent / "old")
    (tree / "src").mkdir(parents=True)
    (tree / "src/other.env").write_text("TOKEN=x\n")
    assert driver.watch.current(driver.stamps) is None
    driver.check()


def test_a_write_through_a_second_link_is_seen(tree: Path) -> None:
    """An event goes to the directory of the name written through: a file that has another name
    outside the workspace is looked at again on every refresh (its stamp's link count)."""
    other = tree.parent / "elsewhere.txt"
    os.link(tree / "src/a/f7.py", other)
    driver = Driver(tree)
    driver.refresh()
    try:
        with open(other, "a") as f:  # no event in the workspace
            f.write("password = 'correct-horse-battery'\n")
        driver.check()
        assert driver.answered == 1
    finally:
        driver.watch.close()


def test_a_link_made_from_outside_later_is_seen_within_the_bound(
    driver: Driver, tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Making a second name outside reports nothing to the workspace's directories (the kernel tells
    only a watch on the file itself), so a write through it is the periodic walk's to see."""
    other = tree.parent / "elsewhere.txt"
    os.link(tree / "src/a/f7.py", other)
    with open(other, "a") as f:
        f.write("password = 'correct-horse-battery'\n")
    got = driver.watch.current(driver.stamps)
    assert got is not None and str(tree / "src/a/f7.py") not in got[1]  # the gap the bound covers
    monkeypatch.setattr(tree_watch, "FULL_WALK_EVERY_S", 0.0)
    driver.check()
    assert driver.stamps[str(tree / "src/a/f7.py")] == tree_walk.entry_stamp(str(tree), str(tree / "src/a/f7.py"))


def test_what_no_event_reports_is_seen_by_the_walk_within_the_bound(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write through a shared memory map makes no inotify event (a program that mapped the file
    before the session began, and writes to it since); the periodic full walk sees it."""
    path = tree / "src/a/f8.py"
    path.write_text("x = 8 and some room\n")
    with open(path, "r+b") as f, mmap.mmap(f.fileno(), 0) as m:
        driver = Driver(tree)
        driver.refresh()
        try:
            before = driver.stamps[str(path)]
            m[0:1] = b"y"
            m.flush()
            got = driver.watch.current(driver.stamps)
            assert got is not None and str(path) not in got[1]  # unseen by the watch: the gap the bound covers
            monkeypatch.setattr(tree_watch, "FULL_WALK_EVERY_S", 0.0)
            assert driver.watch.current(driver.stamps) is None
            driver.check()
            assert driver.stamps[str(path)] != before  # the write fault moved its times: the walk sees it
        finally:
            driver.watch.close()


def test_random_changes_match_a_full_walk(driver: Driver, tree: Path) -> None:
    rng = random.Random(7)
    for _ in range(150):
        change = _random_change(rng, tree)
        assert driver.stale() == {}, change
    assert driver.answered > 100


def test_more_changes_than_the_watch_keeps_make_a_walk(
    driver: Driver, tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tree_watch, "MAX_DIRTY", 10)
    for i in range(20):
        (tree / f"src/a/bulk{i}").write_text("b")
    assert driver.watch.current(driver.stamps) is None
    driver.check()


def test_a_mount_over_a_watched_directory_makes_a_walk(driver: Driver, tree: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("mounting needs root")
    target = tree / "src/b"
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(target)], check=True)
    try:
        (target / "under-the-mount.env").write_text("TOKEN=x\n")
        assert driver.watch.current(driver.stamps) is None
        driver.check()
    finally:
        subprocess.run(["umount", str(target)], check=True)


def test_a_session_learner_sees_a_new_secret_through_its_watch(tree: Path) -> None:
    """The learner as a session holds it: from the third refresh on the watch answers, and a file
    the host gives a secret is among the secret files of the next refresh."""
    learner = WorkspaceSecrets(tree, load_scanner(), watch=True)
    try:
        for _ in range(3):
            learner.refresh()
        assert learner.watch is not None
        answered = learner.watch.refreshes
        (tree / "src/a/f9.py").write_text('aws_secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzQ8kW3nV2a"\n')
        found = learner.refresh()
        assert learner.watch.refreshes == answered + 1
        assert learner.watch.full_walks == 2
        assert str(tree / "src/a/f9.py") in learner.secret_paths()
        assert any(v == "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzQ8kW3nV2a" for v, _ in found)
    finally:
        learner.stop()


@pytest.mark.parametrize("seed", [11, 12, 13, 14])
def test_a_background_walk_merged_with_the_events_since_its_mark_matches_a_full_walk(
    driver: Driver, tree: Path, seed: int
) -> None:
    """The periodic walk runs beside the session (:meth:`TreeWatch.mark`, then :meth:`TreeWatch.merge`
    of a listing taken while changes go on): every name an event gave since the mark is looked at
    again, so the merged answer is the tree now; what no event reports is as the walk saw it."""
    rng = random.Random(seed)
    log: list[str] = []
    for round_ in range(25):
        driver.watch.mark()
        for _ in range(4):  # changes before the listing (the walk may or may not see them) ...
            log.append(_random_change(rng, tree))
        walked = tree_walk.snapshot(str(tree))
        log.append("(the walk)")
        for _ in range(4):  # ... and after it
            log.append(_random_change(rng, tree))
        if round_ % 3 == 0:
            driver.check()  # an ordinary refresh in between
            log.append("(a refresh)")
        got = driver.watch.merge(walked, driver.stamps)
        assert got is not None, log[-9:]
        now, changed, gone = got
        assert now == tree_walk.snapshot(str(tree)), log[-9:]
        assert set(changed) | set(gone) == {
            p for p in now.keys() | driver.stamps.keys() if now.get(p) != driver.stamps.get(p)
        }
        driver.stamps = now
    driver.check()
    assert driver.answered >= 4


def test_a_background_walk_sees_what_no_event_reports(tree: Path) -> None:
    path = tree / "src/a/f8.py"
    path.write_text("x = 8 and some room\n")
    with open(path, "r+b") as f, mmap.mmap(f.fileno(), 0) as m:
        driver = Driver(tree)
        driver.refresh()
        try:
            m[0:1] = b"y"  # no event
            m.flush()
            driver.watch.mark()
            got = driver.watch.merge(tree_walk.snapshot(str(tree)), driver.stamps)
            assert got is not None and str(path) in got[1]
            assert driver.watch.current(got[0]) is not None  # still believed: no walk waited for
        finally:
            driver.watch.close()


def test_a_session_learner_walks_in_the_background(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the bound short, refreshes keep answering from the watch while full walks happen beside
    them, and a write no event reports is found by one of those."""
    monkeypatch.setattr(tree_watch, "FULL_WALK_EVERY_S", 3.0)
    path = tree / "src/a/f8.py"
    path.write_text("x = 8 and some room for a key: ................................................\n")
    with open(path, "r+b") as f, mmap.mmap(f.fileno(), 0) as m:
        learner = WorkspaceSecrets(tree, load_scanner(), watch=True)
        try:
            for _ in range(3):
                learner.refresh()
            assert learner.watch is not None
            walks = learner.watch.full_walks
            key = b'aws_secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzQ8kW3nV2a"'
            m[0 : len(key)] = key  # no event
            m.flush()
            deadline = time.monotonic() + 20
            while str(path) not in learner.secret_paths() and time.monotonic() < deadline:
                time.sleep(0.3)
                learner.refresh()
            assert str(path) in learner.secret_paths()
            assert learner.watch.full_walks > walks
        finally:
            learner.stop()


def _random_change(rng: random.Random, tree: Path) -> str:
    """One random change of the tree; what it was (for a failure's message)."""
    now = tree_walk.snapshot(str(tree))
    dirs = [Path(p) for p, s in now.items() if s.startswith("d ") and "/.git" not in p]
    files = [Path(p) for p, s in now.items() if s.startswith("f ") and "/.git" not in p]
    op = rng.choice(["new", "write", "rm", "mv", "mkdir", "rmtree", "mvdir"])
    a: Path | None = None
    b: Path | None = None
    try:
        if op == "new":
            a = rng.choice(dirs) / f"n{rng.randrange(10**6)}"
            a.write_text("n")
        elif op == "write" and files:
            a = rng.choice(files)
            a.write_text(str(rng.random()))
        elif op == "rm" and files:
            a = rng.choice(files)
            a.unlink()
        elif op == "mv" and files:
            a, b = rng.choice(files), rng.choice(dirs) / f"m{rng.randrange(10**6)}"
            os.rename(a, b)
        elif op == "mkdir":
            a = rng.choice(dirs) / f"d{rng.randrange(10**6)}"
            a.mkdir()
        elif op == "rmtree" and len(dirs) > 3:
            a = rng.choice([d for d in dirs if d != tree])
            shutil.rmtree(a)
        elif op == "mvdir" and len(dirs) > 3:
            a, b = rng.choice([d for d in dirs if d != tree]), rng.choice(dirs) / f"r{rng.randrange(10**6)}"
            if not str(b).startswith(str(a) + "/"):
                os.rename(a, b)
    except FileNotFoundError:
        pass
    return f"{op} {a} {b}"
