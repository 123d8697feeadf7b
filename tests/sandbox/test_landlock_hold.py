"""Holding hidden paths out of a Landlock command's tree, and putting them back by identity.

Pure filesystem tests (no sandbox): what a command may have done meanwhile is simulated by the
test between :func:`hold.take` and :meth:`Hold.restore`, and the outcome is judged on disk.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from codeward.sandbox import anchors as anchors_mod
from codeward.sandbox import hold


@pytest.fixture
def ws(tmp_path: Path) -> dict[str, Path]:
    root = tmp_path / "ws"
    home = tmp_path / "cwhome"
    (root / "config").mkdir(parents=True)
    (root / "secrets").mkdir()
    home.mkdir()
    (root / ".env").write_text("ENV\n")
    (root / "config" / "production.yml").write_text("PROD\n")
    (root / "config" / "dev.yml").write_text("dev\n")
    (root / "secrets" / "token").write_text("TOKEN\n")
    return {"root": root, "home": home}


def _take(ws: dict[str, Path], *rel: str) -> hold.Hold:
    root = ws["root"]
    return hold.take(ws["home"], root, [root], [root / r for r in rel])


def _ident(p: Path) -> tuple[int, int]:
    st = p.lstat()
    return st.st_dev, st.st_ino


def test_held_paths_leave_the_tree_and_come_back_by_identity(ws: dict[str, Path]) -> None:
    root = ws["root"]
    before = {r: _ident(root / r) for r in (".env", "config/production.yml", "secrets")}
    h = _take(ws, ".env", "config/production.yml", "secrets", "secrets/token")
    assert not (root / ".env").exists() and not (root / "secrets").exists()
    assert not (root / "config" / "production.yml").exists() and (root / "config" / "dev.yml").exists()
    assert len(h.items) == 3  # secrets/token travels inside secrets/
    assert all(not hold.is_within(d, root) for d in h.dirs)
    assert h.restore() == []
    assert {r: _ident(root / r) for r in before} == before
    assert (root / "secrets" / "token").read_text() == "TOKEN\n"
    assert not any(d.exists() for d in h.dirs)


def test_renamed_or_replaced_ancestors_do_not_take_the_secret_along(ws: dict[str, Path], tmp_path: Path) -> None:
    root = ws["root"]
    outside = tmp_path / "outside"
    outside.mkdir()
    h = _take(ws, "config/production.yml")
    # the command: rename the ancestor, then plant a link where it was, pointing outside
    os.rename(root / "config", root / "cfg")
    os.symlink(outside, root / "config")
    notes = h.restore()
    assert (root / "config").is_dir() and not (root / "config").is_symlink()
    assert (root / "config" / "production.yml").read_text() == "PROD\n"
    assert not (outside / "production.yml").exists()  # never written through the planted link
    assert (root / "config.from-sandbox").is_symlink()  # the command's link, moved aside, not deleted
    assert not (root / "cfg" / "production.yml").exists()
    assert any("config.from-sandbox" in n for n in notes)


def test_a_new_entry_at_the_held_name_is_moved_aside_not_overwritten(ws: dict[str, Path]) -> None:
    root = ws["root"]
    h = _take(ws, ".env")
    (root / ".env").write_text("MADE BY COMMAND\n")
    notes = h.restore()
    assert (root / ".env").read_text() == "ENV\n"
    assert (root / ".env.from-sandbox").read_text() == "MADE BY COMMAND\n"
    assert notes == [".env (made by the command) moved to .env.from-sandbox"]


def test_a_missing_parent_is_recreated(ws: dict[str, Path]) -> None:
    root = ws["root"]
    h = _take(ws, "config/production.yml")
    (root / "config" / "dev.yml").unlink()
    (root / "config").rmdir()
    h.restore()
    assert (root / "config" / "production.yml").read_text() == "PROD\n"


def test_a_crash_is_recovered_by_the_next_run(ws: dict[str, Path]) -> None:
    """Codeward killed while a command ran: the journal names every slot; the next take puts them back."""
    root = ws["root"]
    h = _take(ws, ".env", "secrets")
    journal = json.loads(h.journal.read_text())
    assert {row[1] for row in journal} == {".env", "secrets"}
    os.close(h.lock_fd)  # the process died: the kernel drops its lock, nothing was restored
    assert not (root / ".env").exists()
    again = _take(ws)
    assert (root / ".env").read_text() == "ENV\n" and (root / "secrets" / "token").read_text() == "TOKEN\n"
    assert again.recovered
    again.restore()
    assert not h.journal.exists()


def test_other_mount_is_left_for_freezing(ws: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    root = ws["root"]
    real = os.rename

    def exdev(src: object, dst: object, **kw: object) -> None:
        if kw:
            return real(src, dst, **kw)  # type: ignore[arg-type]
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(os, "rename", exdev)
    h = _take(ws, ".env")
    monkeypatch.setattr(os, "rename", real)
    assert h.items == [] and h.left == [root / ".env"]
    assert (root / ".env").read_text() == "ENV\n"
    h.restore()


def test_holding_dirs_are_outside_every_tree(ws: dict[str, Path]) -> None:
    root = ws["root"]
    dirs = list(hold._candidates(ws["home"], root, root, [root]))
    assert dirs and not any(hold.is_within(d, root) or hold.is_within(root, d) for d in dirs)
    # a tree that contains the codeward home: the home is not used for holding
    dirs = list(hold._candidates(ws["home"], root.parent, root.parent, [root.parent]))
    assert not any(hold.is_within(d, root.parent) for d in dirs)
    # what the tier hides: the holding dirs that exist
    assert hold.holding_dirs(ws["home"], root, [root]) == []
    h = _take(ws, ".env")
    assert hold.holding_dirs(ws["home"], root, [root]) == h.dirs
    h.restore()


def test_what_cannot_be_put_back_stays_in_the_journal(ws: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    root = ws["root"]
    h = _take(ws, "config/production.yml")
    real = os.rename

    def failing(src: object, dst: object, **kw: object) -> None:
        if "dst_dir_fd" in kw and "src_dir_fd" not in kw:
            raise OSError(5, "Input/output error")  # the way back fails (a disk error, a full quota)
        real(src, dst, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "rename", failing)
    notes = h.restore()
    monkeypatch.setattr(os, "rename", real)
    assert any("config/production.yml: left in" in n for n in notes)
    assert not (root / "config" / "production.yml").exists()
    assert json.loads(h.journal.read_text())[0][1] == "config/production.yml"
    again = _take(ws)  # the next run puts it back and forgets it
    assert (root / "config" / "production.yml").read_text() == "PROD\n"
    again.restore()
    assert not h.journal.exists()


def test_a_planted_holding_dir_is_not_used(ws: dict[str, Path], tmp_path: Path) -> None:
    """Another user's (or any open) directory at a holding name must never receive the secret."""
    root = ws["root"]
    first = next(hold._candidates(ws["home"], root, root, [root]))
    first.parent.mkdir(parents=True, exist_ok=True)
    first.mkdir(mode=0o777)
    os.chmod(first, 0o777)
    h = _take(ws, ".env")
    assert list(first.iterdir()) == []
    assert h.items and not hold.is_within(Path(h.items[0].slot), first)
    h.restore()
    assert (root / ".env").read_text() == "ENV\n"


