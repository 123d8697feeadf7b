"""Keep codeward's own arguments out of ``/proc/PID/cmdline``.

``codeward exec "deploy with token ghp_…"`` puts the prompt on the command line, which the kernel
shows to every process on the machine through ``/proc/PID/cmdline`` (``ps``): other users, and under
the Landlock tier (no process namespace) the sandboxed commands themselves. Python keeps its own
copies of the arguments, so the original argument strings, which are what the kernel reads, can be
overwritten once at start-up: ``ps`` then shows ``python …/codeward [arguments hidden]``.

The region comes from ``/proc/self/stat`` (``arg_start``/``arg_end``, fields 48 and 49); the new text
is at most as long as the old and NUL-padded, so nothing beyond the region is touched.
"""

from __future__ import annotations

import contextlib
import ctypes
import sys

HIDDEN = b"[arguments hidden]"


def hide_arguments(argv: list[str] | None = None) -> bool:
    """Overwrite this process's command line, keeping the program; True when done."""
    argv = sys.argv if argv is None else argv
    try:
        with open("/proc/self/stat", "rb") as f:
            stat = f.read()
        fields = stat[stat.rindex(b")") + 2 :].split()
        start, end = int(fields[45]), int(fields[46])  # fields 48 and 49; the list starts at field 3
    except (OSError, ValueError, IndexError):
        return False
    size = end - start
    if size <= 0:
        return False
    region = (ctypes.c_char * size).from_address(start)
    old = bytes(region.raw)
    words = old.rstrip(b"\0").split(b"\0")
    keep = words[: max(1, len(words) - len(argv) + 1)]  # the interpreter, its options and the script
    new = b"\0".join([*keep, HIDDEN])
    if len(new) >= size:
        new = HIDDEN[: size - 1]
    with contextlib.suppress(Exception):
        ctypes.memmove(start, new + b"\0" * (size - len(new)), size)
        return True
    return False
