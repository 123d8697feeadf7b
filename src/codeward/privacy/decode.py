"""Base64 blobs that hide text: find them, decode them, hand the text back for scanning.

A secret pasted as ``Basic dXNlcjpodW50ZXIy`` or a Kubernetes ``data:`` value is invisible to
token regexes. The scanner decodes each plausible blob and scans the result; when that finds a
secret, the finding covers the whole blob (so redaction replaces all of it).

Only blobs that decode to mostly printable UTF-8 text are rescanned: random binary (hashes,
images, compressed data) cannot hold a token a regex would recognise, and skipping it keeps the
cost small.
"""

from __future__ import annotations

import base64
import binascii
import functools
from collections.abc import Iterator
from typing import Any

MIN_BLOB = 16
MAX_BLOB = 64 * 1024
MAX_BLOBS = 2000
MAX_DEPTH = 2
PRINTABLE_SHARE = 0.95

# A run of base64 alphabet (standard or URL-safe) of at least MIN_BLOB characters, with optional
# padding, not glued to more identifier characters on either side.
_BLOB = rb"(?:^|[^A-Za-z0-9+/_\-])([A-Za-z0-9+/_\-]{%d,}={0,2})(?:[^A-Za-z0-9+/_\-=]|$)" % MIN_BLOB


# Wrapped base64, as `base64`, `openssl base64` and MIME write it: two or more lines of the
# standard alphabet of one width (at least 40 characters), the last line possibly shorter.
MIN_WRAP = 40
_WRAPPED = rb"(?m)^((?:[A-Za-z0-9+/]{%d,}\r?\n)+[A-Za-z0-9+/]*={0,2})\r?$" % MIN_WRAP


@functools.lru_cache(maxsize=1)
def _wrapped_re() -> Any:
    import re2

    opts = re2.Options()
    opts.max_mem = 16 << 20
    opts.log_errors = False
    return re2.compile(_WRAPPED, opts)


def _wrapped_blobs(data: bytes) -> Iterator[tuple[int, int, bytes]]:
    """(start, end, decoded) for runs of wrapped base64 lines of one width that decode to text."""
    if b"\n" not in data:
        return
    for count, m in enumerate(_wrapped_re().finditer(data)):
        if count >= MAX_BLOBS:
            return
        s, e = m.span(1)
        lines = data[s:e].split(b"\n")
        body = [ln.rstrip(b"\r") for ln in lines]
        widths = {len(ln) for ln in body[:-1]}
        if len(widths) != 1 or len(body[-1]) > next(iter(widths)) or e - s > MAX_BLOB:
            continue  # not one wrapping width: prose or a table, not an encoded blob
        decoded = decode_text(b"".join(body))
        if decoded is not None:
            yield s, e, decoded


@functools.lru_cache(maxsize=1)
def _blob_re() -> Any:
    import re2

    opts = re2.Options()
    opts.max_mem = 16 << 20
    opts.log_errors = False
    return re2.compile(_BLOB, opts)


def _looks_encoded(blob: bytes) -> bool:
    """Cheap tests (all in C) that reject identifiers, constants and paths before paying for a decode.

    Base64 of text mixes upper and lower case; a run without both is a snake_case name, a
    CONSTANT, lowercase hex or a path segment. A short run also needs a non-letter.
    """
    if blob.islower() or blob.isupper():
        return False
    return len(blob) >= 24 or not blob.isalpha()


def decode_text(blob: bytes) -> bytes | None:
    """The UTF-8 text ``blob`` encodes, or None when it is not base64 of mostly printable text."""
    raw = blob.rstrip(b"=")
    if len(raw) % 4 == 1:
        return None
    padded = raw + b"=" * (-len(raw) % 4)
    try:
        if b"-" in raw or b"_" in raw:
            if b"+" in raw or b"/" in raw:
                return None
            out = base64.urlsafe_b64decode(padded)
        else:
            out = base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(out) < 6:
        return None
    try:
        text = out.decode("utf-8")
    except UnicodeDecodeError:
        return None
    printable = sum(1 for ch in text if ch.isprintable() or ch in "\t\r\n")
    if printable < PRINTABLE_SHARE * len(text):
        return None
    return out


def find_encoded(data: bytes) -> Iterator[tuple[int, int, bytes]]:
    """(start, end, decoded) for each base64 blob in ``data`` that decodes to text.

    Wrapped blobs (several lines of one width) come first, as one blob spanning all their lines: a
    secret split across two lines of ``base64`` output is found only when they are joined.
    """
    yield from _wrapped_blobs(data)
    for count, m in enumerate(_blob_re().finditer(data)):
        if count >= MAX_BLOBS:
            return
        s, e = m.span(1)
        blob = data[s:e]
        if len(blob) > MAX_BLOB or not _looks_encoded(blob):
            continue
        decoded = decode_text(blob)
        if decoded is not None:
            yield s, e, decoded
