"""What of a file's bytes the workspace scan reads as text: decoded text, or a binary's strings.

A command reads a binary file's secrets as easily as a text file's (``strings x.pyc``, ``sqlite3``,
``zcat``, ``unzip -p``), so a binary is scanned too, on what those tools would print:

* text in any encoding :func:`codeward.textenc.detect` knows (UTF-8, UTF-16, UTF-32) is decoded;
* a gzip file is decompressed and a zip archive's members read (deflated or stored), each up to
  :data:`MAX_INFLATED` bytes in all, then treated like a file of their own (one level deep: a
  ``.tar.gz`` is a tar, whose members are plain bytes inside it);
* anything else binary is read as its printable strings (ASCII and UTF-16LE runs of 8 or more),
  and a SQLite database also as its tables' rows (``a = b`` lines, as ``.dump`` shows them).

A binary file is never redacted (a redacted executable or database is meaningless); when its
strings hold a secret the redacted view hides it from commands instead.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from codeward.textenc import decode, detect, printable_strings

MAX_INFLATED = 8 << 20
"""Bytes decompressed per gzip file or zip archive (all members): a bomb costs no more than this."""
CHUNK = 8 << 20
MAX_RUN_CARRY = 1 << 16


@dataclass(frozen=True)
class Contents:
    """The texts the scanner reads for one file, and whether the file is binary (hidden, not redacted)."""

    texts: tuple[str, ...]
    binary: bool


def contents(data: bytes, depth: int = 0) -> Contents:
    """The texts to scan in ``data`` (a whole file, at most the learner's size limit)."""
    codec = detect(data)
    if codec == "utf-8":
        return Contents((decode(data, codec),), False)
    if codec is not None:
        # and its strings: raw ASCII bytes inside UTF-16/32 text decode to CJK characters
        return Contents((decode(data, codec), "\n".join(printable_strings(data))), False)
    texts = ["\n".join(printable_strings(data))]
    if data.startswith(SQLITE_MAGIC):
        texts.append(_sqlite_rows(data))
    if depth == 0:
        for inner in _unpacked(data):
            texts.extend(contents(inner, depth + 1).texts)
    return Contents(tuple(t for t in texts if t), True)


SQLITE_MAGIC = b"SQLite format 3\0"
SQLITE_STEPS = 2_000_000
"""Virtual-machine steps a SQLite scan may take (a crafted database cannot make it run long)."""


def _sqlite_rows(data: bytes) -> str:
    """The rows of a SQLite database as ``a = b`` lines (each row's cells, and each column with its
    value): its pages pack a row's cells with no separator (``githubghp_...``), where no rule's word
    boundary holds, while ``sqlite3 dev.db .dump`` prints them apart. Only tables are read (no view
    runs), from an in-memory copy, within :data:`SQLITE_STEPS` and :data:`MAX_INFLATED` characters."""
    import sqlite3

    out: list[str] = []
    size = 0
    steps = [0]

    def budget() -> int:
        steps[0] += 1000
        return 1 if steps[0] > SQLITE_STEPS else 0

    try:
        con = sqlite3.connect(":memory:")
        try:
            con.deserialize(data)
            con.set_progress_handler(budget, 1000)
            tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            for table in tables:
                cur = con.execute('SELECT * FROM "{}"'.format(str(table).replace('"', '""')))
                cols = [d[0] for d in cur.description or ()]
                for row in cur:
                    cells = [c.decode("utf-8", "replace") if isinstance(c, bytes) else str(c) for c in row]
                    line = " = ".join(cells) + "\n" + "".join(f"{k} = {v}\n" for k, v in zip(cols, cells, strict=False))
                    out.append(line)
                    size += len(line)
                    if size > MAX_INFLATED:
                        return "".join(out)
        finally:
            con.close()
    except (sqlite3.Error, MemoryError, OverflowError, ValueError):
        pass  # damaged, encrypted or over budget: what was read is scanned, and its strings were
    return "".join(out)


def _unpacked(data: bytes) -> Iterator[bytes]:
    """The decompressed payload of a gzip file, or each member of a zip archive, within the budget."""
    if data[:2] == b"\x1f\x8b":
        try:
            inflated = zlib.decompressobj(31).decompress(data, MAX_INFLATED)
        except zlib.error:
            return
        yield inflated
        return
    if data[:4] != b"PK\x03\x04":
        return
    budget = MAX_INFLATED
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            for info in z.infolist():
                if budget <= 0:
                    return
                if info.is_dir():
                    continue
                with z.open(info) as member:
                    body = member.read(budget)
                budget -= len(body)
                yield body
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError, OSError, EOFError, zlib.error):
        return  # an encrypted, damaged or exotic archive: its strings were read all the same


def streamed_strings(f: BinaryIO, limit: int) -> Iterator[str]:
    """The printable strings of a binary file too large to hold at once, ``CHUNK`` bytes at a time,
    as texts of about ``CHUNK`` bytes each; a run cut at a chunk's end is carried into the next."""
    carry = b""
    read = 0
    while read < limit:
        block = f.read(min(CHUNK, limit - read))
        if not block:
            break
        read += len(block)
        data = carry + block
        # keep the trailing printable run (it may continue in the next block)
        cut = len(data)
        while cut > 0 and len(data) - cut < MAX_RUN_CARRY and (data[cut - 1] in _PRINTABLE):
            cut -= 1
        carry = data[cut:]
        yield "\n".join(printable_strings(data[:cut]))
    if carry:
        yield "\n".join(printable_strings(carry))


_PRINTABLE = frozenset(b"\t" + bytes(range(0x20, 0x7F)))