def test_sessions_with_different_homes_take_turns(ws: dict[str, Path], tmp_path: Path) -> None:
    import fcntl

    h = _take(ws, ".env")
    fd = os.open(ws["root"], os.O_RDONLY | os.O_DIRECTORY)
    try:
        with pytest.raises(BlockingIOError):
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)  # another session (any home) waits
        h.restore()
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    finally:
        os.close(fd)


def test_anchored_dir_renamed_away_is_moved_back_by_identity(ws: dict[str, Path], tmp_path: Path) -> None:
    root = ws["root"]
    git = root / ".git"
    (git / "hooks").mkdir(parents=True)
    (git / "HEAD").write_text("ref: refs/heads/main\n")
    ident = _ident(git)
    anchors = anchors_mod.Anchors.take([git])
    # the command: move the real one away (even out of the tree), plant its own with a hook
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.rename(git, elsewhere / "stolen")
    (git / "hooks").mkdir(parents=True)
    (git / "hooks" / "pre-commit").write_text("evil\n")
    notes = anchors.restore()
    assert _ident(git) == ident and (git / "HEAD").exists()
    assert not (git / "hooks" / "pre-commit").exists()
    assert (root / ".git.from-sandbox" / "hooks" / "pre-commit").exists()  # moved aside, not deleted
    assert notes and "put back" in notes[0]
    # removed outright: said, not hidden
    anchors = anchors_mod.Anchors.take([git])
    (git / "HEAD").unlink()
    (git / "hooks").rmdir()
    git.rmdir()
    assert "removed" in anchors.restore()[0]


def test_anchor_way_back_does_not_follow_a_linked_ancestor(ws: dict[str, Path], tmp_path: Path) -> None:
    root = ws["root"]
    nested = root / "pkgs" / "lib" / ".git"
    nested.mkdir(parents=True)
    (nested / "HEAD").write_text("ref\n")
    anchors = anchors_mod.Anchors.take([nested])
    trap = tmp_path / "trap"
    (trap / "lib").mkdir(parents=True)
    # the command: move the repository's ancestor away, and link its name to a place of its own
    os.rename(root / "pkgs", root / "moved")
    os.symlink(trap, root / "pkgs")
    notes = anchors.restore()
    assert not (trap / "lib" / ".git").exists()  # never moved out through the link
    assert (root / "moved" / "lib" / ".git" / "HEAD").exists()  # left where the command put it, and said so
    assert notes and "left there" in notes[0]
