"""Compressed streams wherever they sit in a file, found by their structure and decoded from there.

A command does not need a file to *start* with a format to unpack it: ``tail -c +513 install.sh |
tar -xz`` (a makeself installer), ``ar p pkg.deb data.tar.xz``, a cpio's gzip member, a git
bundle's zlib objects, a raw ``zlib.compress`` file, a bzip2 stream after any header. So every
offset where a stream can start is a *candidate*, by the format's own structure rather than a list
of container formats: gzip ``1f 8b 08`` (reserved flags clear), a zlib header (deflate method,
window up to 32 KiB, a valid FCHECK, no preset dictionary: about 1 in 2,000 random byte pairs),
xz, ``.lzma`` (LZMA-alone), bzip2 ``BZh[1-9]1AY&SY``, a zip local header ``PK\\3\\4``, a tar header (``ustar`` at 257 with
a valid checksum; members of an ar or cpio archive come out as the streams they are). Each
candidate is decoded from there; a git PACK's objects are zlib streams and come out one by one.

What a candidate gives:

* a stream that decodes to its end (checksum included) is a payload, scanned like
  a file, nesting followed; carving goes on after its end;
* a stream that breaks off after its first :data:`FIRST_BYTES` compressed bytes gives what it
  decoded up to the error (a command's ``zlib.decompressobj`` prints that much too), as a
  :class:`Fragment`: scanned, nesting followed while the depth allows, never an error itself;
* one that fails within its first :data:`FIRST_BYTES` is no stream (random bytes match a magic:
  x86 code is full of zlib-looking pairs such as ``48 89``); it cannot hold a whole secret;
* a format that is certain (a zstd frame whose blocks walk to its last one, a 7z signature header
  with its CRC) but has no reader in Python 3.11 makes the file :class:`Unscannable`, and hidden.

Cost, and failing closed: every byte a candidate inflates is charged to the file's one
:class:`~codeward.privacy.unpack.Budget` (false candidates inflate a few bytes each), and the CPU
budget is checked every :data:`CHECK_EVERY` candidates; more than :data:`MAX_CANDIDATES`
candidates that get past a first check in one payload makes it unscannable rather than leaving the
rest untried (a zlib-looking pair whose first bytes do not inflate, as ``X<TAB>`` in a table of
chromosome X, is rejected in one call and counted by the CPU budget only: red team rt9). An ordinary
8 MiB library has some 60,000 zlib-looking pairs, tried at about 6 µs each. A PNG's pixel data
(``IDAT``) is not inflated, like a PDF's images: pixels hold no text and a large image would be
over the budget and hidden; its other chunks are carved like any bytes.
"""

from __future__ import annotations

import bz2
import heapq
import io
import lzma
import re
import struct
import tarfile
import zlib
from collections.abc import Callable, Iterator
from typing import Protocol

from codeward.privacy import unpack_lz4
from codeward.privacy.unpack_base import BZ2_MAGIC, LZMA_ALONE, STEP, Budget, Fragment, Unscannable, tar_members
from codeward.privacy.unpack_lz4 import FRAME_MAGIC, LEGACY_MAGIC

FIRST_BYTES = 16
"""Compressed bytes a candidate must decode without error to count; the chunk sizes grow from it."""
MAX_CANDIDATES = 250_000
"""Candidate offsets tried in one payload before it is unscannable (about 30 per KiB of x86 code)."""
CHECK_EVERY = 256
"""Candidates between two checks of the CPU budget."""


