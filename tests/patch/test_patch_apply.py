"""The applier on a real file system: confinement, links, stale plans, modes, and full rollback.

Mid-way failures (disk full, a rename refused, an interrupt) are injected by wrapping the ``os``
calls the applier makes, because a test cannot make a real disk fail on the Nth write; everything
else is the real file system (and real git where a user meets it).
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from patch_helpers import snapshot

from codeward.patch import (
    FileChange,
    PatchError,
    apply_changes,
    apply_patch_text,
    parse_patch,
    plan_patch,
    read_workspace_file,
    workspace_reader,
)
from codeward.workspace import Workspace


def patch(*lines: str) -> str:
    return "\n".join(["*** Begin Patch", *lines, "*** End Patch"])


def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)


BIG = patch(
    "*** Update File: a.txt",
    "@@",
    "-a",
    "+A",
    "*** Delete File: b.txt",
    "*** Add File: new/deep/c.txt",
    "+c",
    "*** Update File: d.txt",
    "*** Move to: moved/d.txt",
    "@@",
    "-d",
    "+D",
    "*** Update File: e.txt",
    "@@",
    "-e",
    "+E",
)
BIG_FILES = {"a.txt": "a\n", "b.txt": "b\n", "d.txt": "d\n", "e.txt": "e\n"}


def test_apply_writes_every_change(ws: Workspace) -> None:
    write(ws.root, BIG_FILES)
    apply_patch_text(BIG, ws)
    assert snapshot(ws.root) == {
        "a.txt": b"A\n",
        "new/": None,
        "new/deep/": None,
        "new/deep/c.txt": b"c\n",
        "moved/": None,
        "moved/d.txt": b"D\n",
        "e.txt": b"E\n",
    }


class FailOn:
    """Wraps an ``os`` function so that its ``n``-th call (1-based) raises ``exc``."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, name: str, n: int, exc: BaseException) -> None:
        self.real: Callable[..., Any] = getattr(os, name)
        self.calls = 0
        self.n = n
        self.exc = exc
        monkeypatch.setattr(os, name, self)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        if self.calls == self.n:
            raise self.exc
        return self.real(*args, **kwargs)


@pytest.mark.parametrize(
    ("name", "n"),
    [
        ("fsync", 2),  # staging: the disk fills up while writing the second new content
        ("link", 1),  # commit: the first backup link fails (falls back to a copy) ...
        ("replace", 1),  # commit: the first update cannot be renamed into place
        ("replace", 2),  # commit: the last update fails after a delete, an add and a move
        ("rename", 2),  # commit: moving the old file of the move aside fails
        ("mkdir", 2),  # staging: the second new directory cannot be created
    ],
)
def test_failure_midway_restores_the_tree(ws: Workspace, monkeypatch: pytest.MonkeyPatch, name: str, n: int) -> None:
    write(ws.root, BIG_FILES)
    (ws.root / "e.txt").chmod(0o751)
    before = snapshot(ws.root)
    modes = {p: stat.S_IMODE(os.stat(ws.root / p).st_mode) for p in BIG_FILES}
    changes = plan_patch(parse_patch(BIG), workspace_reader(ws))
    failing = FailOn(monkeypatch, name, n, OSError(errno.ENOSPC, "No space left on device"))
    if name == "link":
        # a failing hard link is not fatal: the backup is copied instead, and the patch succeeds
        apply_changes(changes, ws)
        assert failing.calls >= n
        assert (ws.root / "a.txt").read_bytes() == b"A\n"
        return
    with pytest.raises(PatchError) as info:
        apply_changes(changes, ws)
    assert failing.calls >= n
    assert "No space left on device" in str(info.value)
    assert "nothing was changed" in str(info.value)
    monkeypatch.undo()
    assert snapshot(ws.root) == before  # no stray temp/backup files, new directories removed
    assert {p: stat.S_IMODE(os.stat(ws.root / p).st_mode) for p in BIG_FILES} == modes


