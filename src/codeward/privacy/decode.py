"""Encoded blobs that hide text: find them, decode them, hand the text back for scanning.

A secret pasted as ``Basic dXNlcjpodW50ZXIy`` or a Kubernetes ``data:`` value is invisible to
token regexes. The scanner decodes each plausible blob and scans the result; when that finds a
secret, the finding covers the whole blob (so redaction replaces all of it).

A blob is base64 (standard or URL-safe, wrapped or not) or hex (a dump of a config as one run of
hex digits, ``xxd -p``). What it decodes to is rescanned when it is mostly printable UTF-8 text, or
when it starts like compressed data or an archive (gzip, zlib, xz, bzip2, zip, tar: a ConfigMap's
``base64(gzip(...))``, a Helm release's ``base64(base64(gzip(json)))``): then it is unpacked by
:mod:`codeward.privacy.unpack` and its texts are rescanned. All the blobs of one scan, nested ones
included, share one unpacking budget; a compressed blob that cannot be read in full within it (a
bomb, a damaged stream, zstd) is an :class:`Unreadable` result, which the scanner reports as a
finding over the whole blob (fail closed: it is redacted, never sent). Other binary (hashes,
images) cannot hold a token a regex would recognise, and skipping it keeps the cost small.
"""

from __future__ import annotations

import base64
import binascii
import functools
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain
from typing import TYPE_CHECKING, Any

from codeward.privacy.decode_codecs import codec_blobs
from codeward.privacy.decode_hexdump import hexdump_blobs

if TYPE_CHECKING:
    from codeward.privacy.unpack import Budget

MIN_BLOB = 16
MAX_BLOB = 64 * 1024
MAX_BLOBS = 2000
MAX_DEPTH = 2
PRINTABLE_SHARE = 0.95

# A run of base64 alphabet (standard or URL-safe) of at least MIN_BLOB characters, with optional
# padding, not glued to more identifier characters on either side.
_BLOB = rb"(?:^|[^A-Za-z0-9+/_\-])([A-Za-z0-9+/_\-]{%d,}={0,2})(?:[^A-Za-z0-9+/_\-=]|$)" % MIN_BLOB


# Wrapped base64, as `base64`, `openssl base64` and MIME write it: two or more lines of the
# standard alphabet of one width (at least 40 characters), the last line possibly shorter. The
# first line may follow other text (a string literal's quotes: CPython's test_mailbox.py holds
# `"""H4sI...` over two lines, whose first line alone is a cut gzip stream).
MIN_WRAP = 40
_WRAPPED = rb"(?m)(?:^|[^A-Za-z0-9+/=_\-])((?:[A-Za-z0-9+/]{%d,}\r?\n)+[A-Za-z0-9+/]*={0,2})\r?$" % MIN_WRAP


@functools.lru_cache(maxsize=1)
def _wrapped_re() -> Any:
    import re2

    opts = re2.Options()
    opts.max_mem = 16 << 20
    opts.log_errors = False
    return re2.compile(_WRAPPED, opts)


def _wrapped_blobs(data: bytes) -> Iterator[tuple[int, int, Decoded]]:
    """(start, end, decoded) for runs of wrapped base64 (or hex) lines of one width that decode to
    text or compressed data."""
    if b"\n" not in data:
        return
    for count, m in enumerate(_wrapped_re().finditer(data)):
        if count >= MAX_BLOBS:
            return
        s, e = m.span(1)
        lines = data[s:e].split(b"\n")
        body = [ln.rstrip(b"\r") for ln in lines]
        if len(body) > 2 and not body[-1]:
            # the run ends in a newline: its last line, shorter and unpadded but of 40 characters
            # or more, was taken by the repeated group (a third of `base64 .env` outputs: red team rt16)
            body.pop()
        widths = {len(ln) for ln in body[:-1]}
        if len(widths) != 1 or len(body[-1]) > next(iter(widths)):
            continue  # not one wrapping width: prose or a table, not an encoded blob
        joined = b"".join(body)
        decoded = _large_blob(joined) if e - s > MAX_BLOB else decode_blob(joined)
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


@dataclass(frozen=True)
class Unreadable:
    """A blob that decodes to compressed data which cannot be unpacked in full (the reason why)."""

    reason: str