_CMF = bytes((cinfo << 4) | 8 for cinfo in range(8))
"""zlib's first byte: deflate, a window of 256 B to 32 KiB."""
_BAD_BLOCK = bytes(b for b in range(256) if b & 0x06 == 0x06)
"""A first deflate byte whose block type is 3, which is invalid."""
_ZLIB = re.compile(
    b"(?:"
    + b"|".join(
        re.escape(bytes([c]))
        + b"["
        + re.escape(bytes(f for f in range(256) if (c * 256 + f) % 31 == 0 and not f & 0x20))
        + b"]"
        for c in _CMF
    )
    + b")(?=[^"
    + re.escape(_BAD_BLOCK)
    + b"]|$)",
    re.DOTALL,
)
"""Every zlib header pair with a valid FCHECK and no preset dictionary (FDICT: no reader could use
one), before a first block of a valid type: an alternation of literals, which ``re`` skips through
by their first bytes (60 ms for 7.5 MB of ``libpython``; checking FCHECK in Python after a looser
class pair took three times as long). Matches cannot overlap a real header: no CMF byte is a valid
FLG, so a header's first byte is never eaten as the second byte of a pair before it."""
_ZLIB_IN_TEXT = re.compile(_ZLIB.pattern + b"(?=[\x00-\x7f]{0,15}[\x80-\xff])", re.DOTALL)
"""In text, a zlib pair whose next 16 bytes are not all ASCII: what a compressor writes has bytes
over 0x7F almost at once, while text's own pairs (``X<TAB>`` in a table of chromosome X, ``(S`` in
``(SELECT``) are followed by more text; 330,000 of them in a 7 MB BED file took 1.9 s to reject one
by one (red team rt9). A deflate stream made only of ASCII bytes has to be crafted (README)."""
_MAGIC = (
    (b"\x1f\x8b\x08", "gzip"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"BZh", "bzip2"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"PK\x03\x04", "zip"),
    (b"ustar", "tar"),
    (b"7z\xbc\xaf\x27\x1c", "sevenzip"),
    (b"\x5d\x00\x00", "lzma"),
    (FRAME_MAGIC, "lz4"),
    (LEGACY_MAGIC, "lz4-legacy"),
    (b"Rar!\x1a\x07", "rar"),
)
"""Formats with a magic of three bytes or more, each found with ``bytes.find`` (a fast literal search;
one regex of all of them tried every alternative at every byte, 12 MB/s)."""
_CHECK = {"bzip2": BZ2_MAGIC, "lzma": LZMA_ALONE}
"""Magics found by a prefix and confirmed by their whole pattern."""


def _candidates(data: bytes, text: bool = False) -> Iterator[tuple[int, str]]:
    """Every offset where a stream may start, with its format, in order (in ``text``, zlib pairs
    followed by bytes over 0x7F only: :data:`_ZLIB_IN_TEXT`)."""

    magics = []
    for needle, name in _MAGIC:
        at = data.find(needle)
        while at >= 0:
            if name not in _CHECK or _CHECK[name].match(data, at):
                magics.append((at, name))
            at = data.find(needle, at + 1)
    magics.sort()
    pairs = (_ZLIB_IN_TEXT if text else _ZLIB).finditer(data)
    return heapq.merge(((m.start(), "zlib") for m in pairs), magics)


PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def may_hold_stream(data: bytes) -> bool:
    """Whether ``data`` is a PDF or has any offset where a stream may start (one regex search, in C)."""
    return data.startswith(b"%PDF-") or _ZLIB.search(data) is not None or any(m in data for m, _ in _MAGIC)


def carve(
    data: bytes,
    budget: Budget,
    *,
    fragments: bool = True,
    skip: list[tuple[int, int]] | None = None,
    text: bool = False,
) -> Iterator[bytes]:
    """Each stream found at any offset of ``data``, decoded (see the module's docstring), but in the
    spans of ``skip`` (what an archive's reader read already); without ``fragments``, only streams
    that decode to their end, and what broken ones inflated is not charged to the budget (carving
    a fragment: garbage decoded from garbage decoded from a library's code grew threefold a level,
    and hid ``libasan.so``, 8 MB, over the budget)."""
    view = memoryview(data)
    # a PNG anywhere (an .ico or .icns holds several): its pixels are skipped like a file's
    skip = sorted((skip or []) + [span for at in _find_all(data, PNG_MAGIC) for span in _png_pixels(data, at)])
    pos = 0
    tried = seen = 0
    for at, name in _candidates(data, text):
        if at < pos:
            continue  # inside a stream already read
        while skip and skip[0][1] <= at:
            skip.pop(0)
        if skip and skip[0][0] <= at:
            pos = skip.pop(0)[1]
            continue
        seen += 1
        if seen % CHECK_EVERY == 0:
            budget.check_time()
        if name == "zlib" and not _inflates(view, at):
            pos = at + 1  # the common false candidate, rejected in one call: only the CPU budget counts it
            continue
        tried += 1
        if tried > MAX_CANDIDATES:
            raise Unscannable(f"more than {MAX_CANDIDATES:,} places that may start a compressed stream")
        left = budget.left
        found = _TRY[name](data, view, at, budget)
        if found is not None and not fragments and all(isinstance(p, Fragment) for p in found[0]):
            budget.left = left
            found = None
        if found is None:
            pos = at + 1
            continue
        got, end = found
        yield from got
        pos = end if end > at else at + 1


