"""LZ4 frames read in pure Python, wherever they sit in a file.

Python 3.11 has no LZ4 module, and ``lz4 -dc`` (or ``tail -c +N f | lz4 -dc``) prints a frame's
content as easily as ``zcat`` does, so a secret in an ``.lz4`` file, or in an LZ4 frame after other
bytes, must be read like a gzip member's (red team notes: "lz4 other than at a file's start" was
not read). The block format is small enough to decode here: a token, literals, a two-byte offset
back into what was decoded, a match length.

Two framings are read, both as written by the reference ``lz4`` program:

* the frame format (magic ``04 22 4D 18``): a descriptor with its own checksum (the second byte of
  the XXH32 of the descriptor), then blocks of a stated size up to the descriptor's maximum, an end
  mark, optional checksums. A candidate counts only when the descriptor's fixed bits and checksum
  are right (about 2^-49 for random bytes after the magic); a frame that needs a dictionary cannot be
  decoded here, so it makes the file unscannable (hidden);
* the legacy format (``lz4 -l``, the Linux kernel's initramfs; magic ``02 21 4C 18``): no checksum
  at all, so a candidate counts only when its first block decodes exactly to its stated end (random
  bytes fail almost at once: an offset before the start, a length past the end, or a last sequence
  that ends in the wrong place), however short that block is.

A false candidate of either kind only gives a few bytes to scan; it never hides a file (only a frame
that needs a dictionary, or one over the budget, does).

What a frame decodes to is charged to the file's budget a block at a time, and the CPU budget is
checked every :data:`CHECK_SEQUENCES` sequences; a frame that breaks after its first block (cut
short, damaged) gives what it decoded before the break as a :class:`Fragment`, as ``lz4 -dc``
prints it before its error.
"""

from __future__ import annotations

from codeward.privacy.unpack_base import Budget, Fragment, Unscannable

FRAME_MAGIC = b"\x04\x22\x4d\x18"
LEGACY_MAGIC = b"\x02\x21\x4c\x18"
SKIPPABLE = range(0x184D2A50, 0x184D2A60)
"""Skippable frames carry user data as it is (no compression): read as the file's own bytes."""
_BLOCK_MAX = {4: 64 << 10, 5: 256 << 10, 6: 1 << 20, 7: 4 << 20}
"""The frame descriptor's block maximum size code and the bytes it allows."""
LEGACY_BLOCK = 8 << 20
"""A legacy frame's blocks decode to 8 MiB each (the last one less)."""
_LEGACY_BOUND = LEGACY_BLOCK + LEGACY_BLOCK // 255 + 16
"""The most compressed bytes a legacy block can take (the reference ``LZ4_compressBound``)."""
CHECK_SEQUENCES = 4096
"""Sequences decoded between two checks of the CPU budget."""

_P1, _P2, _P3, _P4, _P5 = 0x9E3779B1, 0x85EBCA77, 0xC2B2AE3D, 0x27D4EB2F, 0x165667B1
_M32 = 0xFFFFFFFF


class _Broken(Exception):
    """The block data does not decode (a bad offset, a length past the end)."""


def xxh32_short(data: bytes, seed: int = 0) -> int:
    """XXH32 of fewer than 16 bytes (all a frame descriptor can be: at most 14)."""
    if len(data) >= 16:
        raise ValueError("xxh32_short is for inputs under 16 bytes")

    def rotl(x: int, r: int) -> int:
        return ((x << r) | (x >> (32 - r))) & _M32

    h = (seed + _P5 + len(data)) & _M32
    p = 0
    while p + 4 <= len(data):
        h = (h + int.from_bytes(data[p : p + 4], "little") * _P3) & _M32
        h = rotl(h, 17) * _P4 & _M32
        p += 4
    for b in data[p:]:
        h = (h + b * _P5) & _M32
        h = rotl(h, 11) * _P1 & _M32
    h ^= h >> 15
    h = h * _P2 & _M32
    h ^= h >> 13
    h = h * _P3 & _M32
    return h ^ (h >> 16)


def _extended(src: bytes | memoryview, p: int, value: int, what: str) -> tuple[int, int]:
    """A length of 15 goes on in the bytes after it, each added, until one under 255."""
    while True:
        if p >= len(src):
            raise _Broken(f"{what} past the block's end")
        b = src[p]
        p += 1
        value += b
        if b != 255:
            return value, p


