"""A PDF's streams decoded through the filters its dictionaries name, as a command's script would.

The ``/Filter`` of each stream is read by token, not by a spelling: a name or an array of names,
abbreviated or not (``/Fl``, ``/FlateDecode``, ``/AHx``, ``/ASCIIHexDecode``, ``/A85``,
``/ASCII85Decode``), with ``#xx`` escapes in names resolved (``/Fl#61teDecode`` is Flate), and
glued to its neighbours or not (``/Filter/Fl/Length 9``). An array is applied in order
(``[/A85 /Fl]``: ASCII85 first, then inflate). A stream with a filter that has no decoder here
(LZW, RunLength, a filter given by reference), or whose filter is not within
:data:`PDF_DICT_WINDOW` bytes before it, is carved like any bytes
(:mod:`codeward.privacy.unpack_carve`). Images are not decoded: their pixels hold no text, and a
scanned document's pages would put most PDFs over the budget. A stream whose filter is known but
that does not decode makes the PDF unscannable.
"""

from __future__ import annotations

import base64
import binascii
import re
import zlib
from collections.abc import Iterator

from codeward.privacy.unpack_base import STEP, Budget, Unscannable
from codeward.privacy.unpack_carve import carve

_PDF_STREAM = re.compile(rb">>\s*stream\r?\n")
PDF_DICT_WINDOW = 2048
"""Bytes before a ``stream`` keyword searched for its dictionary (cut at the object's start)."""
FEED = 1 << 16
"""Compressed bytes handed to zlib per call."""
_FILTER = re.compile(rb"/Filter\s*(\[[^\]]*\]|/[^\s/\[\]<>()%]*|\d+\s+\d+\s+R)")
_NAME = re.compile(rb"/([^\s/\[\]<>()%]*)")
_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")
_ABBREVIATIONS = {b"Fl": b"FlateDecode", b"AHx": b"ASCIIHexDecode", b"A85": b"ASCII85Decode"}
_IMAGE_SUBTYPE = re.compile(rb"/Subtype\s*/Image(?![A-Za-z0-9#])")
"""The dictionary's own subtype, not the word anywhere in the window (a ``%/Image`` comment, a
``/ImageB`` procedure set, a text stream's neighbour: red team rt9)."""
_IMAGE = (b"DCTDecode", b"JPXDecode", b"JBIG2Decode", b"CCITTFaxDecode", b"DCT", b"CCF")


def pdf_streams(data: bytes, budget: Budget) -> Iterator[bytes]:
    """Each stream of a PDF with a filter, decoded; images left alone. The dictionary is looked for
    in a window before each ``stream`` keyword, so a file of ``<<`` costs one pass, not one per ``<<``.
    The bytes outside every stream (objects, comments, what follows ``%%EOF``: ``cat doc.pdf
    x.gz``) are carved."""
    spans: list[tuple[int, int]] = []
    for m in _PDF_STREAM.finditer(data):
        budget.check_time()
        end = data.find(b"endstream", m.end())
        spans.append((m.end(), end if end >= 0 else len(data)))
        head = data[max(0, m.start() - PDF_DICT_WINDOW) : m.start()]
        head = _ESCAPE.sub(lambda e: bytes([int(e.group(1), 16)]), head[head.rfind(b" obj") + 1 :])
        if _IMAGE_SUBTYPE.search(head):  # an image XObject (its pixels: large, and no text)
            continue
        f = _FILTER.search(head)
        filters = [_ABBREVIATIONS.get(n, n) for n in _NAME.findall(f.group(1))] if f is not None else []
        if f is None or f.group(1).endswith(b"R") or not filters:
            # no filter in the window (none at all, or pushed out of it by a long dictionary), or
            # one given by reference (not resolved here): the bytes are carved
            filters = [b"?"]
        if filters[0] in _IMAGE:  # an image codec reads the raw stream; one after Flate gets its output carved
            continue
        yield from _decoded(data, m.end(), data[spans[-1][0] : spans[-1][1]], filters, budget)
    yield from carve(data, budget, skip=spans)


def _decoded(data: bytes, start: int, body: bytes, filters: list[bytes], budget: Budget) -> Iterator[bytes]:
    out = body
    for i, name in enumerate(filters):
        if name == b"FlateDecode":
            # the first filter reads the file from the stream's start: its end is the deflate end,
            # not the ``endstream`` keyword, which compressed bytes may hold
            out = _inflate(memoryview(data)[start:] if i == 0 else memoryview(out), budget)
            continue
        if name == b"ASCIIHexDecode":
            out = _hex(out)
        elif name == b"ASCII85Decode":
            out = _a85(out)
        else:
            yield from carve(out, budget)
            return
        budget.spend(len(out))
    yield out


def _inflate(data: memoryview, budget: Budget) -> bytes:
    """A zlib stream, fed :data:`FEED` bytes and inflated a step at a time (so neither the rest of
    the file nor a bomb's output is ever copied whole); a stream cut short (no end marker) still
    gives what it held."""
    d = zlib.decompressobj(zlib.MAX_WBITS)
    out = []
    try:
        for at in range(0, len(data), FEED):
            chunk = d.decompress(data[at : at + FEED], STEP)
            while True:
                budget.spend(len(chunk))
                out.append(chunk)
                tail = d.unconsumed_tail
                if d.eof or not tail:
                    break
                chunk = d.decompress(tail, STEP)
            if d.eof:
                break
    except zlib.error as e:
        raise Unscannable(f"a PDF stream that cannot be inflated ({e})") from None
    return b"".join(out)


def _hex(body: bytes) -> bytes:
    text = re.sub(rb"\s+", b"", body.split(b">", 1)[0])
    try:
        return binascii.unhexlify(text + b"0" * (len(text) % 2))
    except (binascii.Error, ValueError):
        raise Unscannable("a PDF ASCIIHex stream that cannot be decoded") from None


def _a85(body: bytes) -> bytes:
    text = body.split(b"~>", 1)[0].strip()
    if text.startswith(b"<~"):
        text = text[2:]
    try:
        return base64.a85decode(text)
    except ValueError:
        raise Unscannable("a PDF ASCII85 stream that cannot be decoded") from None
