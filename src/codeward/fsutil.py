"""Atomic file writes: a crash or a full disk never leaves a user file half-written."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def atomic_write_bytes(path: Path, data: bytes, *, mode: int | None = None) -> None:
    """Write ``data`` to ``path`` through a temp file in the same directory and a rename.

    ``mode`` sets the permissions before the rename, so a 0600 file is never visible with
    looser bits. Without ``mode`` an existing file keeps its permissions.
    """
    path = Path(path)
    if mode is None:
        try:
            mode = path.stat().st_mode & 0o7777
        except FileNotFoundError:
            mode = None
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str, *, mode: int | None = None) -> None:
    """Text form of :func:`atomic_write_bytes` (UTF-8, newlines kept as given)."""
    atomic_write_bytes(path, text.encode("utf-8"), mode=mode)


class PinnedOutput:
    """An output file whose directory is pinned when the run starts (``exec -o FILE``).

    The directory is opened once, up front (so a missing one is refused before any work is done),
    and the file is later written relative to that descriptor: a temp file created with
    ``O_EXCL | O_NOFOLLOW`` and renamed over the name. A command that replaces the directory, or
    any of its ancestors, with a link in the meantime cannot redirect the write, and a link planted
    at the file's own name is replaced, never followed.
    """

    def __init__(self, path: Path, what: str = "-o") -> None:
        self.path = Path(path).expanduser().absolute()
        self.what = what
        if not self.path.parent.is_dir():
            from codeward.errors import UsageError

            raise UsageError(f"{what} {path}: the directory {self.path.parent} does not exist; create it first")
        if self.path.is_dir():
            from codeward.errors import UsageError

            raise UsageError(f"{what} {path}: is a directory; give a file name")
        self._dfd: int | None = os.open(self.path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)

    def write_bytes(self, data: bytes, *, mode: int = 0o644) -> None:
        """Write ``data`` atomically under the pinned directory; the descriptor is closed after."""
        if self._dfd is None:
            raise ValueError("already written")
        dfd, name = self._dfd, self.path.name
        tmp = f".{name}.{os.getpid()}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=dfd)
            try:
                os.fchmod(fd, mode)
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)
            try:
                os.rename(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp, dir_fd=dfd)
                raise
            with contextlib.suppress(OSError):
                os.fsync(dfd)
        finally:
            self.close()

    def write_text(self, text: str, *, mode: int = 0o644) -> None:
        self.write_bytes(text.encode("utf-8"), mode=mode)

    def write_or_fail(self, text: str) -> None:
        """:meth:`write_text`, with a failure turned into one line naming the file (never a traceback)."""
        try:
            self.write_text(text)
        except OSError as e:
            from codeward.errors import CodewardError

            raise CodewardError(f"{self.what} {self.path}: could not write it ({e.strerror or e})") from None

    def close(self) -> None:
        if self._dfd is not None:
            os.close(self._dfd)
            self._dfd = None
