"""Scratch directories named by the process that made them, so a later run removes what a killed one left.

codeward keeps per-process scratch in the temporary directory: the object-store view (a copy of a
repository's whole pack: gigabytes on a large history), the git view, the stub bound over hidden
files, a command's private home and ``/tmp``. ``atexit`` and ``finally`` remove them, but a
``kill -9``, an OOM kill or a lost CI runner skips both, and every such run left its copies behind
for good. Each directory's name carries its maker's process id (``PREFIX<pid>-XXXXXX``); making one
sweeps the same prefix's directories of processes that are gone, owned by this user only.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from pathlib import Path

_swept: set[tuple[str, str]] = set()


def process_dir(prefix: str, parent: str | os.PathLike[str] | None = None) -> Path:
    """A new private directory (mode 0700) named ``<prefix><pid>-XXXXXX`` in ``parent`` (default:
    the temporary directory), after removing those of dead processes (:func:`sweep`; once per
    prefix and place in a process)."""
    where = os.fspath(parent) if parent is not None else tempfile.gettempdir()
    if (prefix, where) not in _swept:
        sweep(prefix, where)
        _swept.add((prefix, where))
    return Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=where))


def sweep(prefix: str, parent: str | os.PathLike[str]) -> list[str]:
    """Remove the directories ``<prefix><pid>-*`` in ``parent`` whose process is gone; return their
    names. Only real directories (not links) owned by this user: a name of another user's, or one
    whose process still runs (or whose id was given to a new process), is left alone."""
    removed: list[str] = []
    try:
        names = os.listdir(parent)
    except OSError:
        return removed
    me = os.geteuid()
    for name in names:
        if not name.startswith(prefix):
            continue
        pid, sep, _ = name[len(prefix) :].partition("-")
        if not sep or not pid.isdigit() or int(pid) in (0, os.getpid()) or _alive(int(pid)):
            continue
        path = os.path.join(parent, name)
        try:
            st = os.lstat(path)
        except OSError:
            continue
        if stat.S_ISDIR(st.st_mode) and st.st_uid == me:
            remove(path)
            removed.append(name)
    return removed


def remove(path: str | os.PathLike[str]) -> None:
    """Remove a scratch tree, including directories made read-only on purpose (a forged object
    store is ``0555`` so that no git adds to it): they are opened for their owner first. Links are
    never followed."""
    for d, dirs, _ in os.walk(path):
        for name in dirs:
            full = os.path.join(d, name)
            if not os.path.islink(full):
                with contextlib.suppress(OSError):
                    os.chmod(full, 0o700)
    with contextlib.suppress(OSError):
        os.chmod(path, 0o700)
    shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    """Whether a process ``pid`` exists (in this process's pid namespace); a pid we may not signal
    exists too."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
