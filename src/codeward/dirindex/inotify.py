"""The kernel's inotify interface, read once for every watch codeward keeps.

Three watches use it, each with its own descriptor because each wants other events for another
span of time: the directory index's (:mod:`codeward.dirindex.watch`: what moves a directory's
signature, between commands), the new-names watch (:mod:`codeward.sandbox.new_names`: new entries
and every open, read and close, while a command runs) and the host watch
(:mod:`codeward.sandbox.host_watch`: one name per directory, while a command runs). The constants
are the kernel's (``<sys/inotify.h>``); the calls go through libc by :mod:`ctypes`, since the
standard library has none.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import select
import struct
import threading
from collections.abc import Iterator

IN_ACCESS = 0x01
IN_MODIFY = 0x02
IN_ATTRIB = 0x04
IN_CLOSE_WRITE = 0x08
IN_CLOSE_NOWRITE = 0x10
IN_OPEN = 0x20
IN_MOVED_FROM = 0x40
IN_MOVED_TO = 0x80
IN_CREATE = 0x100
IN_DELETE = 0x200
IN_DELETE_SELF = 0x400
IN_MOVE_SELF = 0x800
IN_Q_OVERFLOW = 0x4000
IN_IGNORED = 0x8000
IN_ONLYDIR = 0x01000000
IN_DONT_FOLLOW = 0x02000000
IN_ISDIR = 0x40000000
IN_NONBLOCK = 0o4000
IN_CLOEXEC = 0o2000000
NAME_EVENTS = IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE
SELF_EVENTS = IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED
HEADER = struct.Struct("iIII")


@functools.cache
def libc() -> ctypes.CDLL:
    """The C library, with ``errno`` kept for :func:`ctypes.get_errno`."""
    return ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)


def init() -> int:
    """A new non-blocking, close-on-exec inotify descriptor; raises :class:`OSError` when the kernel
    refuses one (``fs.inotify.max_user_instances``)."""
    fd = int(libc().inotify_init1(IN_NONBLOCK | IN_CLOEXEC))
    if fd < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return fd


def add_watch(fd: int, path: str, mask: int) -> int:
    """The watch descriptor for ``path``, or ``-errno`` when it cannot be watched (``ENOSPC``: the
    ``fs.inotify.max_user_watches`` limit; ``ENOENT``/``ENOTDIR``: gone or replaced meanwhile)."""
    wd = int(libc().inotify_add_watch(fd, os.fsencode(path), mask))
    return wd if wd >= 0 else -ctypes.get_errno()


def rm_watch(fd: int, wd: int) -> None:
    libc().inotify_rm_watch(fd, wd)


def queued_events(fd: int) -> Iterator[tuple[int, int, int, bytes]]:
    """Every event queued on the non-blocking inotify descriptor ``fd``, as ``(wd, mask, cookie,
    name)``; the one reader of the kernel's record format."""
    while True:
        try:
            buf = os.read(fd, 65536)
        except BlockingIOError:
            return
        if not buf:
            return
        off = 0
        while off + HEADER.size <= len(buf):
            wd, mask, cookie, length = HEADER.unpack_from(buf, off)
            raw = buf[off + HEADER.size : off + HEADER.size + length].split(b"\0", 1)[0]
            off += HEADER.size + length
            yield wd, mask, cookie, raw


class MountTable:
    """Tells whether the process's mount table changed since the last :meth:`changed` (``POLLPRI``
    on ``/proc/self/mountinfo``): a mount makes no inotify event, yet changes what a path shows and
    which file system a device number is. Each reader keeps its own (the kernel reports a change
    once per open file). Raises :class:`OSError` when the table cannot be opened.

    Safe to share between threads: one ``select.poll`` object polled by two at once raises
    ``RuntimeError`` (the secret learner's walk and a command's index refresh both ask, and an
    internal error ended a shell tool call in CI), so every poll holds the table's lock."""

    def __init__(self) -> None:
        self._file = open("/proc/self/mountinfo", "rb")  # noqa: SIM115 - polled for the reader's life
        self._poll = select.poll()
        self._poll.register(self._file.fileno(), select.POLLPRI | select.POLLERR)
        self._lock = threading.Lock()
        self._poll.poll(0)  # the first poll reports the table as changed: taken here

    def changed(self) -> bool:
        with self._lock:
            return bool(self._poll.poll(0))

    def close(self) -> None:
        self._file.close()
