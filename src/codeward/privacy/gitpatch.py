"""The payloads of git's binary patches (``git log -p --binary``, ``git diff --binary``,
``format-patch``), so that the known-values matcher can search what they carry.

A path git treats as binary (the sandbox marks every hidden path ``-diff``) is printed by
``--binary`` as ``GIT binary patch`` followed by ``literal N`` or ``delta N`` blocks: zlib-deflated
bytes in git's base85 (the alphabet of RFC 1924, which :func:`base64.b85decode` reads), one line per
at most 52 bytes, each line led by a letter giving its decoded length (``A``-``Z`` 1-26,
``a``-``z`` 27-52). A literal inflates to the file itself; a delta to copy/insert instructions
whose inserted bytes are the new text, verbatim.
"""

from __future__ import annotations

import base64
import re
import zlib
from collections.abc import Iterator

MAX_INFLATED = 64 << 20
_BLOCK = re.compile(rb"(?m)^(?:literal|delta) (\d+)\r?\n((?:[A-Za-z][0-9A-Za-z!#$%&()*+\-;<=>?@^_`{|}~]{5,}\r?\n?)+)")


def binary_patches(data: bytes) -> Iterator[tuple[int, int, bytes]]:
    """``(start, end, inflated)`` of every literal or delta block in ``data`` that decodes."""
    for m in _BLOCK.finditer(data):
        raw = bytearray()
        try:
            for line in m.group(2).split(b"\n"):
                line = line.rstrip(b"\r")
                if not line:
                    continue
                c = line[0]
                n = c - 64 if c <= 90 else c - 96 + 26
                raw += base64.b85decode(line[1:])[:n]
            inflated = zlib.decompressobj().decompress(bytes(raw), MAX_INFLATED)
        except (ValueError, zlib.error):
            continue
        if inflated:
            yield m.start(), m.end(), inflated
