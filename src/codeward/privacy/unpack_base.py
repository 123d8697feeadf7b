"""What every reader of :mod:`codeward.privacy.unpack` shares: the per-file budget and its limits,
the error that makes a file unscannable, and the mark of a payload cut short by an error."""

from __future__ import annotations

import re
import tarfile
import time
from collections.abc import Iterator

MAX_INFLATED = 8 << 20
"""Bytes unpacked per workspace file, every level and member together (the text-file limit too)."""
MAX_CPU_SECONDS = 2.0
"""CPU time (of the scanning thread, so a loaded machine does not trip it) spent unpacking one file."""
MAX_DEPTH = 4
"""Archives inside archives followed: a zip in a zip in a tar.gz in a zip is read, one more is not."""
STEP = 1 << 20
"""Decompressed per call, so the budget is checked between steps (a bomb never fills memory)."""
LZMA_ALONE = re.compile(rb"\x5d(?:\x00\x00[\x01-\xff]\x00|\x00\x00\x00[\x01-\x80])")
"""The ``.lzma`` (LZMA-alone) header: properties 0x5d (what ``xz --format=lzma`` and ``lzma`` write)
and a dictionary of 64 KiB to 2 GiB, little-endian."""
BZ2_MAGIC = re.compile(rb"BZh[1-9]\x31\x41\x59\x26\x53\x59")


class Unscannable(Exception):
    """The file's payload cannot be read in full; the message says why (it goes into a note)."""


class Fragment(bytes):
    """A payload that is what a stream held before it broke off (a carved candidate that failed
    after its start): scanned, and unpacked further while the depth allows, but never a reason to
    call the file unscannable (random bytes that look like a stream's start give these)."""


class Budget:
    """What unpacking one workspace file may still cost: bytes inflated and CPU seconds."""

    def __init__(self, max_bytes: int = MAX_INFLATED, cpu_seconds: float = MAX_CPU_SECONDS) -> None:
        self.left = max_bytes
        self.max_bytes = max_bytes
        self._deadline = time.thread_time() + cpu_seconds
        self.cpu_seconds = cpu_seconds

    def spend(self, n: int) -> None:
        """Count ``n`` more bytes unpacked; :class:`Unscannable` once over either limit."""
        self.left -= n
        if self.left < 0:
            raise Unscannable(f"unpacks to more than {self.max_bytes >> 20} MiB")
        self.check_time()

    def check_time(self) -> None:
        if time.thread_time() > self._deadline:
            raise Unscannable(f"unpacking took more than {self.cpu_seconds:g} s")


def read_limited(f: object, budget: Budget) -> bytes:
    """All of a file-like member (a zip's or a tar's), charged to ``budget`` step by step."""
    out: list[bytes] = []
    read = getattr(f, "read")  # noqa: B009 - a zip or tar member, both file-like
    while chunk := read(STEP):
        budget.spend(len(chunk))
        out.append(chunk)
    return b"".join(out)


def tar_members(t: tarfile.TarFile, budget: Budget) -> Iterator[bytes]:
    """Each regular member of an open tar archive, within ``budget`` (the time checked between members),
    and each member of a type tar does not know, which GNU tar extracts "as a normal file" and
    ``tarfile`` reads the same way (red team rt16)."""
    for info in t:
        budget.check_time()
        if not (info.isfile() or info.type not in tarfile.SUPPORTED_TYPES):
            continue
        member = t.extractfile(info)
        if member is not None:
            yield read_limited(member, budget)