Found = tuple[list[bytes], int] | None
"""What a candidate gave (payloads, the offset carving resumes at), None when it is no stream."""


class _Decompressor(Protocol):
    @property
    def eof(self) -> bool: ...
    @property
    def unused_data(self) -> bytes: ...
    def decompress(self, data: bytes, max_length: int = -1) -> bytes: ...


_ERRORS = (zlib.error, lzma.LZMAError, OSError, EOFError, ValueError)


def _feed(d: _Decompressor, chunk: bytes | memoryview, budget: Budget, out: list[bytes]) -> None:
    """Decompress ``chunk`` a :data:`STEP` at a time, charging the budget (a bomb never fills memory)."""
    if isinstance(d, _ZlibFeed):
        d.feed(chunk, budget, out)
        return
    piece = d.decompress(bytes(chunk), STEP)
    while True:
        budget.spend(len(piece))
        out.append(piece)
        if d.eof or getattr(d, "needs_input", True):
            return
        piece = d.decompress(b"", STEP)


class _ZlibFeed:
    """zlib's decompressor fed under the same loop (its leftover input is ``unconsumed_tail``)."""

    def __init__(self, wbits: int) -> None:
        self._d = zlib.decompressobj(wbits)

    @property
    def eof(self) -> bool:
        return self._d.eof

    @property
    def unused_data(self) -> bytes:
        return self._d.unused_data

    def decompress(self, data: bytes, max_length: int = -1) -> bytes:  # for the Protocol only
        return self._d.decompress(data, max(max_length, 0))

    def feed(self, chunk: bytes | memoryview, budget: Budget, out: list[bytes]) -> None:
        piece = self._d.decompress(chunk, STEP)
        while True:
            budget.spend(len(piece))
            out.append(piece)
            tail = self._d.unconsumed_tail
            if self._d.eof or not tail:
                return
            piece = self._d.decompress(tail, STEP)


def _decode(make: Callable[[], _Decompressor], view: memoryview, start: int, budget: Budget) -> Found:
    """The stream at ``start``: fed in chunks of growing size so a false candidate costs one small
    call; on an error after the first chunk, the longest prefix of the failing chunk that decodes
    is found by bisection, so what a command could print before the error is read too."""
    d = make()
    out: list[bytes] = []
    pos = start
    size = FIRST_BYTES
    while True:
        chunk = view[pos : pos + size]
        if not chunk:  # cut short: what it held is read, as a command's reader would print it
            return ([Fragment(b"".join(out))], start + 1) if pos - start > FIRST_BYTES else None
        try:
            _feed(d, chunk, budget, out)
        except _ERRORS:
            if pos == start:
                return None
            tail = _longest_prefix(make, view, start, pos, len(chunk), budget)
            # carving goes on inside it: a decoy that decodes for a while must not hide what it covers
            return [Fragment(b"".join(out) + tail)], start + 1
        if d.eof:
            end = pos + len(chunk) - len(d.unused_data)
            return [b"".join(out)], end
        pos += len(chunk)
        size = min(size * 16, 1 << 20)


def _longest_prefix(
    make: Callable[[], _Decompressor], view: memoryview, start: int, pos: int, n: int, budget: Budget
) -> bytes:
    """What the failing chunk ``view[pos:pos+n]`` adds before its error (decoded again from ``start``)."""
    before = _quiet(make, view[start:pos])
    lo, hi = 0, n  # view[start:pos+lo] decodes; view[start:pos+hi] does not
    best = b""
    while hi - lo > 1:
        budget.check_time()
        mid = (lo + hi) // 2
        got = _quiet(make, view[start : pos + mid])
        if got is None:
            hi = mid
        else:
            lo, best = mid, got
    extra = best[len(before or b"") :]
    budget.spend(len(extra))
    return extra


