"""The payloads a command can unpack from a file's bytes, within a budget, or why they cannot be read.

A command reads a compressed or archived secret as easily as a plain one (``xzcat``, ``bzcat``,
``tar -xOf``, ``unzip -p``, a PDF's ``FlateDecode`` streams inflated with Python's ``zlib``), so
the workspace scan reads what those tools would print. Each format's payloads are plain bytes;
:mod:`codeward.privacy.contents` treats each as a file of its own, so nesting (a jar in a zip, a
``.tar.xz``, a gzip in a tar) is followed to :data:`MAX_DEPTH` levels.

A file that starts with a format is read by that format's reader (here; a PDF's filters in
:mod:`codeward.privacy.unpack_pdf`), and what the reader leaves out (bytes a zip's directory does
not name, what follows a tar's end or lies outside a PDF's streams) is carved; a file that starts
with none is carved whole: :mod:`codeward.privacy.unpack_carve` finds streams at any offset by
their structure (a makeself installer, a ``.deb``, a cpio, a git bundle, raw zlib).

Fail closed: a file whose payload cannot be read in full is *unscannable* (:class:`Unscannable`),
and the learner counts it as holding a secret, so the redacted view hides it. That covers a
payload over the budget (:data:`MAX_INFLATED` bytes for the whole file, all levels together, or
:data:`MAX_CPU_SECONDS` of this thread's CPU time), nesting deeper than :data:`MAX_DEPTH`, a
damaged or encrypted archive, and formats with no reader here (zstd, 7z, rar: the standard
library of Python 3.11 has none; each is found anywhere by its structure). LZ4 frames are decoded
here (:mod:`codeward.privacy.unpack_lz4`). Truncating instead would let a bomb's tail, or a secret
placed after 8 MiB of zeros, through unread.
"""

from __future__ import annotations

import bz2
import io
import lzma
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from typing import Protocol

from codeward.privacy import unpack_lz4
from codeward.privacy.unpack_base import (
    BZ2_MAGIC,
    LZMA_ALONE,
    MAX_CPU_SECONDS,
    MAX_DEPTH,
    MAX_INFLATED,
    STEP,
    Budget,
    Fragment,
    Unscannable,
    read_limited,
    tar_members,
)
from codeward.privacy.unpack_carve import carve
from codeward.privacy.unpack_pdf import pdf_streams

__all__ = [
    "MAX_CPU_SECONDS",
    "MAX_DEPTH",
    "MAX_INFLATED",
    "STEP",
    "Budget",
    "Fragment",
    "Unscannable",
    "kind",
    "payloads",
]


UNREADABLE_MAGIC = (
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"7z\xbc\xaf\x27\x1c", "7z"),
    (b"Rar!\x1a\x07", "rar"),
    (b"\x1f\x9d", "compress (.Z, LZW)"),  # gzip and zcat read it; Python has no LZW (red team rt16)
)
"""Compressed formats with no standard-library reader: their payload is never seen, so they are hidden."""

GZIP_MAGIC = b"\x1f\x8b"
XZ_MAGIC = b"\xfd7zXZ\x00"

ZIP_MAGIC = b"PK\x03\x04"
PDF_MAGIC = b"%PDF-"
ZIP_END = b"PK\x05\x06"
ZIP_END_WINDOW = 22 + 0xFFFF
"""The end-of-central-directory record sits in the last 22 bytes plus a comment of up to 64 KiB."""


def kind(data: bytes) -> str | None:
    """The compressed or archive format ``data`` starts with, None when it is none of them."""
    for magic, name in UNREADABLE_MAGIC:
        if data.startswith(magic):
            return name
    if data.startswith(GZIP_MAGIC):
        return "gzip"
    if data.startswith(unpack_lz4.FRAME_MAGIC):
        return "lz4"
    if data.startswith(unpack_lz4.LEGACY_MAGIC):
        return "lz4-legacy"
    if data.startswith(XZ_MAGIC):
        return "xz"
    if LZMA_ALONE.match(data):
        return "lzma"
    if BZ2_MAGIC.match(data):
        return "bzip2"
    if data.startswith(ZIP_MAGIC):
        return "zip"
    if len(data) >= 512 and data[257:262] == b"ustar":
        return "tar"
    if data.startswith(PDF_MAGIC):
        return "pdf"
    if ZIP_END in data[-ZIP_END_WINDOW:]:
        return "zip-appended"  # a zipapp (``#!/usr/bin/env python3`` then a zip), a self-extracting archive
    return None