def test_interrupt_midway_restores_the_tree_and_propagates(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    write(ws.root, BIG_FILES)
    before = snapshot(ws.root)
    changes = plan_patch(parse_patch(BIG), workspace_reader(ws))
    FailOn(monkeypatch, "replace", 2, KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        apply_changes(changes, ws)
    monkeypatch.undo()
    assert snapshot(ws.root) == before


def test_a_failed_restore_is_reported_with_the_backup_location(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    write(ws.root, BIG_FILES)
    changes = plan_patch(parse_patch(BIG), workspace_reader(ws))
    real_replace = os.replace
    calls = {"n": 0}

    def replace(src: Any, dst: Any) -> None:
        calls["n"] += 1
        if calls["n"] >= 2:  # the second update fails, and so does every restore after it
            raise OSError(errno.EIO, "Input/output error")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(PatchError) as info:
        apply_changes(changes, ws)
    msg = str(info.value)
    assert "could not be restored" in msg
    assert "its original is kept at" in msg
    backup = Path(msg.split("its original is kept at ")[1].split(")")[0])
    monkeypatch.undo()
    assert backup.read_bytes() in {b"a\n", b"b\n", b"d\n"}


def test_symlink_inside_pointing_outside_is_refused(ws: Workspace, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret\n")
    (ws.root / "out").symlink_to(outside)
    (ws.root / "link.txt").symlink_to(outside / "secret.txt")
    before_out, before_ws = snapshot(outside), snapshot(ws.root)
    for text in (
        patch("*** Add File: out/new.txt", "+x"),
        patch("*** Update File: out/secret.txt", "@@", "-secret", "+owned"),
        patch("*** Update File: link.txt", "@@", "-secret", "+owned"),
        patch("*** Delete File: link.txt"),
        patch("*** Add File: ok.txt", "+x", "*** Update File: link.txt", "*** Move to: stolen.txt"),
    ):
        with pytest.raises(PatchError) as info:
            apply_patch_text(text, ws)
        assert "symlink" in str(info.value) or "symbolic link" in str(info.value)
        assert snapshot(outside) == before_out
        assert snapshot(ws.root) == before_ws


def test_symlink_inside_pointing_inside_is_refused_not_followed(ws: Workspace) -> None:
    write(ws.root, {"real/file.txt": "x\n"})
    (ws.root / "alias").symlink_to("real")
    (ws.root / "file-link.txt").symlink_to("real/file.txt")
    before = snapshot(ws.root)
    with pytest.raises(PatchError, match=r"^alias/file.txt: alias is a symbolic link; .*real path$"):
        apply_patch_text(patch("*** Update File: alias/file.txt", "@@", "-x", "+y"), ws)
    with pytest.raises(PatchError, match=r"^file-link.txt: file-link.txt is a symbolic link"):
        apply_patch_text(patch("*** Delete File: file-link.txt"), ws)
    assert snapshot(ws.root) == before
    apply_patch_text(patch("*** Update File: real/file.txt", "@@", "-x", "+y"), ws)
    assert (ws.root / "real/file.txt").read_text() == "y\n"


def test_changed_since_planned_is_refused(ws: Workspace) -> None:
    write(ws.root, {"a.txt": "a\n", "b.txt": "b\n"})
    changes = plan_patch(
        parse_patch(patch("*** Update File: a.txt", "@@", "-a", "+A", "*** Add File: c.txt", "+c")),
        workspace_reader(ws),
    )
    (ws.root / "a.txt").write_text("a changed by someone\n")
    before = snapshot(ws.root)
    with pytest.raises(PatchError, match=r"^a\.txt: the file changed since the patch was planned"):
        apply_changes(changes, ws)
    assert snapshot(ws.root) == before

    (ws.root / "a.txt").write_text("a\n")
    (ws.root / "c.txt").write_text("appeared\n")
    with pytest.raises(PatchError, match=r"^c\.txt: the file changed since"):
        apply_changes(changes, ws)
    assert (ws.root / "a.txt").read_text() == "a\n"
    assert (ws.root / "c.txt").read_text() == "appeared\n"

    os.unlink(ws.root / "c.txt")
    os.unlink(ws.root / "a.txt")
    with pytest.raises(PatchError, match=r"^a\.txt: the file changed since"):
        apply_changes(changes, ws)
    assert not (ws.root / "c.txt").exists()


def test_move_source_or_target_changed_since_planned(ws: Workspace) -> None:
    write(ws.root, {"a.txt": "a\n"})
    changes = plan_patch(parse_patch(patch("*** Update File: a.txt", "*** Move to: b.txt")), workspace_reader(ws))
    (ws.root / "b.txt").write_text("b\n")
    with pytest.raises(PatchError, match=r"^b\.txt: the file changed since"):
        apply_changes(changes, ws)
    os.unlink(ws.root / "b.txt")
    (ws.root / "a.txt").write_text("A\n")
    with pytest.raises(PatchError, match=r"^a\.txt: the file changed since"):
        apply_changes(changes, ws)
    assert snapshot(ws.root) == {"a.txt": b"A\n"}


def test_file_appearing_between_verify_and_commit_is_not_clobbered(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(ws.root, {"a.txt": "a\n"})
    changes = plan_patch(
        parse_patch(patch("*** Update File: a.txt", "@@", "-a", "+A", "*** Add File: race.txt", "+mine")),
        workspace_reader(ws),
    )
    real_replace = os.replace

    def replace(src: Any, dst: Any) -> None:
        real_replace(src, dst)
        if Path(dst).name == "a.txt" and not (ws.root / "race.txt").exists():
            (ws.root / "race.txt").write_text("theirs\n")  # another process creates it meanwhile

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(PatchError, match=r"^race\.txt: the file changed since"):
        apply_changes(changes, ws)
    monkeypatch.undo()
    assert snapshot(ws.root) == {"a.txt": b"a\n", "race.txt": b"theirs\n"}


def test_modes_are_kept_and_new_files_follow_the_umask(ws: Workspace) -> None:
    write(ws.root, {"run.sh": "echo a\n", "mv.sh": "echo m\n", "ro.txt": "r\n"})
    os.chmod(ws.root / "run.sh", 0o754)
    os.chmod(ws.root / "mv.sh", 0o700)
    os.chmod(ws.root / "ro.txt", 0o444)
    old_umask = os.umask(0o027)
    try:
        apply_patch_text(
            patch(
                "*** Update File: run.sh",
                "@@",
                "-echo a",
                "+echo b",
                "*** Update File: mv.sh",
                "*** Move to: bin/mv.sh",
                "*** Update File: ro.txt",
                "@@",
                "-r",
                "+R",
                "*** Add File: new.txt",
                "+n",
            ),
            ws,
        )
    finally:
        os.umask(old_umask)

    def mode(rel: str) -> int:
        return stat.S_IMODE(os.stat(ws.root / rel).st_mode)

    assert (mode("run.sh"), mode("bin/mv.sh"), mode("ro.txt"), mode("new.txt")) == (0o754, 0o700, 0o444, 0o640)
    assert (ws.root / "ro.txt").read_text() == "R\n"


def test_hard_links_unsupported_falls_back(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    write(ws.root, BIG_FILES)

    def no_link(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_link)
    apply_patch_text(BIG, ws)
    monkeypatch.undo()
    assert snapshot(ws.root)["new/deep/c.txt"] == b"c\n"
    assert snapshot(ws.root)["a.txt"] == b"A\n"
    assert sorted(p for p in snapshot(ws.root) if not p.endswith("/")) == [
        "a.txt",
        "e.txt",
        "moved/d.txt",
        "new/deep/c.txt",
    ]


def test_backup_copy_failing_leaves_nothing_behind(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    write(ws.root, BIG_FILES)
    before = snapshot(ws.root)
    changes = plan_patch(parse_patch(BIG), workspace_reader(ws))

    def copystat_fails(*args: Any, **kwargs: Any) -> None:  # the data is copied, then the copy fails
        raise OSError(errno.ENOSPC, "No space left on device")

    FailOn(monkeypatch, "link", 1, OSError(errno.EPERM, "Operation not permitted"))  # no hard link: copy
    monkeypatch.setattr(shutil, "copystat", copystat_fails)
    with pytest.raises(PatchError, match="No space left on device"):
        apply_changes(changes, ws)
    monkeypatch.undo()
    assert snapshot(ws.root) == before


def test_directories_and_odd_paths_are_refused(ws: Workspace) -> None:
    write(ws.root, {"dir/x.txt": "x\n", "file.txt": "f\n"})
    os.mkfifo(ws.root / "fifo")
    cases = {
        patch("*** Delete File: dir"): "dir: is a directory",
        patch("*** Update File: dir", "@@", "-x", "+y"): "dir: is a directory",
        patch("*** Add File: dir", "+x"): "dir: is a directory",
        patch("*** Add File: file.txt/sub.txt", "+x"): "file.txt/sub.txt: a parent of this path is a file",
        patch("*** Delete File: fifo"): "fifo: is not a regular file",
    }
    before = snapshot(ws.root)
    for text, message in cases.items():
        with pytest.raises(PatchError) as info:
            apply_patch_text(text, ws)
        assert message in str(info.value)
    assert snapshot(ws.root) == before


def test_apply_changes_refuses_inconsistent_or_duplicate_changes(ws: Workspace) -> None:
    write(ws.root, {"a": "a\n"})
    bad = [
        [FileChange(path="a", kind="add", old_path=None, old=b"a\n", new=b"x")],
        [FileChange(path="a", kind="delete", old_path=None, old=b"a\n", new=b"x")],
        [FileChange(path="b", kind="add", old_path="a", old=None, new=b"x")],
        [
            FileChange(path="a", kind="update", old_path=None, old=b"a\n", new=b"1"),
            FileChange(path="a", kind="update", old_path=None, old=b"a\n", new=b"2"),
        ],
        [FileChange(path="../x", kind="add", old_path=None, old=None, new=b"x")],
        [FileChange(path="/etc/x", kind="add", old_path=None, old=None, new=b"x")],
    ]
    for changes in bad:
        with pytest.raises(PatchError):
            apply_changes(changes, ws)
    assert snapshot(ws.root) == {"a": b"a\n"}
    apply_changes([], ws)
    assert snapshot(ws.root) == {"a": b"a\n"}


def test_paths_are_relative_to_the_workspace_cwd(tmp_path: Path) -> None:
    root = (tmp_path / "repo").resolve()
    (root / "pkg").mkdir(parents=True)
    (root / "pkg/m.txt").write_text("x\n")
    ws = Workspace(root=root, cwd=root / "pkg")
    changes = apply_patch_text(patch("*** Update File: m.txt", "@@", "-x", "+y", "*** Add File: sub/n.txt", "+n"), ws)
    assert [c.path for c in changes] == ["pkg/m.txt", "pkg/sub/n.txt"]
    assert (root / "pkg/m.txt").read_text() == "y\n"
    assert (root / "pkg/sub/n.txt").read_text() == "n\n"


def test_delete_keeps_the_emptied_directory(ws: Workspace) -> None:
    write(ws.root, {"d/only.txt": "x\n"})
    apply_patch_text(patch("*** Delete File: d/only.txt"), ws)
    assert snapshot(ws.root) == {"d/": None}


def test_read_workspace_file(ws: Workspace) -> None:
    write(ws.root, {"a.txt": "a\n"})
    assert read_workspace_file(ws, "a.txt") == b"a\n"
    assert read_workspace_file(ws, "missing.txt") is None
    assert read_workspace_file(ws, "no/such/dir.txt") is None
    with pytest.raises(PatchError, match=r"contains '\.\.'"):
        read_workspace_file(ws, "../x")


def test_git_sees_only_the_patched_files(git_repo: Path) -> None:
    (git_repo / "src").mkdir()
    (git_repo / "src/app.txt").write_text("one\ntwo\n")
    subprocess.run(["git", "add", "-A"], cwd=git_repo, check=True, capture_output=True)
    subprocess.run(["git", "commit", "-qm", "add app"], cwd=git_repo, check=True, capture_output=True)
    ws = Workspace.discover(git_repo / "src")
    apply_patch_text(
        patch("*** Update File: app.txt", "@@", " one", "-two", "+2", "*** Add File: new.txt", "+n"),
        ws,
    )
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=git_repo,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert sorted(status.splitlines()) == [" M src/app.txt", "?? src/new.txt"]
    diff = subprocess.run(["git", "diff"], cwd=git_repo, check=True, capture_output=True, text=True).stdout
    assert "-two\n+2\n" in diff