def _quiet(make: Callable[[], _Decompressor], data: memoryview) -> bytes | None:
    """``data`` decoded whole (output capped by the budget already spent on it), None on an error."""
    d = make()
    out: list[bytes] = []
    try:
        _feed(d, data, Budget(), out)
    except (*_ERRORS, Unscannable):
        return None
    return b"".join(out)


def _gzip(data: bytes, view: memoryview, at: int, budget: Budget) -> Found:
    if len(data) < at + 10:
        return None
    if not data[at + 3] & 0xE0:
        return _decode(lambda: _ZlibFeed(31), view, at, budget)
    # reserved flag bits: zlib refuses the header, Python's gzip module ignores them (red team
    # rt9), so the deflate data after the header is read on its own
    body = _gzip_body(data, at)
    return None if body is None else _decode(lambda: _ZlibFeed(-15), view, body, budget)


def _gzip_body(data: bytes, at: int) -> int | None:
    """Where the deflate data of the gzip member at ``at`` starts (after its optional fields)."""
    flags, p = data[at + 3], at + 10
    try:
        if flags & 0x04:  # FEXTRA
            p += 2 + int.from_bytes(data[p : p + 2], "little")
        for bit in (0x08, 0x10):  # FNAME, FCOMMENT: NUL-terminated
            if flags & bit:
                p = data.index(b"\0", p) + 1
    except ValueError:
        return None
    p += 2 if flags & 0x02 else 0  # FHCRC
    return p if p < len(data) else None


def _inflates(view: memoryview, at: int) -> bool:
    """Whether a zlib candidate's first :data:`FIRST_BYTES` inflate without an error: the common
    false candidate (x86 code has one every 200 bytes; a table's ``X<TAB>1`` is a stored block with
    bad lengths) is rejected in one call."""
    try:
        zlib.decompressobj().decompress(view[at : at + FIRST_BYTES], STEP)
    except zlib.error:
        return False
    return True


def _zlib(data: bytes, view: memoryview, at: int, budget: Budget) -> Found:
    return _decode(lambda: _ZlibFeed(15), view, at, budget) if _inflates(view, at) else None


def _xz(data: bytes, view: memoryview, at: int, budget: Budget) -> Found:
    return _decode(lambda: lzma.LZMADecompressor(lzma.FORMAT_XZ), view, at, budget)


LZMA_MEMLIMIT = 1 << 28
"""Memory the ``.lzma`` decoder may take: its dictionary comes from the header (up to 2 GiB), and
``xz -9`` writes 64 MiB; a larger one is no stream (random bytes look like this header often)."""


def _lzma(data: bytes, view: memoryview, at: int, budget: Budget) -> Found:
    return _decode(lambda: lzma.LZMADecompressor(lzma.FORMAT_ALONE, memlimit=LZMA_MEMLIMIT), view, at, budget)


def _bzip2(data: bytes, view: memoryview, at: int, budget: Budget) -> Found:
    return _decode(bz2.BZ2Decompressor, view, at, budget)


_LOCAL = struct.Struct("<4sHHHHHIIIHH")
"""A zip local file header: signature, version, flags, method, time, date, crc, sizes, name and extra lengths."""