def payloads(data: bytes, budget: Budget) -> Iterator[bytes]:
    """Each payload of ``data``'s format (nothing for a plain file); :class:`Unscannable` when one
    cannot be read in full within ``budget``."""
    if isinstance(data, Fragment):
        # bytes cut off at both ends (a format at its start is by chance): only whole streams in
        # it are followed, or garbage decoded from garbage would fill the budget
        yield from carve(data, budget, fragments=False)
        return
    name = kind(data)
    if name is None:
        yield from carve(data, budget)
        return
    reader = _READERS.get(name)
    if reader is None:
        raise Unscannable(f"{name}-compressed (no reader for it here)")
    yield from reader(data, budget)


def _stream(data: bytes, budget: Budget, make: Callable[[], _Decompressor], label: str) -> Iterator[bytes]:
    """Every concatenated stream of a gzip, xz or bzip2 file (``zcat`` prints them all), a step at a time."""
    rest = data
    while rest:
        d = make()
        out: list[bytes] = []
        try:
            chunk = d.decompress(rest, STEP)
            while True:
                budget.spend(len(chunk))
                out.append(chunk)
                if d.eof:
                    break
                if d.needs_input:
                    raise Unscannable(f"a damaged or truncated {label} stream")
                chunk = d.decompress(b"", STEP)
        except (zlib.error, lzma.LZMAError, OSError, EOFError, ValueError) as e:
            raise Unscannable(f"a damaged {label} stream ({type(e).__name__})") from None
        yield b"".join(out)
        rest = d.unused_data.lstrip(b"\0")  # padding between or after streams, which the tools skip


class _Decompressor(Protocol):
    """What :func:`_stream` needs of zlib's, lzma's and bz2's decompressors."""

    @property
    def eof(self) -> bool: ...
    @property
    def needs_input(self) -> bool: ...
    @property
    def unused_data(self) -> bytes: ...
    def decompress(self, data: bytes, max_length: int = -1) -> bytes: ...


class _Zlib:
    """zlib's decompressor with the interface of lzma's and bz2's (``needs_input``, ``max_length``)."""

    def __init__(self, wbits: int) -> None:
        self._d = zlib.decompressobj(wbits)
        self._pending = b""

    @property
    def eof(self) -> bool:
        return self._d.eof

    @property
    def needs_input(self) -> bool:
        return not self._d.eof and not self._pending

    @property
    def unused_data(self) -> bytes:
        return self._d.unused_data

    def decompress(self, data: bytes, max_length: int = -1) -> bytes:
        out = self._d.decompress(self._pending + data, max(max_length, 0))
        self._pending = self._d.unconsumed_tail
        return out


def _gzip(data: bytes, budget: Budget) -> Iterator[bytes]:
    return _stream(data, budget, lambda: _Zlib(31), "gzip")


def _xz(data: bytes, budget: Budget) -> Iterator[bytes]:
    return _stream(data, budget, lambda: lzma.LZMADecompressor(lzma.FORMAT_AUTO), "xz")


def _bzip2(data: bytes, budget: Budget) -> Iterator[bytes]:
    return _stream(data, budget, bz2.BZ2Decompressor, "bzip2")


