"""What of a file's bytes the workspace scan reads as text: decoded text, or a binary's strings.

A command reads a binary file's secrets as easily as a text file's (``strings x.pyc``, ``sqlite3``,
``zcat``, ``unzip -p``), so a binary is scanned too, on what those tools would print:

* text in any encoding :func:`codeward.textenc.detect` knows (UTF-8, UTF-16, UTF-32) is decoded;
* a compressed file or archive is unpacked (gzip, xz/lzma, bzip2, zip and what is built on it,
  tar, a PDF's streams through their filters: :mod:`codeward.privacy.unpack`), and streams are
  carved wherever they sit in any file, text included; each payload is treated like a file of its
  own, nested archives included, within one budget per file; a file that cannot be unpacked in
  full (over the budget, damaged, encrypted, zstd) is *unscannable* (:attr:`Contents.unscannable`)
  and counts as holding a secret;
* anything else binary is read as its printable strings (runs of 8 or more in ASCII, UTF-16/32
  of either byte order, EBCDIC),
  and a SQLite database also as its tables' rows (``a = b`` lines, as ``.dump`` shows them).

A binary file is never redacted (a redacted executable or database is meaningless); when its
strings hold a secret the redacted view hides it from commands instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from codeward.privacy.unpack import MAX_DEPTH, MAX_INFLATED, Budget, Fragment, Unscannable, payloads
from codeward.privacy.unpack_carve import carve, may_hold_stream
from codeward.privacy.unpack_pdf import pdf_streams
from codeward.textenc import RUN_BYTES, decode, detect, ibm930_text, printable_strings

__all__ = ["MAX_INFLATED", "Contents", "contents", "streamed_strings"]
CHUNK = 8 << 20
MAX_RUN_CARRY = 1 << 16


@dataclass(frozen=True)
class Contents:
    """The texts the scanner reads for one file, whether the file is binary (hidden, not redacted),
    and why it could not be read in full (``unscannable``: hidden, whatever its texts hold)."""

    texts: tuple[str, ...]
    binary: bool
    unscannable: str | None = None


def contents(data: bytes, budget: Budget | None = None) -> Contents:
    """The texts to scan in ``data`` (a whole file, at most the learner's size limit)."""
    texts: list[str] = []
    text_file = detect(data) == "utf-8"  # nearly every file of a workspace
    if text_file and not may_hold_stream(data):  # no budget to set up, nothing to unpack
        return Contents(_text_file(data), False)
    budget = budget if budget is not None else Budget()
    try:
        if text_file:
            if not _streams_in_text(data, budget, texts):
                return Contents(_text_file(data), False)
            texts[:0] = _text_file(data)
            binary = False  # every hit counts (a short password in the text too): it is shown redacted
        else:
            binary = _collect(data, budget, 0, texts)
    except Unscannable as e:
        return Contents(tuple(t for t in texts if t), True, str(e))
    except (Exception, MemoryError, RecursionError) as e:
        # a reader's surprise on a crafted or damaged file (struct.error, a codec error): this file
        # is hidden, and the walk goes on; one odd archive must not refuse every command
        return Contents(tuple(t for t in texts if t), True, f"could not be unpacked ({type(e).__name__})")
    return Contents(tuple(t for t in texts if t), binary)


def _text_file(data: bytes) -> tuple[str, ...]:
    """The texts of a file with no NUL byte: its UTF-8 text and, when some of its bytes are not
    UTF-8, its printable strings too. Text in a single-byte code page that is not ASCII-based, such
    as EBCDIC from a mainframe export, has no NUL and so passes for UTF-8, but decoded that way its
    letters are replacement characters while ``iconv -f IBM037`` prints them (red team rt16; the
    Japanese IBM-930 too, rt18). The
    view's copy of such a file replaces those bytes, so marking the file is enough."""
    text = decode(data, "utf-8")
    if not text:
        return ()
    if "\ufffd" not in text:
        return (text,)
    japanese = ibm930_text(data)  # whose lower-case letters no cp037 string spells (red team rt18)
    return (text, "\n".join(printable_strings(data)), *((japanese,) if japanese else ()))


def _collect(data: bytes, budget: Budget, depth: int, texts: list[str]) -> bool:
    """Append the texts of ``data`` (a file, or a payload unpacked from one ``depth`` levels down)
    to ``texts``; True when it is binary."""
    codec = detect(data)
    if codec == "utf-8":
        texts.append(decode(data, codec))
        return False
    if codec is not None:
        # and its strings: raw ASCII bytes inside UTF-16/32 text decode to CJK characters
        texts += (decode(data, codec), "\n".join(printable_strings(data)))
        return False
    texts.append("\n".join(printable_strings(data)))
    if data.startswith(SQLITE_MAGIC):
        texts.append(_sqlite_rows(data))
    for inner in payloads(data, budget):
        if depth >= MAX_DEPTH:
            if isinstance(inner, Fragment):  # what random bytes that look like a stream gave
                texts.append("\n".join(printable_strings(inner)))
                continue
            raise Unscannable(f"archives nested more than {MAX_DEPTH} deep")
        _collect(inner, budget, depth + 1, texts)
    return True


def _streams_in_text(data: bytes, budget: Budget, texts: list[str]) -> bool:
    """Whether text holds a compressed stream that decodes to its end (a zlib or bzip2 stream may
    have no NUL byte, so it passes for UTF-8; deflate can even be written in printable ASCII; a PDF
    may be all ASCII, its streams in ASCIIHex or ASCII85). Its payloads' texts go to ``texts``, so a
    value inside marks the file, which the view shows redacted: bytes that are not UTF-8 are
    replaced there (no stream of them survives), and hex, ASCII85 and base64 blobs are redacted
    whole (:mod:`codeward.privacy.decode`); a stream of valid UTF-8 bytes is the limit left (README).
    A fragment (a candidate that broke off) in ordinary text is prose that happens to look like a
    zlib header: ignored."""
    found = False
    # carved, not read by a format's strict reader: text with ``ustar`` at offset 257 is no archive
    streams = pdf_streams(data, budget) if data.startswith(b"%PDF-") else carve(data, budget, text=True)
    for inner in streams:
        if isinstance(inner, Fragment):
            continue
        found = True
        _collect(inner, budget, 1, texts)
    return found


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


def streamed_strings(f: BinaryIO, limit: int) -> Iterator[str]:
    """The printable strings of a binary file too large to hold at once, ``CHUNK`` bytes at a time,
    as texts of about ``CHUNK`` bytes each; a run cut at a chunk's end (in any of the encodings,
    NULs included) is carried into the next, up to :data:`MAX_RUN_CARRY` bytes."""
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


_PRINTABLE = frozenset(RUN_BYTES)
"""Bytes a string run of any encoding is made of: a block is never cut inside one (a UTF-32 or
EBCDIC token across a block's end would otherwise be read as two halves no rule matches)."""