Decoded = bytes | Unreadable
UNREADABLE_RULE = "unreadable-compressed-blob"
"""The rule id of the scanner's finding over an :class:`Unreadable` blob."""


def find_encoded(data: bytes) -> Iterator[tuple[int, int, Decoded]]:
    """(start, end, decoded) for each blob in ``data`` that decodes to text, or to compressed data
    (its unpacked texts, or :class:`Unreadable`).

    Wrapped blobs (several lines of one width) come first, as one blob spanning all their lines: a
    secret split across two lines of ``base64`` output is found only when they are joined.
    """
    with _shared_budget():
        wrapped: list[tuple[int, int]] = []
        for s, e, whole in _wrapped_blobs(data):
            wrapped.append((s, e))
            yield s, e, whole
        for s, e, whole in _a85_blobs(data):
            wrapped.append((s, e))
            yield s, e, whole
        for s, e, raw in chain(hexdump_blobs(data), codec_blobs(data)):  # xxd, od, base32, uu... (rt9)
            dumped = _text(raw) or _unpacked(raw)
            if dumped is not None:
                wrapped.append((s, e))
                yield s, e, dumped
        for count, m in enumerate(_blob_re().finditer(data)):
            if count >= MAX_BLOBS:
                return
            s, e = m.span(1)
            if any(ws <= s and e <= we for ws, we in wrapped):
                continue  # a line of a wrapped blob read whole (its first line alone is a cut stream)
            blob = data[s:e]
            decoded: Decoded | None
            if _is_hex(blob):
                decoded = decode_blob(blob)
            elif not _looks_encoded(blob):
                continue
            elif len(blob) > MAX_BLOB:
                decoded = _large_blob(blob)
            else:
                decoded = decode_blob(blob)
            if decoded is not None:
                yield s, e, decoded


A85_END = b"~>"
A85_LINES = 16
"""Line starts tried before an ASCII85 end marker: the data's first line is not marked, and the
lines before it (``stream``, a dictionary) are made of the same characters."""
_A85_CHARS = bytes(range(0x21, 0x76)) + b"z \t\r\n"


def _a85_blobs(data: bytes) -> Iterator[tuple[int, int, Decoded]]:
    """(start, end, decoded) for ASCII85 data ending in ``~>`` (a PDF's ``/A85`` stream, Adobe's
    ``<~ ... ~>``) that decodes to text or compressed data; the start is the first line start
    (of :data:`A85_LINES` before the marker) from which it decodes so."""
    end = data.find(A85_END)
    while end >= 0:
        start = end
        while start > 0 and end - start < MAX_BLOB and data[start - 1] in _A85_CHARS:
            start -= 1
        starts = [start, *[i + 1 for i in range(start, end) if data[i] == 0x0A][-A85_LINES:]]
        for s in starts:
            if s == end:
                continue
            body = data[s + 2 if data.startswith(b"<~", s) else s : end]
            try:
                raw = base64.a85decode(body)
            except ValueError:
                continue
            decoded: Decoded | None = (_text(raw) if len(raw) >= 6 else None) or _unpacked(raw)
            if decoded is not None:
                yield s, end + len(A85_END), decoded
                break
        end = data.find(A85_END, end + len(A85_END))


MIN_HEX = 32
"""Hex digits in a run read as a hex dump (16 bytes: shorter runs are ids, colours, hashes' parts)."""


def _is_hex(blob: bytes) -> bool:
    if len(blob) < MIN_HEX or len(blob) % 2 or not (blob.islower() or blob.isupper() or blob.isdigit()):
        return False
    return not blob.translate(None, _HEX_DIGITS)


_HEX_DIGITS = b"0123456789abcdefABCDEF"


def decode_blob(blob: bytes) -> Decoded | None:
    """What ``blob`` (hex or base64) holds for the scanner: its text, the texts unpacked from the
    compressed data it encodes, :class:`Unreadable`, or None (neither)."""
    raw = _hex(blob) if _is_hex(blob) else _base64(blob)
    if raw is None or len(raw) < 6:
        return None
    return _text(raw) or _unpacked(raw)


