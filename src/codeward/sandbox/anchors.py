"""Landlock tier: protected directories (``.git``, ``.codeward``) pinned by identity across a command.

Landlock cannot stop a command from renaming a directory of the writable workspace (that would
freeze its parent, usually the root). So each protected directory is opened with ``O_PATH``
before the command; afterwards, when its name leads elsewhere, the kernel's current path of the
pinned directory (``/proc/self/fd/N``) says where the command moved it, and it is moved back by
identity; what the command put at its name is moved aside (``NAME.from-sandbox``), never deleted.
A directory the command deleted outright cannot be brought back: that is said, not hidden.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from codeward.sandbox.hold import aside, lstat_or_none, open_dir_nofollow
from codeward.sandbox.spec import is_within


@dataclass
class Anchors:
    """Open ``O_PATH`` descriptors of the protected directories, by path, until :meth:`restore`."""

    fds: dict[Path, int] = field(default_factory=dict)

    @classmethod
    def take(cls, paths: Sequence[Path]) -> Anchors:
        out = cls()
        for p in paths:
            with contextlib.suppress(OSError):
                fd = os.open(p, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
                out.fds[p] = fd
        return out

    def restore(self) -> list[str]:
        notes: list[str] = []
        try:
            for p, fd in self.fds.items():
                note = _move_back(p, fd)
                if note:
                    notes.append(note)
        finally:
            for fd in self.fds.values():
                os.close(fd)
            self.fds.clear()
        return notes


def _move_back(p: Path, fd: int) -> str | None:
    pinned = os.fstat(fd)
    now = lstat_or_none(p)
    if now is not None and (now.st_dev, now.st_ino) == (pinned.st_dev, pinned.st_ino):
        return None
    where = os.readlink(f"/proc/self/fd/{fd}")
    if where.endswith(" (deleted)") or not os.path.isabs(where):
        return f"{p.name}: the command removed {p} (it cannot be put back)"
    cur = Path(where)
    if is_within(p, cur):
        return f"{p}: moved by the command to {cur}; left there"
    try:
        parent = open_dir_nofollow(p.parent)
    except OSError as e:
        return f"{p}: moved by the command to {cur}; left there ({e.strerror})"
    try:
        moved = ""
        if now is not None:
            moved = aside(parent, p.name)
        cur_st = cur.lstat()
        if (cur_st.st_dev, cur_st.st_ino) != (pinned.st_dev, pinned.st_ino):
            return f"{p}: moved by the command to {cur}; left there"
        os.rename(cur, p.name, dst_dir_fd=parent)
    except OSError as e:
        return f"{p}: moved by the command to {cur}; left there ({e.strerror})"
    finally:
        os.close(parent)
    rel = p.name + (f" (the command's {p.name} moved to {moved})" if moved else "")
    return f"{rel} put back from {cur.name}"
