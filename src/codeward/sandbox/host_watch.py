"""Stop a command when the host replaces a path its view hides while it runs.

Under bubblewrap a hidden file is covered by a mount on its directory entry, and a redacted one by
a read-only copy mounted the same way. A mount belongs to the entry, not to the name: when another
program on the host replaces the file (an editor saving through a rename, ``git checkout``,
``aws configure``) or renames one of its directories, the kernel detaches the mounts on the old
entry in every namespace, and the command, still running, would see the new file at that name raw.
The command itself cannot cause this (a mount point and the anchored directories above it are
busy inside its namespace), so any such change comes from outside.

This watches, with inotify, every directory on the way from the workspace root to each hidden or
redacted path (and the parent of each such path outside the workspace) for that one name being
created, deleted or moved, and for the directory itself going away. The runner polls the
descriptor with the command's output; on an event it kills the command and withholds its output,
which is the only way to keep what it read from the model. A queue overflow counts as an event.
Names that did not exist when the command started are :mod:`codeward.sandbox.new_names`' job; its
session-long watch is polled through this one.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import select
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from codeward.dirindex import inotify
from codeward.dirindex.inotify import (
    IN_DONT_FOLLOW,
    IN_ONLYDIR,
    IN_Q_OVERFLOW,
    NAME_EVENTS,
    SELF_EVENTS,
    queued_events,
)
from codeward.errors import SandboxUnavailable


class NewNamesWatch(Protocol):
    """What :class:`HostWatch` needs of :class:`codeward.sandbox.new_names.NewNames`."""

    found: list[str]

    def fileno(self) -> int: ...
    def poll(self) -> bool: ...


WATCH_MASK = NAME_EVENTS | SELF_EVENTS | IN_ONLYDIR | IN_DONT_FOLLOW


def watched_names(workspace: Path, paths: Iterable[Path]) -> dict[str, set[str]]:
    """See :func:`_watched_names`; the same view from one command to the next is worked out once."""
    return _watched_names(workspace, tuple(paths))


@functools.lru_cache(maxsize=4)
def _watched_names(workspace: Path, paths: tuple[Path, ...]) -> dict[str, set[str]]:
    """Directory -> the names in it whose replacement would expose a hidden or redacted path.

    Inside the workspace every component from the root down counts (renaming ``config`` moves
    ``config/production.yml``'s mount away with it); outside, the path's own name in its parent.
    """
    names: dict[str, set[str]] = {}
    base = str(workspace).rstrip("/")
    prefix = base + "/"
    for p in paths:  # strings, not Path arithmetic: thousands of hidden files per command
        s = str(p)
        if not s.startswith(prefix):
            parent, _, name = s.rpartition("/")
            names.setdefault(parent or "/", set()).add(name)
            continue
        d = base
        for part in s[len(prefix) :].split("/"):
            names.setdefault(d, set()).add(part)
            d = f"{d}/{part}"
    return names


class HostWatch:
    """An armed inotify watch over the names :func:`watched_names` gives; ``fileno`` for polling.

    ``new_names`` (the session's :class:`codeward.sandbox.new_names.NewNames`, armed with what the
    command's view covers) is polled with it: a hidden name that appears stops the command too.
    Both descriptors are then behind one epoll descriptor, so the runner wakes for either."""

    def __init__(self, names: dict[str, set[str]], new_names: NewNamesWatch | None = None) -> None:
        self._new = new_names
        self._epoll: select.epoll | None = None
        try:
            fd = inotify.init()
        except OSError as e:
            raise SandboxUnavailable(f"sandbox: cannot watch hidden files for changes: {e.strerror}") from None
        self.fd: int = fd
        self._names: dict[int, tuple[str, set[str]]] = {}
        self.changed: list[str] = []
        try:
            for d, wanted in names.items():
                wd = inotify.add_watch(fd, d, WATCH_MASK)
                if wd < 0:
                    err = -wd
                    if err in (errno.ENOENT, errno.ENOTDIR, errno.EACCES):
                        continue  # nothing there this process can see, so nothing of it is mounted
                    hint = " (raise fs.inotify.max_user_watches)" if err == errno.ENOSPC else ""
                    raise SandboxUnavailable(
                        f"sandbox: cannot watch {d} for changes while a command runs: {os.strerror(err)}{hint}"
                    )
                self._names[wd] = (d, wanted)
            if new_names is not None:
                self._epoll = select.epoll()
                self._epoll.register(fd, select.EPOLLIN)
                self._epoll.register(new_names.fileno(), select.EPOLLIN)
        except BaseException:
            os.close(fd)
            raise

    def fileno(self) -> int:
        return self._epoll.fileno() if self._epoll is not None else self.fd

    def poll(self) -> bool:
        """Read what is queued; True once a watched name changed (``changed`` says which)."""
        for wd, mask, _cookie, raw in queued_events(self.fd):
            if mask & IN_Q_OVERFLOW:
                self.changed.append("(too many changes to follow)")
                continue
            d, wanted = self._names.get(wd, ("?", set()))
            if mask & SELF_EVENTS:
                self.changed.append(d)
            elif mask & NAME_EVENTS and os.fsdecode(raw) in wanted:
                self.changed.append(os.path.join(d, os.fsdecode(raw)))
        if self._new is not None and self._new.poll():
            self.changed += [p for p in self._new.found if p not in self.changed]
        return bool(self.changed)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)
        if self._epoll is not None:
            self._epoll.close()


def withheld_output(changed: list[str]) -> str:
    """What the model gets instead of the output of a command stopped by :class:`HostWatch`."""
    shown = ", ".join(dict.fromkeys(changed[:3]))
    return (
        f"[output withheld: {shown} was replaced on the host, or is a new file the ignore rules hide and was opened, "
        "while the command ran, which would have shown it to the command unmasked; the command was stopped. "
        "Run it again: the next command sees the new file hidden or redacted]"
    )