def _large_blob(blob: bytes) -> Decoded | None:
    """A base64 blob over :data:`MAX_BLOB`: a Helm release's compressed data (the unpacking budget
    bounds it), or plain text (``base64 -w0`` of a large config: red team rt16), judged in C
    (:func:`_text` counts characters in Python: a second for 8 MB); anything else (an image's
    data URI) costs one decode and is left as it is."""
    head = _base64(blob[:16])
    if head is None:
        return None
    if _compressed(head):
        return decode_blob(blob)
    raw = _base64(blob)
    return raw if raw is not None and _large_text(raw) else None


_ASCII_TEXT = bytes(range(0x20, 0x7F)) + b"\t\r\n"


def _large_text(raw: bytes) -> bool:
    """Valid UTF-8 whose bytes are printable ASCII at :data:`PRINTABLE_SHARE` or more (a large blob
    of non-Latin text is not read: README)."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return len(raw.translate(None, _ASCII_TEXT)) <= (1 - PRINTABLE_SHARE) * len(raw)


def _hex(blob: bytes) -> bytes | None:
    try:
        return bytes.fromhex(blob.decode("ascii"))
    except ValueError:
        return None


def _base64(blob: bytes) -> bytes | None:
    raw = blob.rstrip(b"=")
    if len(raw) % 4 == 1:
        return None
    padded = raw + b"=" * (-len(raw) % 4)
    try:
        if b"-" in raw or b"_" in raw:
            if b"+" in raw or b"/" in raw:
                return None
            return base64.urlsafe_b64decode(padded)
        return base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        return None


def _text(out: bytes) -> bytes | None:
    """``out`` when it is mostly printable UTF-8 text."""
    try:
        text = out.decode("utf-8")
    except UnicodeDecodeError:
        return None
    printable = sum(1 for ch in text if ch.isprintable() or ch in "\t\r\n")
    if printable < PRINTABLE_SHARE * len(text):
        return None
    return out


def _compressed(raw: bytes) -> bool:
    """``raw`` starts like compressed data or an archive (a zlib header is checked by its FCHECK)."""
    from codeward.privacy.unpack import kind

    if len(raw) >= 2 and raw[0] & 0x0F == 8 and raw[0] >> 4 <= 7 and (raw[0] * 256 + raw[1]) % 31 == 0:
        return True
    return kind(raw) not in (None, "pdf", "zip-appended")


def _unpacked(raw: bytes) -> Decoded | None:
    """The texts of what the compressed data ``raw`` unpacks to, within the scan's shared budget;
    None when nothing comes out (random bytes that start like a zlib header: a hash, a nonce)."""
    if not _compressed(raw):
        return None
    from codeward.privacy.contents import contents
    from codeward.privacy.unpack import Unscannable, payloads

    budget = _budget()
    texts: list[str] = []
    try:
        for inner in payloads(raw, budget):
            got = contents(inner, budget)
            if got.unscannable is not None:
                return Unreadable(got.unscannable)
            texts += got.texts or ("",)
    except Unscannable as e:
        return Unreadable(str(e))
    except (Exception, MemoryError, RecursionError) as e:  # a reader's surprise: fail closed
        return Unreadable(f"could not be unpacked ({type(e).__name__})")
    return "\n".join(texts).encode("utf-8", "surrogatepass") if texts else None


_local = threading.local()


class _shared_budget:
    """One unpacking budget for a scan and the scans of its decoded blobs: the scanner rescans a
    decoded blob (which calls :func:`find_encoded` again) while the outer call is suspended, so
    nested calls share the outermost one's budget (blobs of blobs of bombs cannot multiply the
    limit); it is dropped when the outermost call ends. A call left suspended forever would leave
    later scans of this thread an exhausted budget: their compressed blobs are then redacted
    (fail closed), never passed unread."""

    def __enter__(self) -> None:
        _local.depth = getattr(_local, "depth", 0) + 1

    def __exit__(self, *exc: object) -> None:
        _local.depth -= 1
        if _local.depth == 0:
            _local.__dict__.pop("budget", None)


def _budget() -> Budget:
    """The budget of the scan in progress, made on first use (most scans unpack nothing)."""
    from codeward.privacy.unpack import Budget

    budget: Budget | None = getattr(_local, "budget", None)
    if budget is None:
        budget = Budget()
        _local.budget = budget
    return budget
