"""The directory index reaches directories deeper than PATH_MAX (by descriptor), and reports what it
cannot reach as blind spots rather than as empty directories."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from codeward.dirindex import DirIndex, reach
from codeward.workspace import WATCHED_NAMES

LEVELS = 900  # "dddd/" each: 4.5 KB, past PATH_MAX (4096)


def _deep(root: Path, levels: int = LEVELS) -> str:
    """Make ``levels`` nested ``dddd`` directories under ``root`` (by descriptor) with an
    ``AGENTS.md`` at the bottom; returns the bottom's path."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(levels):
            os.mkdir("dddd", dir_fd=fd)
            nfd = os.open("dddd", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = nfd
        os.close(os.open("AGENTS.md", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd))
    finally:
        os.close(fd)
    return str(root) + "/dddd" * levels


@pytest.fixture
def root(tmp_path: Path) -> Path:
    r = tmp_path / "ws"
    r.mkdir()
    return r


def test_a_name_deeper_than_path_max_is_in_the_census(root: Path) -> None:
    bottom = _deep(root)
    assert len(os.fsencode(bottom)) > 4096
    with pytest.raises(OSError):
        os.lstat(bottom)  # the kernel cannot name it at once
    index = DirIndex(root, WATCHED_NAMES)
    assert Path(bottom, "AGENTS.md") in index.refresh()
    assert index.blind == frozenset() and index.unreadable() == []
    assert reach.lstat(bottom).st_ino == index.dirs[bottom].sig[1]


def test_control_by_path_alone_the_deep_name_is_a_blind_spot(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Named at once, as before, the path fails past PATH_MAX: the name is missed, and the directory
    where it fails is reported blind (what the census moves aside whole), not taken as empty."""
    monkeypatch.setattr(reach, "LONG_PATH_BYTES", 1 << 30)
    monkeypatch.setattr(reach, "_SHORT", 1 << 30)
    bottom = _deep(root)
    index = DirIndex(root, WATCHED_NAMES)
    assert Path(bottom, "AGENTS.md") not in index.refresh()
    (first,) = index.blind
    assert len(os.fsencode(first)) >= 4096 and bottom.startswith(first)


def test_deeper_than_the_index_goes_is_a_blind_spot(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The index keys directories by full path (memory grows with depth squared): past
    :data:`reach.MAX_PATH_BYTES` it stops and reports the first directory it did not enter."""
    monkeypatch.setattr(reach, "MAX_PATH_BYTES", len(os.fsencode(str(root))) + 5 * 10 + 2)
    bottom = _deep(root, 20)
    index = DirIndex(root, WATCHED_NAMES)
    assert Path(bottom, "AGENTS.md") not in index.refresh()
    assert index.blind == {str(root) + "/dddd" * 11}


def test_at_names_a_long_path_in_short_pieces(root: Path) -> None:
    bottom = _deep(root)
    with reach.at(bottom + "/AGENTS.md") as (fd, name):
        assert fd is not None and len(os.fsencode(name)) < reach.LONG_PATH_BYTES
        assert stat.S_ISREG(os.lstat(name, dir_fd=fd).st_mode)