def _lz4(data: bytes, budget: Budget) -> Iterator[bytes]:
    """An ``.lz4`` file: its first frame must decode to its end (``lz4 -dc`` would print it), then
    what follows (more frames, other bytes) is carved."""
    read = unpack_lz4.legacy if data.startswith(unpack_lz4.LEGACY_MAGIC) else unpack_lz4.frame
    got = read(data, 0, budget)
    if got is None or isinstance(got[0], Fragment):
        raise Unscannable("a damaged lz4 frame")
    yield got[0]
    yield from carve(data, budget, skip=[(0, got[1])])


def _zip(data: bytes, budget: Budget) -> Iterator[bytes]:
    """Each member of a zip archive (a jar, wheel, apk, docx are zips too)."""
    read: list[tuple[int, int]] = []
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            for info in z.infolist():
                if info.is_dir() and info.compress_size == 0:
                    read.append(_member_span(data, info, 0))
                    continue  # a directory entry with data is read like a file (``ZipFile.read`` does: rt16)
                if info.flag_bits & 0x1:
                    raise Unscannable(f"an encrypted zip member ({info.filename})")
                with z.open(info) as member:
                    body = read_limited(member, budget)
                    read.append(_member_span(data, info, _consumed(member, info)))
                yield body
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        NotImplementedError,
        RuntimeError,
        OSError,
        EOFError,
        zlib.error,
        ValueError,  # a negative seek from a bad offset, a member name that is not the UTF-8 it claims
    ) as e:
        raise Unscannable(f"a zip archive that cannot be read ({type(e).__name__})") from None
    # what the central directory does not name (bytes before the archive, between members, a
    # member left out of the directory) is read by a command that carves: so it is carved here
    yield from carve(data, budget, skip=read)


def _member_span(data: bytes, info: zipfile.ZipInfo, size: int) -> tuple[int, int]:
    """Where a member's local header and the ``size`` bytes of its data that were read lie in ``data``."""
    start = info.header_offset
    names = data[start + 26 : start + 30]
    nlen, xlen = (
        (int.from_bytes(names[:2], "little"), int.from_bytes(names[2:], "little")) if len(names) == 4 else (0, 0)
    )
    return start, start + 30 + nlen + xlen + size


def _consumed(member: object, info: zipfile.ZipInfo) -> int:
    """The bytes of a member's data its decompressor used: a member may state a larger size than
    its deflate stream takes and hide a stream in the rest (red team rt9), which is then carved.
    Read from the reader's own counters; where they are not there, none (all of it is carved)."""
    left = getattr(member, "_compress_left", None)
    decompressor = getattr(member, "_decompressor", None)
    if not isinstance(left, int):
        return 0
    unused = getattr(decompressor, "unused_data", b"") if decompressor is not None else b""
    return max(0, info.compress_size - left - len(unused))


def _zip_appended(data: bytes, budget: Budget) -> Iterator[bytes]:
    """A zip after other bytes (``unzip`` and ``python3 x.pyz`` read it from its end). Only a
    weak sign, four bytes near the end of any binary: when no archive opens there the file is read
    as strings, but once one opens its members must be read in full like any zip's."""
    try:
        zipfile.ZipFile(io.BytesIO(data)).close()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError, OSError, EOFError, ValueError):
        yield from carve(data, budget)
        return
    yield from _zip(data, budget)


def _tar(data: bytes, budget: Budget) -> Iterator[bytes]:
    """Each regular member of a tar archive (a compressed one arrives here already inflated)."""
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as t:
            yield from tar_members(t, budget)
            end = t.offset
    except (tarfile.TarError, OSError, EOFError, ValueError) as e:
        raise Unscannable(f"a tar archive that cannot be read ({type(e).__name__})") from None
    yield from carve(data, budget, skip=[(0, end)])  # what follows the archive's end


_READERS: dict[str, Callable[[bytes, Budget], Iterator[bytes]]] = {
    "gzip": _gzip,
    "xz": _xz,
    "lzma": _xz,
    "bzip2": _bzip2,
    "lz4": _lz4,
    "lz4-legacy": _lz4,
    "zip": _zip,
    "zip-appended": _zip_appended,
    "tar": _tar,
    "pdf": pdf_streams,
}