def _zip_local(data: bytes, view: memoryview, at: int, budget: Budget) -> Found:
    """One zip member from its local header, wherever it sits (``unzip`` of a damaged or embedded
    archive, a jar's members read by offset). Stored, deflated and bzip2 members are read; an
    encrypted one, or another method, behind a header that holds together is unscannable."""
    if len(data) < at + _LOCAL.size:
        return None
    _, version, flags, method, _, _, _, csize, _, nlen, xlen = _LOCAL.unpack_from(data, at)
    body = at + _LOCAL.size + nlen + xlen
    name = data[at + _LOCAL.size : at + _LOCAL.size + nlen]
    if version > 63 or not 0 < nlen <= 1024 or body > len(data) or not _printable_name(name):
        return None
    if flags & 0x1:
        raise Unscannable(f"an encrypted zip member at offset {at} ({name.decode('utf-8', 'replace')})")
    if method == 0:
        if flags & 0x8 and csize == 0:
            return None  # a stored member with its size after it: the central directory reader's case
        if body + csize > len(data):
            return None
        budget.spend(csize)
        return [data[body : body + csize]], body + csize
    if method == 8:
        return _decode(lambda: _ZlibFeed(-15), view, body, budget)
    if method == 12:
        return _decode(bz2.BZ2Decompressor, view, body, budget)
    if method in (9, 14, 93, 95, 96, 97, 98, 99):
        raise Unscannable(f"a zip member at offset {at} compressed with method {method} (no reader for it here)")
    return None


def _printable_name(b: bytes) -> bool:
    """A member name as archivers write it: UTF-8, printable (code bytes after a ``PK\\3\\4`` constant are not)."""
    try:
        return b.decode("utf-8").isprintable()
    except UnicodeDecodeError:
        return False


def _tar(data: bytes, view: memoryview, at: int, budget: Budget) -> Found:
    """A tar archive whose first header holds ``ustar`` at offset 257 and a valid checksum."""
    start = at - 257
    if start < 0 or len(data) < start + 512 or not _tar_checksum_ok(data[start : start + 512]):
        return None
    out: list[bytes] = []
    try:
        with tarfile.open(fileobj=io.BytesIO(data[start:]), mode="r:") as t:
            for body in tar_members(t, budget):
                out.append(body)
            end = start + t.offset
    except (tarfile.TarError, OSError, EOFError, ValueError):
        if not out:
            return None
        return out, at + 1
    return out, max(end, at + 1)


def _tar_checksum_ok(header: bytes) -> bool:
    field = header[148:156].split(b"\0", 1)[0].strip()
    try:
        want = int(field or b"x", 8)
    except ValueError:
        return False
    unsigned = sum(header[:148]) + 8 * 0x20 + sum(header[156:512])
    return want == unsigned


def _zstd(data: bytes, view: memoryview, at: int, budget: Budget) -> Found:
    """A zstd frame whose header and blocks walk to its last block inside the file: certain, and
    unreadable here (Python 3.11 has no zstd), so the file is hidden. Four magic bytes alone (the
    constant in any library linking libzstd) are not enough."""
    end = _zstd_frame_end(data, at)
    if end is None:
        return None
    raise Unscannable(f"zstd-compressed data at offset {at} (Python 3.11 has no zstd reader: hidden)")


def _zstd_frame_end(data: bytes, at: int) -> int | None:
    """Where the zstd frame at ``at`` ends, None when its header or blocks do not hold together."""
    p = at + 4
    if p >= len(data):
        return None
    fhd = data[p]
    if fhd & 0x08:  # the reserved bit
        return None
    single = fhd & 0x20
    dict_len = (0, 1, 2, 4)[fhd & 0x03]
    fcs = (1 if single else 0, 2, 4, 8)[fhd >> 6]
    if not single and (p + 1 >= len(data) or data[p + 1] >> 3 > 21):
        return None  # a window over 2 GiB: no encoder writes it
    p += 1 + (0 if single else 1) + dict_len + fcs
    blocks = 0
    while True:
        if p + 3 > len(data):
            # cut short after blocks that held together: a truncated frame, whose finished blocks
            # `zstd -dc` still prints (red team rt9); certain enough to hide the file
            return len(data) if blocks >= 2 else None
        header = int.from_bytes(data[p : p + 3], "little")
        last, kind, size = header & 1, (header >> 1) & 3, header >> 3
        if kind == 3 or size > 128 << 10:
            return None
        p += 3 + (1 if kind == 1 else size)
        blocks += 1
        if last:
            break
        if blocks > 1 << 16:
            return None
    if fhd & 0x04:
        p += 4  # the content checksum
    return p if p <= len(data) else (len(data) if blocks >= 2 else None)


