"""Nothing a command started outlives it: codeward adopts every orphan of its commands and kills it.

A tier's own supervisor kills the process tree at the end of a command, but a command that runs
as the supervisor's user can kill the supervisor first; its ``setsid`` children would then be
re-parented to init and keep running while codeward puts hidden files back (the Landlock tier's
hold) and restores protected paths. So codeward itself is a child subreaper (``PR_SET_CHILD_SUBREAPER``):
every orphan below it is re-parented to it, never to init, and :func:`kill_new_descendants` kills
and reaps every process below codeward that did not exist before the command started, until none
is left. Linux only; elsewhere the tier's own supervisor is all there is.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import time

from codeward.errors import SandboxUnavailable

PR_SET_CHILD_SUBREAPER = 36
_subreaper = False


def become_subreaper() -> None:
    """Make this process the reaper of its descendants' orphans (once; a no-op off Linux)."""
    global _subreaper
    if _subreaper or not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")
    _subreaper = True


def descendants(root: int) -> set[int]:
    """Every process below ``root``: from the kernel's per-task ``children`` lists when it keeps them
    (a few small reads), else from a scan of all of ``/proc``."""
    if not os.path.exists(f"/proc/{root}/task/{root}/children"):
        return _descendants_by_scan(root)
    out: set[int] = set()
    todo = [root]
    while todo:
        pid = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue  # gone meanwhile
        for tid in tasks:
            try:
                with open(f"/proc/{pid}/task/{tid}/children", "rb") as f:
                    kids = [int(k) for k in f.read().split()]
            except (OSError, ValueError):
                continue
            for kid in kids:
                if kid not in out:
                    out.add(kid)
                    todo.append(kid)
    return out


def _descendants_by_scan(root: int) -> set[int]:
    """Every live process below ``root`` (zombies excluded), from a scan of ``/proc``."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        rest = stat[stat.rfind(b")") + 2 :].split()  # the name may hold spaces and parentheses
        if not rest or rest[0] == b"Z":
            continue
        children.setdefault(int(rest[1]), []).append(int(name))
    out: set[int] = set()
    todo = [root]
    while todo:
        for kid in children.get(todo.pop(), ()):
            if kid not in out:
                out.add(kid)
                todo.append(kid)
    return out


def kill_new_descendants(before: set[int], *, attempts: int = 400) -> int:
    """SIGKILL every process below this one that is not in ``before``, reaping the ones it adopted,
    until none is left; returns how many were killed."""
    if not sys.platform.startswith("linux"):
        return 0
    me = os.getpid()
    killed = 0
    for _ in range(attempts):
        left = descendants(me) - before
        if not left:
            return killed
        for pid in left:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
                killed += 1
        for pid in left:
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(pid, os.WNOHANG)  # our own child (adopted orphan): reap it
        time.sleep(0.005)
    raise SandboxUnavailable(
        f"sandbox: processes the command started could not all be stopped ({', '.join(map(str, sorted(left)))}); "
        "stop them before running codeward again"
    )
