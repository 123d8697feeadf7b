"""base32 and uuencoded blobs in text, for the scanner to decode (red team rt9: a config carried
through ``base32 -d`` and ``uudecode``). Pure: bytes in, ``(start, end, raw bytes)`` out; what the
bytes are judged as is the caller's (:func:`codeward.privacy.decode.find_encoded`).

* base32 (RFC 4648, as ``base32`` writes it): at least 16 characters of ``A-Z2-7`` with ``=``
  padding, lines of a wrapped blob joined;
* uuencode: a ``begin MODE NAME`` line, then lines each starting with its length character.
"""

from __future__ import annotations

import base64
import binascii
import functools
from collections.abc import Iterator
from typing import Any

MIN_BYTES = 10
_BASE32 = rb"(?:^|[^A-Za-z0-9+/=_\-])([A-Z2-7]{16,}={0,6}(?:\r?\n[A-Z2-7]{8,}={0,6})*)(?:[^A-Za-z0-9+/=_\-]|$)"
_UU = rb"(?m)^begin [0-7]{3,4} [^\n]*\n((?:[!-`][ -`]*\r?\n)+)"


@functools.lru_cache(maxsize=1)
def _compiled() -> tuple[Any, Any]:
    import re2

    opts = re2.Options()
    opts.max_mem = 16 << 20
    opts.log_errors = False
    return re2.compile(_BASE32, opts), re2.compile(_UU, opts)


def codec_blobs(data: bytes) -> Iterator[tuple[int, int, bytes]]:
    """(start, end, bytes) of each base32 and uuencoded blob that decodes."""
    base32, uu = _compiled()
    if b"begin " in data:
        for m in uu.finditer(data):
            raw = _uudecode(m.group(1))
            if raw is not None and len(raw) >= MIN_BYTES:
                yield m.start(), m.end(), raw
    for m in base32.finditer(data):
        blob = b"".join(m.group(1).split()).rstrip(b"=")
        if len(blob) % 8 in (1, 3, 6):
            continue  # no base32 length
        try:
            raw = base64.b32decode(blob + b"=" * (-len(blob) % 8))
        except (binascii.Error, ValueError):
            continue
        if len(raw) >= MIN_BYTES:
            yield m.start(1), m.end(1), raw


def _uudecode(lines: bytes) -> bytes | None:
    out = []
    for line in lines.splitlines():
        if line in (b"`", b""):
            break
        try:
            out.append(binascii.a2b_uu(line))
        except binascii.Error:
            return None
    return b"".join(out)