def _sevenzip(data: bytes, view: memoryview, at: int, budget: Budget) -> Found:
    """A 7z signature header with its start-header CRC right: certain, and no reader here."""
    head = data[at : at + 32]
    if len(head) < 32 or zlib.crc32(head[12:32]) != int.from_bytes(head[8:12], "little"):
        return None
    raise Unscannable(f"a 7z archive at offset {at} (no reader for it here)")


def _lz4(data: bytes, view: memoryview, at: int, budget: Budget) -> Found:
    got = unpack_lz4.frame(data, at, budget)
    return None if got is None else ([got[0]], got[1])


def _lz4_legacy(data: bytes, view: memoryview, at: int, budget: Budget) -> Found:
    got = unpack_lz4.legacy(data, at, budget)
    return None if got is None else ([got[0]], got[1])


RAR5 = b"Rar!\x1a\x07\x01\x00"
RAR4 = b"Rar!\x1a\x07\x00"


def _rar(data: bytes, view: memoryview, at: int, budget: Budget) -> Found:
    """A RAR signature followed by a main archive header whose CRC is right: certain, and no reader
    here (``unrar p`` prints its members), so the file is hidden. The signature alone (a string in
    a program that handles RAR files) is not enough."""
    if data.startswith(RAR5, at):
        ok = _rar5_main_header(data, at + len(RAR5))
    elif data.startswith(RAR4, at):
        ok = _rar4_main_header(data, at + len(RAR4))
    else:
        return None
    if not ok:
        return None
    raise Unscannable(f"a RAR archive at offset {at} (no reader for it here)")


def _rar5_main_header(data: bytes, p: int) -> bool:
    """RAR 5: a CRC32, then the header's size (a variable-length integer) and the header, whose
    type is 1 (main archive header) or 4 (the encryption header of an archive whose headers are
    encrypted); the CRC covers the size field and the header."""
    want = int.from_bytes(data[p : p + 4], "little")
    q, size = p + 4, 0
    for shift in range(0, 28, 7):
        if q >= len(data):
            return False
        b = data[q]
        q += 1
        size |= (b & 0x7F) << shift
        if not b & 0x80:
            break
    else:
        return False
    end = q + size
    if size < 2 or end > len(data) or data[q] not in (1, 4):
        return False
    return zlib.crc32(data[p + 4 : end]) == want


def _rar4_main_header(data: bytes, p: int) -> bool:
    """RAR 1.5-4: the main archive header (type 0x73, at least 13 bytes), whose first two bytes are
    the low half of the CRC32 of its next eleven (type, flags, size, reserved: an old archive's
    comment inside the header is not covered)."""
    head = data[p : p + 13]
    if len(head) < 13 or head[2] != 0x73 or int.from_bytes(head[5:7], "little") < 13:
        return False
    return zlib.crc32(head[2:13]) & 0xFFFF == int.from_bytes(head[:2], "little")


def _find_all(data: bytes, needle: bytes) -> Iterator[int]:
    at = data.find(needle)
    while at >= 0:
        yield at
        at = data.find(needle, at + 1)


def _png_pixels(data: bytes, at: int) -> list[tuple[int, int]]:
    """The spans of the ``IDAT`` chunk data (pixels) of the PNG at ``at``; carving skips them."""
    spans = []
    p = at + len(PNG_MAGIC)
    while p + 8 <= len(data):
        length = int.from_bytes(data[p : p + 4], "big")
        ctype = data[p + 4 : p + 8]
        if p + 12 + length > len(data):
            break
        if ctype == b"IDAT":
            spans.append((p + 8, p + 8 + length))
        p += 12 + length
    return spans


_TRY: dict[str, Callable[[bytes, memoryview, int, Budget], Found]] = {
    "gzip": _gzip,
    "zlib": _zlib,
    "xz": _xz,
    "bzip2": _bzip2,
    "lzma": _lzma,
    "zstd": _zstd,
    "zip": _zip_local,
    "tar": _tar,
    "sevenzip": _sevenzip,
    "lz4": _lz4,
    "lz4-legacy": _lz4_legacy,
    "rar": _rar,
}
