"""Reaching every directory a command could have written: below PATH_MAX and behind a ``chmod``.

The census after a command must see every directory the command could have written, or a planted
``.git`` (with ``core.fsmonitor``) or ``AGENTS.md`` outlives it. Two things used to hide one:

* depth: a path longer than ``PATH_MAX`` (4096 bytes) cannot be named in one system call, so a
  tree nested deeper than that was "unreadable". :func:`at` reaches such a path piecewise, through
  directory descriptors (``openat``), so every call the index makes works at any depth up to
  :data:`MAX_PATH_BYTES`; deeper is reported as not listable (the caller fails closed).
* permissions: a command runs as the user, and the user owns the directories it made, so a
  ``chmod 311 sub`` is the command's to make and codeward's to undo. :class:`Opened` gives such a
  directory its owner's ``rwx`` for as long as the census and the clean-up need it, and puts the
  command's mode back afterwards (by identity: only on the directory it opened).
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field

LONG_PATH_BYTES = 3072  # paths at least this long are reached piecewise (PATH_MAX is 4096)
# the index keys every directory by its full path, so a chain of directories costs the square of
# its depth in memory; deeper than this is not walked but reported, and the census fails closed
MAX_PATH_BYTES = 16384
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


_SHORT = LONG_PATH_BYTES // 4  # characters: a path this long is short in bytes too (UTF-8: 4 at most)


def too_deep(path: str) -> bool:
    return len(path) > MAX_PATH_BYTES // 4 and len(os.fsencode(path)) > MAX_PATH_BYTES


@contextlib.contextmanager
def at(path: str) -> Iterator[tuple[int | None, str]]:
    """``(dir_fd, name)`` naming ``path`` for the ``*at`` calls: ``(None, path)`` when it is short
    enough to name at once, else a descriptor of an ancestor and the short rest. Components inside
    a piece are followed as the kernel does; the index checks each directory top-down anyway."""
    raw = os.fsencode(path)
    if len(raw) < LONG_PATH_BYTES:
        yield None, path
        return
    parts = raw.split(b"/")
    fd: int | None = None
    piece: list[bytes] = []
    size = 0
    try:
        for part in parts[:-1]:
            if piece and size + len(part) + 1 >= LONG_PATH_BYTES:
                nfd = os.open(b"/".join(piece) or b"/", _DIR_FLAGS, dir_fd=fd)
                if fd is not None:
                    os.close(fd)
                fd, piece, size = nfd, [], 0
            piece.append(part)
            size += len(part) + 1
        piece.append(parts[-1])
        yield fd, os.fsdecode(b"/".join(piece))
    finally:
        if fd is not None:
            os.close(fd)


def lstat(path: str) -> os.stat_result:
    """``os.lstat`` at any depth."""
    if len(path) < _SHORT:
        return os.lstat(path)  # the common case, without the context manager
    with at(path) as (fd, name):
        return os.lstat(name, dir_fd=fd)


def open_dir(path: str) -> int:
    """A descriptor to list directory ``path`` (at any depth); the last component is not followed."""
    if len(path) < _SHORT:
        return os.open(path, _DIR_FLAGS | os.O_NOFOLLOW)
    with at(path) as (fd, name):
        return os.open(name, _DIR_FLAGS | os.O_NOFOLLOW, dir_fd=fd)


@dataclass
class Opened:
    """Directories of ours given their owner's ``rwx`` for a while; :meth:`close` puts each mode back."""

    entries: list[tuple[str, int, int, int]] = field(default_factory=list)  # (path, mode, dev, inode)
    euid: int = field(default_factory=os.geteuid)

    def open_up(self, path: str, st: os.stat_result) -> bool:
        """Give ``path`` (a directory whose ``lstat`` is ``st``) its owner's ``rwx`` when it lacks the
        read or search bit and is ours; whether it was opened. Root needs no bits to list anything."""
        if st.st_mode & 0o500 == 0o500 or self.euid == 0 or st.st_uid != self.euid:
            return False
        try:
            with at(path) as (fd, name):
                os.chmod(name, stat.S_IMODE(st.st_mode) | 0o700, dir_fd=fd)
        except OSError:
            return False
        self.entries.append((path, stat.S_IMODE(st.st_mode), st.st_dev, st.st_ino))
        return True

    def close(self) -> None:
        """Put back the mode of every directory opened, deepest first, on the same directory only."""
        entries, self.entries = self.entries, []
        for path, mode, dev, ino in reversed(entries):
            with contextlib.suppress(OSError), at(path) as (fd, name):
                dfd = os.open(name, _DIR_FLAGS | os.O_NOFOLLOW, dir_fd=fd)
                try:
                    st = os.fstat(dfd)
                    if (st.st_dev, st.st_ino) == (dev, ino):
                        os.fchmod(dfd, mode)
                finally:
                    os.close(dfd)