def decode_block(src: bytes | memoryview, out: bytearray, limit: int, budget: Budget) -> None:
    """Append the LZ4 block ``src`` decoded to ``out`` (which holds the window a dependent block's
    matches reach back into); at most ``limit`` bytes. :class:`_Broken` when it does not decode."""
    n = len(src)
    start = len(out)
    p = 0
    sequences = 0
    while True:
        if p >= n:
            raise _Broken("a block that ends without its last literals")
        token = src[p]
        p += 1
        run = token >> 4
        if run == 15:
            run, p = _extended(src, p, run, "a literal length")
        if p + run > n:
            raise _Broken("literals past the block's end")
        out += src[p : p + run]
        p += run
        if p == n:
            break  # the last sequence: literals only
        if p + 2 > n:
            raise _Broken("an offset past the block's end")
        offset = src[p] | (src[p + 1] << 8)
        p += 2
        length = token & 15
        if length == 15:
            length, p = _extended(src, p, length, "a match length")
        length += 4
        here = len(out)
        if offset > here:
            raise _Broken("a match before the start of the output")
        if here + length - start > limit:
            raise _Broken("a block larger than its frame allows")
        at = here - offset
        if offset == 0:
            # no encoder writes it, but lz4 1.9.4 decodes on past it (red team rt16): the bytes it
            # copies are whatever its buffer held; zeros here, and the literals after are read
            out += bytes(length)
        elif length <= offset:
            out += out[at : at + length]
        else:  # overlapping: the last ``offset`` bytes repeat
            piece = bytes(out[at:here])
            out += (piece * (length // offset + 1))[:length]
        sequences += 1
        if sequences % CHECK_SEQUENCES == 0:
            budget.check_time()
    if len(out) - start > limit:
        raise _Broken("a block larger than its frame allows")


def frame(data: bytes, at: int, budget: Budget) -> tuple[bytes, int] | None:
    """The frame-format frame at ``at`` decoded, and where it ends; None when its descriptor is not
    one (by its fixed bits and checksum). Cut short or damaged after its descriptor: a
    :class:`Fragment` of what came before the break, ending at ``at + 1`` so carving goes on inside it."""
    p = at + 4
    if p + 3 > len(data):
        return None
    flg, bd = data[p], data[p + 1]
    if flg >> 6 != 1 or flg & 0x02 or bd & 0x8F or (bd >> 4) not in _BLOCK_MAX:
        return None
    size = 2 + (8 if flg & 0x08 else 0) + (4 if flg & 0x01 else 0)
    if p + size + 1 > len(data) or data[p + size] != (xxh32_short(data[p : p + size]) >> 8) & 0xFF:
        return None
    if flg & 0x01:
        raise Unscannable(f"an lz4 frame at offset {at} that needs a dictionary (none here to decode it)")
    # dependent blocks' matches reach back into the blocks before them, so ``out`` is their window too
    # (a frame that says its blocks are independent and still reaches back is read the same way)
    block_sums, content_sum = flg & 0x10, flg & 0x04
    limit = _BLOCK_MAX[bd >> 4]
    p += size + 1
    out = bytearray()
    while True:
        if p + 4 > len(data):
            return Fragment(out), at + 1
        word = int.from_bytes(data[p : p + 4], "little")
        p += 4
        if word == 0:
            break
        stored, length = word >> 31, word & 0x7FFFFFFF
        if length > limit or p + length > len(data):
            return Fragment(out), at + 1
        before = len(out)
        if stored:
            out += data[p : p + length]
        else:
            try:
                decode_block(memoryview(data)[p : p + length], out, limit, budget)
            except _Broken:
                del out[before:]
                return Fragment(out), at + 1
        budget.spend(len(out) - before)
        p += length + (4 if block_sums else 0)
    p += 4 if content_sum else 0
    return bytes(out), min(p, len(data))


def legacy(data: bytes, at: int, budget: Budget) -> tuple[bytes, int] | None:
    """The legacy frame at ``at`` decoded, and where it ends (at the data's end or another magic);
    None unless its first block decodes exactly (no checksum to go by)."""
    p = at + 4
    out = bytearray()
    blocks = 0
    while p + 4 <= len(data):
        length = int.from_bytes(data[p : p + 4], "little")
        if length in (int.from_bytes(FRAME_MAGIC, "little"), int.from_bytes(LEGACY_MAGIC, "little")):
            break  # the next frame
        if length > _LEGACY_BOUND or p + 4 + length > len(data):
            break
        try:
            block = bytearray()  # each legacy block is independent
            decode_block(memoryview(data)[p + 4 : p + 4 + length], block, LEGACY_BLOCK, budget)
        except _Broken:
            break
        out += block
        budget.spend(len(block))
        p += 4 + length
        blocks += 1
    if blocks == 0:
        return None
    return bytes(out), p
