"""File systems that keep whole seconds (ext2/ext3, ext4 made with ``-I 128``, FAT): a directory
listed at S.4 and changed at S.5 keeps its signature, so the index must not trust the listing.

The coarse clock is played through the index's own hooks (any machine), then met for real on a
loop-mounted ``mkfs.ext4 -I 128`` image where that can be made here.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from codeward import dirindex
from codeward.dirindex import DirIndex

S = 1_000_000_000


class Rules:
    """Hides every ``.env``."""

    key = "env"

    def hides(self, rel: str, is_dir: bool) -> bool:
        return rel.rsplit("/", 1)[-1] == ".env"


class _Stat:
    def __init__(self, st: os.stat_result, ctime_ns: int) -> None:
        self._st = st
        self.st_ctime_ns = ctime_ns

    def __getattr__(self, name: str) -> object:
        return getattr(self._st, name)


def _played(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[DirIndex, Path]:
    """An index whose file system keeps whole seconds and whose clock stands half a second into the
    second the directory last changed in: the listing is 0.5 s after the (truncated) ctime."""
    root = tmp_path / "ws"
    app = root / "app"
    app.mkdir(parents=True)
    monkeypatch.setattr(dirindex, "_lstat", lambda p: _Stat(os.lstat(p), os.lstat(p).st_ctime_ns // S * S))
    second = os.lstat(app).st_ctime_ns // S * S
    monkeypatch.setattr(dirindex, "_now", lambda: second + S // 2)
    index = DirIndex(root, frozenset())
    index.refresh(Rules())
    (app / ".env").write_text("K=v\n")
    monkeypatch.setattr(
        dirindex, "_lstat", lambda p: _Stat(os.lstat(p), second if p == str(app) else os.lstat(p).st_ctime_ns // S * S)
    )
    return index, app


def test_a_change_in_the_same_whole_second_is_seen(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    index, app = _played(tmp_path, monkeypatch)
    assert index.dirs[str(app)].racy  # a whole-second ctime half a second old is not trusted yet
    index.refresh(Rules())
    assert (str(app / ".env"), False) in index.hidden_paths()


def test_control_with_the_fine_window_the_change_is_missed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The attack the window stops: with only the 100 ms tick, the listing at S.5 is trusted and the
    ``.env`` written later in the same second stays visible."""
    monkeypatch.setattr(dirindex, "COARSE_RACY_NS", dirindex.RACY_NS)
    index, app = _played(tmp_path, monkeypatch)
    index.refresh(Rules())
    assert (str(app / ".env"), False) not in index.hidden_paths()


def test_a_fine_ctime_keeps_the_short_window() -> None:
    assert dirindex.racy_window(1_700_000_000 * S + 123_456_789) == dirindex.RACY_NS
    assert dirindex.racy_window(1_700_000_000 * S) >= 2 * S  # FAT keeps two seconds


def _why_no_loop_image() -> str | None:
    if os.geteuid() != 0:
        return "mounting a loop image needs root"
    if shutil.which("mkfs.ext4") is None or shutil.which("mount") is None:
        return "mkfs.ext4 or mount not installed"
    return None


@pytest.fixture
def coarse_fs(tmp_path: Path) -> Iterator[Path]:
    """A mounted ext4 with 128-byte inodes (whole-second timestamps)."""
    why = _why_no_loop_image()
    if why:
        pytest.skip(why)
    image, mnt = tmp_path / "coarse.img", tmp_path / "mnt"
    mnt.mkdir()
    with open(image, "wb") as f:
        f.truncate(8 << 20)
    made = subprocess.run(["mkfs.ext4", "-q", "-F", "-I", "128", str(image)], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"mkfs.ext4 -I 128 failed here: {made.stderr.strip()}")
    mounted = subprocess.run(["mount", "-o", "loop", str(image), str(mnt)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"no loop mount here: {mounted.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


def _race_once(root: Path, index: DirIndex) -> bool | None:
    """List ``app`` 0.3 s into the second it changed in, write ``.env`` in that same second, list
    again; whether the ``.env`` is hidden (None: the second turned over, try again)."""
    while not (0.02 < time.time() % 1 < 0.15):
        time.sleep(0.005)
    app = root / "app"
    with contextlib.suppress(FileNotFoundError):
        shutil.rmtree(app)
    app.mkdir()
    second = os.lstat(app).st_ctime_ns
    assert second % S == 0  # the file system keeps whole seconds
    time.sleep(0.3)
    index.refresh(Rules())
    (app / ".env").write_text("K=v\n")
    if os.lstat(app).st_ctime_ns != second:
        return None
    index.refresh(Rules())
    return (str(app / ".env"), False) in index.hidden_paths()


def _race(root: Path) -> bool:
    for _ in range(5):
        got = _race_once(root, DirIndex(root, frozenset()))
        if got is not None:
            return got
    pytest.fail("the second turned over five times")


def test_a_real_whole_second_file_system(coarse_fs: Path) -> None:
    assert dirindex.trusted_device(os.lstat(coarse_fs).st_dev)  # ext4: trusted by name, coarse by fact
    assert _race(coarse_fs)


def test_control_a_real_whole_second_file_system_without_the_window(
    coarse_fs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dirindex, "COARSE_RACY_NS", dirindex.RACY_NS)
    assert not _race(coarse_fs)
